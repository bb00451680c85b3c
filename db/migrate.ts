// Applies db/migrations (plain .sql, forward-only) with node-pg-migrate.
import { join } from 'node:path';
import { Logger, runMigrations as runWorkerMigrations } from 'graphile-worker';
import { runner } from 'node-pg-migrate';
import { Database } from '../server/database/handle.ts';
import { withClient } from './client.ts';
import { projectRoot, SetupError } from './database.ts';
import { advisoryLockHolder, tryAdvisoryLock } from './sql/migrations-lock.ts';
import { dropSchemas, schemasPresent } from './sql/schemas.ts';
import { sweepScheduler } from './sql/sweep-scheduler.ts';
import { adoptedLacking, adoptedLastSeen, dropSettingsShim, installSettingsShim, needsSettingsShim, SETTINGS_SHIM_SCHEMA } from './sql/adoption.ts';

const silentWorkerLogger = new Logger(() => () => {});

export const MIGRATIONS_DIR = join(projectRoot, 'db', 'migrations');

export interface MigrateOptions {
  log?: (message: string) => void;
  /** Another folder of migrations (a test replays the landed files from git history). */
  dir?: string;
  /** Told once per holder while another migration holds the migrations lock; default a line on stderr. */
  onWait?: (message: string) => void;
  /** Told each NOTICE a migration raises (what a DBA should do next); default a line on stderr. */
  onNotice?: (message: string) => void;
}

/**
 * Installs or upgrades graphile-worker's own schema first (our functions enqueue its jobs), then runs every pending
 * migration of ours in one transaction; returns the names of those it applied. Runs one at a time per database,
 * under the migrations lock (takeMigrationsLock).
 *
 * A refused migration (a platform's tables that cannot be adopted, say) leaves the database as it found it:
 * node-pg-migrate makes its bookkeeping table before its transaction begins, and graphile-worker's schema is made
 * in transactions of its own, so what this run made of either is dropped again.
 */
export async function migrate(
  databaseUrl: string,
  {
    log = () => {},
    dir = MIGRATIONS_DIR,
    onWait = (m) => process.stderr.write(`${m}\n`),
    onNotice = (m) => process.stderr.write(`presence migrate: ${m}\n`),
  }: MigrateOptions = {},
): Promise<string[]> {
  // Ending the lock's session releases its advisory lock.
  return withClient(
    databaseUrl,
    async (client) => {
      const lock = new Database(client);
      await takeMigrationsLock(lock, onWait);
      return migrateLocked(lock, databaseUrl, dir, log, onNotice);
    },
    { applicationName: 'presence-migrate' },
  );
}

/** The migrations themselves, under the lock taken on `lock`'s connection (which also undoes a refused run). */
async function migrateLocked(
  lock: Database,
  databaseUrl: string,
  dir: string,
  log: (message: string) => void,
  onNotice: (message: string) => void,
): Promise<string[]> {
  const before = await schemasPresent(lock, [MIGRATIONS_SCHEMA, WORKER_SCHEMA, SETTINGS_SHIM_SCHEMA]);
  try {
    await runWorkerMigrations({ connectionString: databaseUrl, logger: silentWorkerLogger });
    const applied = await withClient(
      databaseUrl,
      async (client) => {
        const session = new Database(client);
        // What a migration says with RAISE NOTICE (SQLSTATE 00000), not PostgreSQL's "already exists, skipping".
        client.on('notice', (notice) => {
          if (notice.code === '00000') onNotice(notice.message ?? '');
        });
        // Before the first migration: the type the platform gave human_agents.last_seen, which 1795500000000 changes
        // and 1795500000420 gives back (presence.adopted_last_seen, a setting of this session only).
        const lastSeen = await adoptedLastSeen(session);
        if (lastSeen) await session.query(`select set_config('presence.adopted_last_seen', $1, false)`, [lastSeen]);
        // Which of status, last_seen, active_chats and max_chats it lacked (1795500000000 adds them, 1795500000430
        // takes them off again and keeps them in presence's own state): presence.adopted_lacking, an array.
        const lacking = await adoptedLacking(session);
        if (lacking) await session.query(`select set_config('presence.adopted_lacking', $1, false)`, [lacking]);
        // A role that may not read cron.database_name (managed PostgreSQL's owner): the landed 1795500000003 asks
        // for it, so this session finds a current_setting of ours first (db/sql/adoption.ts).
        const shim = await needsSettingsShim(session);
        if (shim) await installSettingsShim(session);
        try {
          return await runner({
            dbClient: client,
            dir,
            direction: 'up',
            migrationsTable: 'migrations',
            migrationsSchema: MIGRATIONS_SCHEMA,
            createMigrationsSchema: true,
            checkOrder: true,
            singleTransaction: true,
            // The lock is ours, taken above on a connection of its own.
            noLock: true,
            log,
            logger: { debug: () => {}, info: log, warn: log, error: log },
          });
        } finally {
          if (shim) await dropSettingsShim(session);
        }
      },
      { applicationName: 'presence-migrate' },
    );
    return applied.map((m) => m.name);
  } catch (error) {
    const made = [MIGRATIONS_SCHEMA, WORKER_SCHEMA, SETTINGS_SHIM_SCHEMA].filter((schema) => !before.has(schema));
    if (made.length) await dropSchemas(lock, made);
    throw error;
  }
}

/**
 * node-pg-migrate's advisory lock key. Advisory locks need no privilege: any role that can connect can take this
 * key, and node-pg-migrate would wait for it without a word. We take the same key (so a run of node-pg-migrate
 * itself and ours still exclude each other), but try it rather than wait: while a role that could run the
 * migrations (a superuser, or a member of the migrating role) holds it, we wait and say for whom; a role that could
 * not is not migrating, and we stop at once, naming its session.
 */
export const MIGRATIONS_LOCK_KEY = 7241865325823964n;
const LOCK_RETRY_MS = 250;

async function takeMigrationsLock(db: Database, onWait: (message: string) => void): Promise<void> {
  const key = MIGRATIONS_LOCK_KEY.toString();
  let waitingFor: number | null = null;
  for (;;) {
    if (await tryAdvisoryLock(db, MIGRATIONS_LOCK_KEY)) return;
    const holder = await advisoryLockHolder(db, MIGRATIONS_LOCK_KEY);
    if (holder && !holder.can_migrate) {
      throw new SetupError(
        `the migrations lock (advisory lock ${key}) is held by process ${holder.pid}, role ${holder.role ?? 'unknown'}` +
          `${holder.application ? `, application "${holder.application}"` : ''}${holder.client ? `, from ${holder.client}` : ''}` +
          `, which cannot run migrations: end that session (select pg_terminate_backend(${holder.pid})) and migrate again`,
      );
    }
    if (holder && holder.pid !== waitingFor) {
      waitingFor = holder.pid;
      onWait(
        `waiting for the migrations lock, held by process ${holder.pid} (role ${holder.role ?? 'unknown'}` +
          `${holder.application ? `, application "${holder.application}"` : ''}): another migration is running`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
  }
}

const WORKER_SCHEMA = 'graphile_worker';
const MIGRATIONS_SCHEMA = 'presence_migrations';

/** One line for people, after "sweep: " (callers print the label): which scheduler sweeps this database. */
export async function describeSweep(databaseUrl: string): Promise<string> {
  const s = await withClient(databaseUrl, (client) => sweepScheduler(new Database(client)));
  if (s.scheduler !== 'pg_cron') {
    return 'no pg_cron job sweeps this database; the worker (npm start, or npx presence worker) sweeps every minute. On managed PostgreSQL: npx presence cron install';
  }
  return `pg_cron job ${s.here ? 'presence-sweep' : `in database ${s.database_name}`}, schedule '${s.schedule}'${s.active ? '' : ' (paused)'}`;
}
