// `npx presence check`, the real bin, on a scratch database of its own that each test breaks in one way (and mends
// afterwards): a database as the migrations leave it passes; a revoked grant, a grant to PUBLIC, a migration not
// applied, a platform column gone, a sweep nobody schedules and presence's own column or index on the platform's table
// each fail, naming what is missing, with exit code 1.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../server/config.ts';
import { migratedScratchDatabase } from '../helpers/db.ts';

const run = promisify(execFile);

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  missing: string[];
}

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function presence(url: string, ...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(projectRoot, 'server', 'cli', 'bin.js'), ...args], {
      env: { ...process.env, DATABASE_URL: url },
      cwd: projectRoot,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as Result;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The checks that failed, by name, with what each says is missing. */
function failures(res: Result): Record<string, string[]> {
  const { checks } = JSON.parse(res.stdout) as { checks: Check[] };
  return Object.fromEntries(checks.filter((c) => !c.ok).map((c) => [c.name, c.missing]));
}

const HEARTBEATS = 'presence.heartbeats(presence.tenant_key[],presence.agent_key[],text[],text[],text[])';

describe('presence check', () => {
  let url: string;
  let db: pg.Pool;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ url, db, drop } = await migratedScratchDatabase('check'));
  }, 60_000);
  afterAll(() => drop?.());

  it('passes a database as the migrations leave it, where the platform runs the worker that sweeps', async () => {
    // Action
    const text = await presence(url, 'check', '--worker-sweeps');
    const json = await presence(url, 'check', '--worker-sweeps', '--json');

    // Assertions
    expect(text.code, text.stdout).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(':')[0])).toEqual([
      'ok    schemas',
      'ok    migrations',
      'ok    functions',
      'ok    grants',
      'ok    public',
      'ok    sweep',
      'ok    platform columns',
      'ok    platform tables',
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true });
  });

  it('fails when no pg_cron job sweeps and the worker is not said to, naming what to run', async () => {
    // Action
    const res = await presence(url, 'check', '--json');

    // Assertions
    expect(res.code).toBe(1);
    expect(failures(res)).toEqual({ sweep: [expect.stringMatching(/^no pg_cron job sweeps this database \(npx presence cron install/)] });
    expect(res.stderr).toMatch(/^presence: check failed: sweep$/m);
  });

  it('fails when presence_app cannot execute a function the request path calls, naming it', async () => {
    // Setup
    await db.query(`revoke execute on function ${HEARTBEATS} from presence_app`);
    try {
      // Action
      const res = await presence(url, 'check', '--worker-sweeps');

      // Assertions
      expect(res.code).toBe(1);
      expect(res.stdout).toContain(`FAIL  grants: missing presence_app: execute on ${HEARTBEATS}`);
      expect(res.stderr).toMatch(/check failed: grants$/m);
    } finally {
      await db.query(`grant execute on function ${HEARTBEATS} to presence_app`);
    }
  });

  it('fails when PUBLIC may execute a function of presence\'s, naming it', async () => {
    // Setup
    await db.query('grant execute on function presence.sweep_stale_agents(timestamptz) to public');
    try {
      // Action
      const res = await presence(url, 'check', '--worker-sweeps', '--json');

      // Assertions
      expect(res.code).toBe(1);
      expect(failures(res)).toEqual({ public: ['presence.sweep_stale_agents(timestamp with time zone)'] });
    } finally {
      await db.query('revoke execute on function presence.sweep_stale_agents(timestamptz) from public');
    }
  });

  it('fails when a migration is not applied, naming it', async () => {
    // Setup: the record of the newest migration is gone, as if it had not run.
    const { rows } = await db.query<{ id: number; name: string; run_on: Date }>(
      'delete from presence_migrations.migrations where id = (select max(id) from presence_migrations.migrations) returning *',
    );
    try {
      // Action
      const res = await presence(url, 'check', '--worker-sweeps', '--json');

      // Assertions
      expect(res.code).toBe(1);
      expect(failures(res)).toEqual({ migrations: [rows[0]!.name] });
    } finally {
      await db.query('insert into presence_migrations.migrations (id, name, run_on) values ($1, $2, $3)', [
        rows[0]!.id,
        rows[0]!.name,
        rows[0]!.run_on,
      ]);
    }
  });

  it('fails when a platform column presence reads is gone (renamed), naming it', async () => {
    // Setup
    await db.query('alter table public.human_agents rename column email to e_mail');
    try {
      // Action
      const res = await presence(url, 'check', '--worker-sweeps', '--json');

      // Assertions
      expect(res.code).toBe(1);
      expect(failures(res)).toEqual({
        'platform columns': ['human_agents.email is missing'],
      });
    } finally {
      await db.query('alter table public.human_agents rename column e_mail to email');
    }
  });

  it("fails when something of presence's is on the platform's table, naming it", async () => {
    // Setup: what presence's first migrations put on public.human_agents (left there: the database is dropped next).
    await db.query('alter table public.human_agents add column if not exists chosen_status text');
    await db.query(`create index if not exists human_agents_online_idx on public.human_agents (tenant_id) where status <> 'offline'`);

    // Action
    const res = await presence(url, 'check', '--worker-sweeps', '--json');

    // Assertions
    expect(res.code).toBe(1);
    expect(failures(res)).toEqual({ 'platform tables': ['column human_agents.chosen_status', 'index human_agents_online_idx'] });
  });
});

describe('presence check on the test database', () => {
  it('passes without --worker-sweeps where pg_cron sweeps', async () => {
    // Action
    const res = await presence(inject('databaseUrl'), 'check', '--json');

    // Assertions
    expect(failures(res)).toEqual({});
    expect(res.code).toBe(0);
  });
});
