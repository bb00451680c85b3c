// A private PostgreSQL cluster run from the machine's own server binaries, for `npm start` without
// DATABASE_URL and for the tests. pg_cron is preloaded when the machine has it. TCP connections need the owner's
// password (SCRAM), which initdb gets from a file next to the data folder that only this OS user can read.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, chownSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { generatePassword, readSecretFile, setRolePassword, writeSecretFile } from './password.ts';

const run = promisify(execFile);

export const DATABASE_NAME = 'presence';

export interface PgInstall {
  binDir: string;
  version: number;
  hasPgCron: boolean;
}

export interface Cluster {
  /** The owner's URL (user postgres, with its password) over TCP on 127.0.0.1. */
  url: string;
  port: number;
  dataDir: string;
  install: PgInstall;
  /** The server was running before startCluster (left by another process), rather than started by it. */
  wasRunning: boolean;
  /** Stops the server; `remove` also deletes the data folder. */
  stop(options?: { remove?: boolean }): Promise<void>;
}

/** Finds the newest PostgreSQL server binaries on the machine (Debian layout or `pg_config`). */
export async function findPgInstall(): Promise<PgInstall | null> {
  const candidates: string[] = [];
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debianRoot, v, 'bin')));
  }
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    candidates.push(stdout.trim());
  } catch {
    // no pg_config on PATH: the Debian layout above is all we can use
  }
  for (const binDir of candidates) {
    if (!existsSync(join(binDir, 'postgres')) || !existsSync(join(binDir, 'initdb'))) continue;
    const { stdout } = await run(join(binDir, 'postgres'), ['--version']);
    const version = Number(/(\d+)(?:\.\d+)?/.exec(stdout)?.[1] ?? 0);
    return { binDir, version, hasPgCron: await hasPgCron(binDir) };
  }
  return null;
}

async function hasPgCron(binDir: string): Promise<boolean> {
  try {
    const pgConfig = join(binDir, 'pg_config');
    const [lib, share] = existsSync(pgConfig)
      ? await Promise.all(['--pkglibdir', '--sharedir'].map(async (f) => (await run(pgConfig, [f])).stdout.trim()))
      : [join(binDir, '..', 'lib'), join('/usr/share/postgresql', binDir.split('/').at(-2) ?? '')];
    return existsSync(join(lib!, 'pg_cron.so')) && existsSync(join(share!, 'extension', 'pg_cron.control'));
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const isRoot = process.getuid?.() === 0;

/** PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` OS user. */
async function asServerUser(binary: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return isRoot ? run('runuser', ['-u', 'postgres', '--', binary, ...args]) : run(binary, args);
}

export function serverUserIds(): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!passwd) throw new Error('running as root needs a `postgres` OS user to run the database server as');
  const [, , uid, gid] = passwd.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export interface StartOptions {
  dataDir: string;
  /** Port to use when the cluster is created; an existing cluster keeps its own. */
  port?: number;
  /** Throwaway clusters trade durability for speed (fsync off). */
  ephemeral?: boolean;
  /** Fail instead of starting without pg_cron. */
  requirePgCron?: boolean;
  /**
   * The database pg_cron lives in (cron.database_name); default the project's own. `postgres` makes the cluster
   * look like managed PostgreSQL, where the app's database must be swept from there (npx presence cron install).
   */
  cronDatabase?: string;
}

/** Where the owner's password is kept: next to the data folder, mode 0600. */
export function passwordFile(dataDir: string): string {
  return `${dataDir}.password`;
}

/**
 * Creates the cluster on first use, (re)writes its settings, starts it unless it is already running and
 * makes sure the `presence` database exists. Returns the owner's connection URL over TCP on 127.0.0.1.
 */
export async function startCluster(options: StartOptions): Promise<Cluster> {
  const install = await findPgInstall();
  if (!install) {
    throw new Error('no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and pg_config --bindir)');
  }
  if (options.requirePgCron && !install.hasPgCron) {
    throw new Error(
      `pg_cron is not installed for PostgreSQL ${install.version} (apt-get install postgresql-${install.version}-cron)`,
    );
  }
  const { dataDir } = options;
  const logFile = join(dirname(dataDir), `${dataDir.split('/').at(-1)}.log`);
  mkdirSync(dirname(dataDir), { recursive: true });
  if (isRoot) {
    const { uid, gid } = serverUserIds();
    chownSync(dirname(dataDir), uid, gid);
    if (!existsSync(logFile)) writeFileSync(logFile, '');
    chownSync(logFile, uid, gid);
  }

  const portFile = join(dataDir, 'presence.port');
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await initCluster(install, dataDir);
    writeFileSync(join(dataDir, 'postgresql.conf'), "\ninclude_if_exists = 'presence.conf'\n", { flag: 'a' });
    writeFileSync(portFile, String(options.port ?? (await freePort())));
  }
  const port = Number(readFileSync(portFile, 'utf8'));
  writeFileSync(join(dataDir, 'presence.conf'), serverSettings(install, port, options.ephemeral ?? false, options.cronDatabase ?? DATABASE_NAME));

  const running = await asServerUser(join(install.binDir, 'pg_ctl'), ['-D', dataDir, 'status']).then(
    () => true,
    () => false,
  );
  if (!running) {
    try {
      await asServerUser(join(install.binDir, 'pg_ctl'), ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
    } catch (error) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`the local PostgreSQL cluster in ${dataDir} did not start:\n${log}`, { cause: error });
    }
  }

  const password = await requirePassword(dataDir, port);
  await ensureDatabase(dataDir, port, password);
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE_NAME}`,
    port,
    dataDir,
    install,
    wasRunning: running,
    async stop({ remove = false } = {}) {
      await stopCluster(dataDir, install);
      if (remove) {
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(logFile, { force: true });
        rmSync(passwordFile(dataDir), { force: true });
      }
    },
  };
}

/** initdb with a new owner password: peer on a local socket, SCRAM over TCP. */
async function initCluster(install: PgInstall, dataDir: string): Promise<void> {
  const password = generatePassword();
  writeSecretFile(passwordFile(dataDir), password);
  // initdb runs as the server's OS user, who cannot read our 0600 file when we are root: it gets a copy of its
  // own for the moment initdb reads it.
  const pwfile = isRoot ? `${passwordFile(dataDir)}.initdb` : passwordFile(dataDir);
  if (isRoot) {
    writeSecretFile(pwfile, password);
    const { uid, gid } = serverUserIds();
    chownSync(pwfile, uid, gid);
  }
  try {
    await asServerUser(join(install.binDir, 'initdb'), [
      '-D', dataDir, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-local=peer', '--auth-host=scram-sha-256',
      '--encoding=UTF8', '--no-locale', '--no-sync',
    ]);
  } finally {
    if (isRoot) rmSync(pwfile, { force: true });
  }
}

/** pg_hba.conf of a cluster of ours: peer on a local socket (when there is one), the password over TCP. */
export const PASSWORD_HBA = `# Written by agent-presence (db/cluster.ts): the password (SCRAM) over TCP, peer on a local socket.
local   all          all                     peer
local   replication  all                     peer
host    all          all    127.0.0.1/32     scram-sha-256
host    all          all    ::1/128          scram-sha-256
host    replication  all    127.0.0.1/32     scram-sha-256
host    replication  all    ::1/128          scram-sha-256
`;

/** Does pg_hba.conf in dataDir let anyone in without a password (a cluster made by an earlier version)? */
export function trustsConnections(dataDir: string): boolean {
  return readFileSync(join(dataDir, 'pg_hba.conf'), 'utf8')
    .split('\n')
    .some((line) => !line.trim().startsWith('#') && line.trim().split(/\s+/).includes('trust'));
}

/**
 * The owner's password of the running cluster. A cluster made by an earlier version of this project trusts every
 * local connection: it gets a password now (kept in the password file), then pg_hba.conf asks for it over TCP.
 */
async function requirePassword(dataDir: string, port: number): Promise<string> {
  if (!trustsConnections(dataDir)) {
    const password = readSecretFile(passwordFile(dataDir));
    if (!password) {
      throw new Error(
        `the local cluster in ${dataDir} asks for a password, and its password file ${passwordFile(dataDir)} is missing: ` +
          `stop it (npm run db:stop) and delete ${dataDir} to start afresh`,
      );
    }
    return password;
  }
  // Still trust: connect once without a password to set one, then switch TCP to SCRAM. Rerunning after a crash in
  // between reuses the password already written.
  const password = readSecretFile(passwordFile(dataDir)) ?? generatePassword();
  writeSecretFile(passwordFile(dataDir), password);
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    await setRolePassword(client, 'postgres', password);
    writeFileSync(join(dataDir, 'pg_hba.conf'), PASSWORD_HBA);
    await client.query('select pg_reload_conf()');
  } finally {
    await client.end();
  }
  return password;
}

/** Stops the cluster in dataDir if it runs; returns whether it did. */
export async function stopCluster(dataDir: string, install?: PgInstall | null): Promise<boolean> {
  const found = install ?? (await findPgInstall());
  if (!found || !existsSync(join(dataDir, 'postmaster.pid'))) return false;
  return asServerUser(join(found.binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', 'stop']).then(
    () => true,
    () => false,
  );
}

function serverSettings(install: PgInstall, port: number, ephemeral: boolean, cronDatabase: string): string {
  const lines = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    'max_connections = 200',
    'max_worker_processes = 32',
  ];
  if (install.hasPgCron) {
    lines.push(
      "shared_preload_libraries = 'pg_cron'",
      `cron.database_name = '${cronDatabase}'`,
      // A socket-less private cluster: jobs run in background workers, not over a libpq connection.
      'cron.use_background_workers = on',
      'cron.max_running_jobs = 8',
    );
  }
  if (ephemeral) lines.push('fsync = off', 'full_page_writes = off', 'synchronous_commit = off');
  return `${lines.join('\n')}\n`;
}

async function ensureDatabase(dataDir: string, port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  try {
    await client.connect();
  } catch (error) {
    if ((error as { code?: string }).code === '28P01') {
      throw new Error(`the password in ${passwordFile(dataDir)} is not the owner's password of the cluster in ${dataDir}`, {
        cause: error,
      });
    }
    throw error;
  }
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [DATABASE_NAME]);
    if (!rowCount) await client.query(`create database ${DATABASE_NAME}`);
  } finally {
    await client.end();
  }
}
