// Managed PostgreSQL (RDS, Cloud SQL, Azure, Supabase, Neon) keeps pg_cron in the database named by
// cron.database_name, usually `postgres`, not the app's. Here a cluster of the test's own is set up that way:
// the migrations cannot schedule the sweep, `npx presence cron install` schedules it from the pg_cron database with
// cron.schedule_in_database, pg_cron then really sweeps the app's database, and `npx presence cron` shows the job and
// its runs where they live.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../db/cluster.ts';
import { projectRoot } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';

const run = promisify(execFile);

let folder: string;
let cluster: Cluster;
let app: pg.Pool;
let cronDb: pg.Pool;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'presence-cron-elsewhere-'));
  cluster = await startCluster({ dataDir: join(folder, 'pg'), ephemeral: true, requirePgCron: true, cronDatabase: 'postgres' });
  const cronUrl = new URL(cluster.url);
  cronUrl.pathname = '/postgres';
  cronDb = new pg.Pool({ connectionString: cronUrl.toString(), max: 2 });
  await cronDb.query('create extension if not exists pg_cron');
  await migrate(cluster.url);
  app = new pg.Pool({ connectionString: cluster.url, max: 2 });
}, 60_000);

afterAll(async () => {
  await app?.end();
  await cronDb?.end();
  await cluster?.stop({ remove: true });
  if (folder) rmSync(folder, { recursive: true, force: true });
});

async function presence(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(projectRoot, 'server', 'cli', 'bin.js'), ...args], {
      env: { ...process.env, DATABASE_URL: cluster.url },
      cwd: projectRoot,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('pg_cron in another database of the server', () => {
  it('cannot be scheduled by the migrations, so the worker sweeps until someone installs the job', async () => {
    // Action
    const { rows } = await app.query('select scheduler from presence.sweep_scheduler()');
    const local = await app.query(`select 1 from pg_extension where extname = 'pg_cron'`);

    // Assertions
    expect(rows[0].scheduler).toBe('graphile-worker');
    expect(local.rowCount).toBe(0);
  });

  it('npx presence cron install schedules presence-sweep there for this database, and pg_cron really sweeps it', async () => {
    // Setup: a silent agent, as a platform would have one
    const tenant = (await app.query(`insert into tenants (name) values ('Acme') returning id`)).rows[0].id;
    const agent = (
      await app.query(`insert into human_agents (tenant_id, name, email) values ($1, 'Jo', 'jo@acme.test') returning id`, [tenant])
    ).rows[0].id;
    await app.query(`select presence.heartbeat($1, $2, 'tab-1')`, [tenant, agent]);
    await app.query(
      `update presence_private.agent_state set last_seen = last_seen - interval '10 minutes', status_since = status_since - interval '10 minutes'
        where agent_id = $1`,
      [agent],
    );

    // Action
    const installed = await presence('cron', 'install', '--json');

    // Assertions: the job, where managed PostgreSQL keeps it, for this database
    expect(installed.code).toBe(0);
    expect(JSON.parse(installed.stdout)).toEqual({ job: 'presence-sweep:presence', database: 'postgres', schedule: '* * * * *', sweeps: 'presence' });
    const { rows: jobs } = await cronDb.query(`select jobname, schedule, command, database from cron.job`);
    expect(jobs).toEqual([
      { jobname: 'presence-sweep:presence', schedule: '* * * * *', command: 'select presence.sweep_stale_agents()', database: 'presence' },
    ]);
    const { rows: scheduler } = await app.query('select scheduler, database_name from presence.sweep_scheduler()');
    expect(scheduler).toEqual([{ scheduler: 'pg_cron', database_name: 'postgres' }]);

    // pg_cron runs it at the next minute: the agent goes offline with no other sweeper around.
    const deadline = Date.now() + 75_000;
    let status = 'available';
    while (status !== 'offline' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      status = (await app.query('select status from human_agents where id = $1', [agent])).rows[0].status;
    }
    expect(status).toBe('offline');
    const { rows: runs } = await cronDb.query(
      `select d.status from cron.job_run_details d join cron.job j using (jobid) where j.jobname = 'presence-sweep:presence'`,
    );
    expect(runs.map((r) => r.status)).toContain('succeeded');
  }, 90_000);

  it('npx presence cron shows that job and its runs from the app database', async () => {
    // Action
    const shown = await presence('cron', '--json');

    // Assertions
    expect(shown.code).toBe(0);
    const result = JSON.parse(shown.stdout);
    expect(result).toMatchObject({ scheduler: 'pg_cron', database: 'postgres', job: 'presence-sweep:presence', schedule: '* * * * *' });
    expect(result.runs.map((r: { status: string }) => r.status)).toContain('succeeded');
    expect(result.lastRun).not.toBeNull();
  });

  it('npx presence cron uninstall removes the job and hands the sweep back to the worker', async () => {
    // Action
    const removed = await presence('cron', 'uninstall', '--json');

    // Assertions
    expect(removed.code).toBe(0);
    expect((await cronDb.query(`select 1 from cron.job`)).rowCount).toBe(0);
    expect((await app.query('select scheduler from presence.sweep_scheduler()')).rows[0].scheduler).toBe('graphile-worker');
  });
});
