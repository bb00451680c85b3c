// Applies db/migrations (plain .sql, forward-only) with node-pg-migrate.
import { join } from 'node:path';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { runner } from 'node-pg-migrate';
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
