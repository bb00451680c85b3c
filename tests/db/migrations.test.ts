import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { testPool } from '../helpers/db.ts';

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
});
