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
 * Installs graphile-worker's own schema first (our migrations enqueue its jobs from SQL), then runs every
 * pending migration of ours in one transaction; returns the names of those it applied.
 */
export async function migrate(databaseUrl: string, { log = () => {}, dir = MIGRATIONS_DIR }: MigrateOptions = {}): Promise<string[]> {
  await runWorkerMigrations({ connectionString: databaseUrl, logger: silentWorkerLogger });
  const applied = await runner({
    databaseUrl,
    dir,
    direction: 'up',
    migrationsTable: 'migrations',
    migrationsSchema: 'presence_migrations',
    createMigrationsSchema: true,
    checkOrder: true,
    singleTransaction: true,
    advisoryLockMode: 'wait',
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return applied.map((m) => m.name);
}

/** One line for people: which scheduler sweeps this database (after the migrations). */
export async function describeSweep(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ scheduler: string; schedule: string; active: boolean; database_name: string; here: boolean }>(
      'select s.*, s.database_name = current_database() as here from presence.sweep_scheduler() s',
    );
    const s = rows[0]!;
    if (s.scheduler !== 'pg_cron') {
      return 'sweep: no pg_cron job sweeps this database; the worker (npm start, or npx presence worker) sweeps every minute. On managed PostgreSQL: npx presence cron install';
    }
    return `sweep: pg_cron job ${s.here ? 'presence-sweep' : `in database ${s.database_name}`}, schedule '${s.schedule}'${s.active ? '' : ' (paused)'}`;
  } finally {
    await client.end();
  }
}
