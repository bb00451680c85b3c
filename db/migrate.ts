// Applies db/migrations (plain .sql, forward-only) with node-pg-migrate.
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import { projectRoot } from '../server/config.ts';

export interface MigrateOptions {
  log?: (message: string) => void;
}

/** Runs every pending migration in one transaction; returns the names of those it applied. */
export async function migrate(databaseUrl: string, { log = () => {} }: MigrateOptions = {}): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: join(projectRoot, 'db', 'migrations'),
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
