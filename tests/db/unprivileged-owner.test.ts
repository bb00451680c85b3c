// Managed PostgreSQL: the database belongs to a role that is no superuser and may not read superuser-only settings
// (no pg_read_all_settings); the provider created pg_cron in this database (cron.database_name names it) and granted
// the owner usage on schema cron. Here a cluster of the test's own is set up that way. The owner needs LOGIN and
// CREATEROLE (1795500000002 makes and comments the roles presence_app and presence_analyst) and owns the database;
// nothing else. It migrates cleanly and the sweep is scheduled with pg_cron, although the landed 1795500000003 asks
// for cron.database_name, which PostgreSQL refuses to it even with missing_ok. Without pg_cron on the machine (never
// in CI, where the cluster requires it) the migration runs and the tests of the schedule are skipped.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../db/cluster.ts';
import { MIGRATIONS_DIR, migrate } from '../../db/migrate.ts';
import { Database } from '../../server/database/handle.ts';
import { cronDatabase } from '../../server/cli/sql/pg-cron.ts';
import { loadConfig } from '../../server/config.ts';
import { findPgInstall } from '../../db/cluster.ts';

const DATABASE = 'managed';
const OWNER = 'managed_owner';
const password = randomBytes(18).toString('base64url');
const withPgCron = loadConfig().ci || Boolean((await findPgInstall())?.hasPgCron);

let folder: string;
let cluster: Cluster;
let ownerUrl: string;
let owner: pg.Client;
let applied: string[];

function urlOf(database: string, user?: string, pass?: string): string {
  const url = new URL(cluster.url);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user;
    url.password = pass!;
  }
  return url.toString();
}

async function asSuperuser(database: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlOf(database) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  // Setup: what the provider does.
  folder = mkdtempSync(join(tmpdir(), 'presence-unprivileged-'));
  cluster = await startCluster({ dataDir: join(folder, 'pg'), ephemeral: true, requirePgCron: withPgCron, cronDatabase: DATABASE });
  await asSuperuser('postgres', `create role ${OWNER} login createrole password ${pg.escapeLiteral(password)}`);
  await asSuperuser('postgres', `create database ${DATABASE} owner ${OWNER}`);
  if (withPgCron) await asSuperuser(DATABASE, `create extension pg_cron; grant usage on schema cron to ${OWNER}`);
  ownerUrl = urlOf(DATABASE, OWNER, password);

  // Action
  applied = await migrate(ownerUrl);
  owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
}, 120_000);

afterAll(async () => {
  await owner?.end();
  await cluster?.stop({ remove: true });
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('a database owner that is no superuser, with pg_cron created by the provider', () => {
  it.runIf(withPgCron)('may not read cron.database_name: PostgreSQL refuses it even with missing_ok', async () => {
    // Action
    const error = await owner
      .query(`select current_setting('cron.database_name', true)`)
      .then(() => null, (e: { code: string }) => e);
    const { rows } = await owner.query(
      `select rolsuper, pg_has_role(current_user, 'pg_read_all_settings', 'usage') as reads_settings
         from pg_roles where rolname = current_user`,
    );

    // Assertions
    expect(error).toMatchObject({ code: '42501' });
    expect(rows).toEqual([{ rolsuper: false, reads_settings: false }]);
  });

  it('migrates cleanly and leaves no stand-in for current_setting behind', async () => {
    // Action
    const { rows } = await owner.query(`select nspname from pg_namespace where nspname like 'presence%' order by 1`);

    // Assertions
    expect(applied).toEqual(
      readdirSync(MIGRATIONS_DIR)
        .filter((f) => f.endsWith('.sql'))
        .sort()
        .map((f) => f.replace(/\.sql$/, '')),
    );
    expect(rows.map((r) => r.nspname)).toEqual(['presence', 'presence_accounts', 'presence_crypto', 'presence_migrations', 'presence_private']);
    expect((await owner.query('show search_path')).rows[0].search_path).toBe('"$user", public');
  });

  it.runIf(withPgCron)('gets the sweep scheduled with pg_cron in its database, as its own job', async () => {
    // Action
    const { rows: scheduler } = await owner.query('select scheduler, database_name, active from presence.sweep_scheduler()');
    const { rows: jobs } = await owner.query(`select jobname, username, command from cron.job where jobname = 'presence-sweep'`);

    // Assertions
    expect(scheduler).toEqual([{ scheduler: 'pg_cron', database_name: DATABASE, active: true }]);
    expect(jobs).toEqual([{ jobname: 'presence-sweep', username: OWNER, command: 'select presence.sweep_stale_agents()' }]);
  });

  it.runIf(withPgCron)('npx presence cron finds pg_cron here without the superuser-only setting', async () => {
    // Action / Assertions
    expect(await cronDatabase(new Database(owner))).toEqual({ cronDb: DATABASE, here: DATABASE });
  });
});
