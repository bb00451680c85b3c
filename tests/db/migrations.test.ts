import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { migrate, MIGRATIONS_LOCK_KEY } from '../../db/migrate.ts';
import { testPool } from '../helpers/db.ts';

/** A session of `url` holding the migrations' advisory lock, as node-pg-migrate takes it. */
async function holdMigrationsLock(url: string, application: string): Promise<{ pid: number; release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url, application_name: application });
  await client.connect();
  await client.query('select pg_advisory_lock($1::bigint)', [MIGRATIONS_LOCK_KEY.toString()]);
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
  return { pid, release: () => client.end() };
}

describe('npm run db:migrate', () => {
  it('a second run on a migrated database changes nothing', async () => {
    // Setup
    const db = testPool(1);
    const fingerprint = async () =>
      (
        await db.query(
          `select md5(string_agg(x, ',' order by x)) as f from (
             select p.oid::regprocedure::text || md5(p.prosrc) as x from pg_proc p
               join pg_namespace n on n.oid = p.pronamespace where n.nspname like 'presence%'
             union all select c.oid::regclass::text from pg_class c
               join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('public', 'presence', 'presence_private', 'presence_accounts')
             union all select jobname || schedule from cron.job) s`,
        )
      ).rows[0].f;
    const before = await fingerprint();

    // Action
    const applied = await migrate(inject('databaseUrl'));

    // Assertions
    expect(applied).toEqual([]);
    expect(await fingerprint()).toBe(before);
    await db.end();
  });

  it('stops at once, naming the session, when a role that cannot migrate holds the migrations lock', async () => {
    // Setup: a login role with no grants (CONNECT aside) holding node-pg-migrate's advisory lock.
    const owner = testPool(1);
    const role = `no_grants_${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const base = new URL(inject('databaseUrl'));
    await owner.query(`create role ${role} login password 'pw'`);
    await owner.query(`grant connect on database ${pg.escapeIdentifier(base.pathname.slice(1))} to ${role}`);
    const as = new URL(base);
    as.username = role;
    as.password = 'pw';
    const holder = await holdMigrationsLock(as.toString(), 'squatter');

    try {
      // Action
      const refused = await migrate(inject('databaseUrl')).catch((error: Error) => error);

      // Assertions
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toMatch(
        new RegExp(`held by process ${holder.pid}, role ${role}, application "squatter".*cannot run migrations`),
      );
    } finally {
      await holder.release();
      await owner.query(`revoke connect on database ${pg.escapeIdentifier(base.pathname.slice(1))} from ${role}`);
      await owner.query(`drop role ${role}`);
      await owner.end();
    }
  });

  it('waits for another migration (a role that can migrate holds the lock), saying for whom, and runs after it', async () => {
    // Setup: the owner holds the lock, as a concurrent migration would.
    const holder = await holdMigrationsLock(inject('databaseUrl'), 'other-migration');
    const said: string[] = [];

    // Action
    let settled = false;
    const run = migrate(inject('databaseUrl'), { onWait: (m) => said.push(m) }).finally(() => {
      settled = true;
    });
    while (said.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    const settledWhileHeld = settled;
    await holder.release();

    // Assertions
    expect(settledWhileHeld).toBe(false);
    expect(said[0]).toMatch(new RegExp(`waiting for the migrations lock, held by process ${holder.pid} .*"other-migration"`));
    expect(await run).toEqual([]);
  });
});

