// Every SQL snippet of the README's "For DBAs" and "For analysts" sections, run as the role it is written for: the
// owner for the DBA's, presence_analyst for the analyst's. A snippet that no longer runs fails here, not in front
// of a reader. Each runs in a transaction that is rolled back.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../db/database.ts';
import { testPool } from '../helpers/db.ts';

const db = testPool(2);
afterAll(() => db.end());

function snippets(section: string): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README.md has no section "${section}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** The sweep's pg_cron job as a snippet leaves it (read in the snippet's transaction, before the rollback). */
const SWEEP_JOB = `select schedule, active from cron.job where jobname = 'presence-sweep'`;

async function runAs(role: string | null, sql: string): Promise<Array<{ schedule: string; active: boolean }>> {
  const client = await db.connect();
  try {
    await client.query('begin');
    if (role) await client.query(`set local role ${role}`);
    await client.query(sql);
    if (role) await client.query('reset role');
    return (await client.query(SWEEP_JOB)).rows;
  } finally {
    await client.query('rollback');
    client.release();
  }
}

describe('the README', () => {
  const dba = snippets('For DBAs');
  const analyst = snippets('For analysts');

  it('has SQL for DBAs and for analysts', () => {
    expect(dba.length).toBeGreaterThanOrEqual(6);
    expect(analyst.length).toBeGreaterThanOrEqual(4);
  });

  it.each(dba.map((sql) => [sql.split('\n')[0]!, sql]))(
    'DBA snippet runs as the owner and leaves the sweep\'s schedule as it found it: %s',
    async (_title, sql) => {
      // Setup
      const before = (await db.query(SWEEP_JOB)).rows;

      // Action
      const after = await runAs(null, sql);

      // Assertions
      expect(before).toHaveLength(1);
      expect(after).toEqual(before);
    },
  );

  it.each(analyst.map((sql) => [sql.split('\n')[0]!, sql]))('analyst snippet runs as presence_analyst: %s', async (_title, sql) => {
    await expect(runAs('presence_analyst', sql)).resolves.toBeDefined();
  });
});

describe('the README\'s timeouts for login roles', () => {
  it('sets them on the login roles, where they take effect, and not on the NOLOGIN group roles', async () => {
    // Setup
    const snippet = snippets('For DBAs').find((sql) => sql.includes('alter role platform_presence set'));
    const client = await db.connect();
    try {
      await client.query('begin');

      // Action
      await client.query(snippet!);
      const { rows } = await client.query<{ role: string; settings: string[] }>(
        `select r.rolname as role, s.setconfig as settings from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
          where r.rolname in ('platform_presence', 'jane', 'presence_app', 'presence_analyst') order by 1`,
      );

      // Assertions
      expect(rows).toEqual([
        { role: 'jane', settings: ['statement_timeout=5min', 'idle_in_transaction_session_timeout=1min'] },
        {
          role: 'platform_presence',
          settings: ['statement_timeout=5s', 'lock_timeout=2s', 'idle_in_transaction_session_timeout=10s'],
        },
      ]);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});
