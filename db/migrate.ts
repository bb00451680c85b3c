// Applies db/migrations (plain .sql, forward-only) with node-pg-migrate.
import { join } from 'node:path';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { projectRoot } from './database.ts';

const silentWorkerLogger = new Logger(() => () => {});

export const MIGRATIONS_DIR = join(projectRoot, 'db', 'migrations');

export interface MigrateOptions {
  log?: (message: string) => void;
  /** Another folder of migrations (a test replays the landed files from git history). */
  dir?: string;
}

/**
 * Installs or upgrades graphile-worker's own schema first (our functions enqueue its jobs), then runs every pending
 * migration of ours in one transaction; returns the names of those it applied.
 *
 * A refused migration (a platform's tables that cannot be adopted, say) leaves the database as it found it:
 * node-pg-migrate makes its bookkeeping table before its transaction begins, and graphile-worker's schema is made
 * in transactions of its own, so what this run made of either is dropped again.
 */
export async function migrate(databaseUrl: string, { log = () => {}, dir = MIGRATIONS_DIR }: MigrateOptions = {}): Promise<string[]> {
  const before = await schemasPresent(databaseUrl);
  try {
    await runWorkerMigrations({ connectionString: databaseUrl, logger: silentWorkerLogger });
    const applied = await runner({
      databaseUrl,
      dir,
      direction: 'up',
      migrationsTable: 'migrations',
      migrationsSchema: MIGRATIONS_SCHEMA,
      createMigrationsSchema: true,
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      log,
      logger: { debug: () => {}, info: log, warn: log, error: log },
    });
    return applied.map((m) => m.name);
  } catch (error) {
    const made = [MIGRATIONS_SCHEMA, WORKER_SCHEMA].filter((schema) => !before.has(schema));
    if (made.length) await withClient(databaseUrl, (c) => c.query(`drop schema if exists ${made.join(', ')} cascade`));
    throw error;
  }
}

const WORKER_SCHEMA = 'graphile_worker';
const MIGRATIONS_SCHEMA = 'presence_migrations';

async function schemasPresent(databaseUrl: string): Promise<Set<string>> {
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ nspname: string }>(`select nspname from pg_namespace where nspname = any ($1)`, [
      [MIGRATIONS_SCHEMA, WORKER_SCHEMA],
    ]);
    return new Set(rows.map((r) => r.nspname));
  });
}

async function withClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One line for people, after "sweep: " (callers print the label): which scheduler sweeps this database. */
export async function describeSweep(databaseUrl: string): Promise<string> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ scheduler: string; schedule: string; active: boolean; database_name: string; here: boolean }>(
      'select s.*, s.database_name = current_database() as here from presence.sweep_scheduler() s',
    );
    const s = rows[0]!;
    if (s.scheduler !== 'pg_cron') {
      return 'no pg_cron job sweeps this database; the worker (npm start, or npx presence worker) sweeps every minute. On managed PostgreSQL: npx presence cron install';
    }
    return `pg_cron job ${s.here ? 'presence-sweep' : `in database ${s.database_name}`}, schedule '${s.schedule}'${s.active ? '' : ' (paused)'}`;
  });
}
