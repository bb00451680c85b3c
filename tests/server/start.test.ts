// npm start as a newcomer meets it: a fresh data folder, the demo tenant, sign-in, a beat, a clean stop; and as
// operations meet it: a crashed run's cluster, two starts on one folder, a busy port, who can reach the server
// and the cluster.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { findPgInstall, startCluster, stopCluster } from '../../db/cluster.ts';
import { runningPostmaster } from '../../db/owner.ts';
import { projectRoot } from '../../server/config.ts';
import { DEMO_PASSWORD } from '../../server/seed.ts';
import { signalStarted, startCommand } from '../helpers/npm.ts';

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) {
    // A cluster a failed test left running must not outlive the run.
    await stopCluster(join(folder, 'postgres'));
    rmSync(folder, { recursive: true, force: true });
  }
});

const hasPostgres = existsSync('/usr/lib/postgresql');

function dataFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'presence-start-'));
  folders.push(folder);
  return folder;
}

interface Started {
  child: ChildProcess;
  env: NodeJS.ProcessEnv;
  url: string;
  output: () => string;
}

function spawnMain(env: Record<string, string>): { child: ChildProcess; env: NodeJS.ProcessEnv; stdout: () => string; stderr: () => string } {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const childEnv = { ...inherited, PORT: '0', LOG_LEVEL: 'warn', ...env };
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return { child, env: childEnv, stdout: () => stdout, stderr: () => stderr };
}

async function npmStart(env: Record<string, string>, dataDir = dataFolder()): Promise<Started> {
  const { child, env: childEnv, stdout, stderr } = spawnMain({ PRESENCE_DATA_DIR: dataDir, ...env });
  const output = () => stdout() + stderr();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output()}`)), 90_000);
    const check = () => {
      const match = /is up at (http:\/\/\S+)/.exec(stdout());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output()}`)));
  });
  return { child, env: childEnv, url, output };
}

async function stop(started: Started, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', resolve));
  started.child.kill(signal);
  return exited;
}

async function demoAgentBeats(url: string): Promise<string> {
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'sam.rivera@example.com', password: DEMO_PASSWORD }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const beat = await fetch(`${url}/api/auth/heartbeat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ sessionId: 'start-test' }),
  });
  return ((await beat.json()) as { status: string }).status;
}

/** Resolves with the error code of a TCP connection to host:port, or 'connected'. */
async function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('ETIMEDOUT');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function nonLoopbackAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
}

describe('npm start', () => {
  it.skipIf(!hasPostgres)(
    'brings up the local cluster with the demo tenant and shuts down cleanly on SIGINT, stopping the cluster',
    async () => {
      // Setup
      const started = await npmStart({});
      const install = await findPgInstall();

      // Action
      const status = await demoAgentBeats(started.url);
      const agents = await fetch(`${started.url}/healthz`);
      const code = await stop(started);

      // Assertions
      expect(status).toBe('available');
      expect(agents.status).toBe(200);
      expect(started.output()).toMatch(/database: +local PostgreSQL \d+ cluster/);
      expect(started.output()).toMatch(install?.hasPgCron ? /sweep: +pg_cron job presence-sweep/ : /sweep: +graphile-worker/);
      expect(started.output()).toMatch(/jordan\.lee@example\.com/);
      expect(started.output()).toMatch(/Jordan Lee is stuck "available"/);
      expect(code, started.output()).toBe(0);
      const dataDir = /cluster in (\S+)/.exec(started.output())![1]!;
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    },
    120_000,
  );

  it.skipIf(!hasPostgres)(
    'takes over the cluster a crashed run left running, and stops it on Ctrl-C; the demo seeded by the first tells no ghost story again',
    async () => {
      // Setup
      const dataDir = dataFolder();
      const crashed = await npmStart({}, dataDir);
      expect(await stop(crashed, 'SIGKILL')).toBe(null);
      const leftRunning = runningPostmaster(join(dataDir, 'postgres'));

      // Action
      const started = await npmStart({}, dataDir);
      const status = await demoAgentBeats(started.url);
      const code = await stop(started);

      // Assertions
      expect(leftRunning).not.toBe(null);
      expect(started.output()).toMatch(/left running by an earlier run: taken over, stopped on exit/);
      expect(crashed.output()).toMatch(/Jordan Lee is stuck "available"/);
      expect(started.output()).not.toMatch(/Jordan Lee is stuck/);
      expect(status).toBe('available');
      expect(code, started.output()).toBe(0);
      expect(runningPostmaster(join(dataDir, 'postgres'))).toBe(null);
      expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    },
    180_000,
  );

  it.skipIf(!hasPostgres)(
    'leaves the cluster to the npm start that runs it: a second one says so and stops without stopping it',
    async () => {
      // Setup
      const dataDir = dataFolder();
      const first = await npmStart({}, dataDir);

      // Action
      const second = await npmStart({}, dataDir);
      const secondCode = await stop(second);
      const runningAfterSecond = runningPostmaster(join(dataDir, 'postgres'));
      const firstStillServes = await fetch(`${first.url}/healthz`);
      const firstCode = await stop(first);

      // Assertions
      expect(second.output()).toContain(`run by npm start (pid ${first.child.pid}): left running on exit`);
      expect(secondCode, second.output()).toBe(0);
      expect(runningAfterSecond).not.toBe(null);
      expect(firstStillServes.status).toBe(200);
      expect(firstCode, first.output()).toBe(0);
      expect(runningPostmaster(join(dataDir, 'postgres'))).toBe(null);
    },
    180_000,
  );

  it.skipIf(!hasPostgres)(
    'on a busy port says so in one line and exits with 1, stopping the cluster it started',
    async () => {
      // Setup
      const busy: Server = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      const port = (busy.address() as { port: number }).port;
      const dataDir = dataFolder();

      // Action
      const run = spawnMain({ PRESENCE_DATA_DIR: dataDir, PORT: String(port) });
      const code = await new Promise<number | null>((resolve) => run.child.once('exit', resolve));
      busy.close();

      // Assertions
      expect(code, run.stdout() + run.stderr()).toBe(1);
      expect(run.stderr().trim()).toBe(`port ${port} is in use: set PORT to a free port`);
      expect(runningPostmaster(join(dataDir, 'postgres'))).toBe(null);
    },
    120_000,
  );

  it(
    'in development listens on 127.0.0.1 only: the machine\'s other addresses refuse the connection',
    async () => {
      // Setup
      const started = await npmStart({ DATABASE_URL: inject('databaseUrl'), NODE_ENV: 'development' });
      const port = Number(new URL(started.url).port);
      const other = nonLoopbackAddress();

      // Action
      const loopback = await tcpConnect('127.0.0.1', port);
      const outside = other ? await tcpConnect(other, port) : null;
      const code = await stop(started);

      // Assertions
      expect(started.url).toBe(`http://127.0.0.1:${port}`);
      expect(loopback).toBe('connected');
      if (other) expect(outside).toBe('ECONNREFUSED');
      expect(code, started.output()).toBe(0);
    },
    120_000,
  );

  it(
    'falls back to embedded PostgreSQL, where graphile-worker runs the sweep',
    async () => {
      // Setup
      const started = await npmStart({ PRESENCE_EMBEDDED_POSTGRES: 'true' });

      // Action
      const status = await demoAgentBeats(started.url);
      const cli = await promisify(execFile)(process.execPath, [join(projectRoot, 'server', 'cli', 'bin.js'), 'status', '--json'], {
        env: { ...started.env, PRESENCE_EMBEDDED_POSTGRES: 'true' },
      });
      const code = await stop(started);

      // Assertions
      expect(status).toBe('available');
      expect(started.output()).toMatch(/database: +embedded PostgreSQL/);
      expect(started.output()).toMatch(/sweep: +graphile-worker cron in this process/);
      expect(JSON.parse(cli.stdout).agents.map((a: { email: string }) => a.email)).toContain('sam.rivera@example.com');
      expect(code, started.output()).toBe(0);
    },
    120_000,
  );
});

/** Signs in as a demo agent and opens the team's live stream; resolves `ended` when the server ends it. */
async function openStream(url: string): Promise<{ ended: Promise<boolean> }> {
  const login = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'sam.rivera@example.com', password: DEMO_PASSWORD }),
  });
  expect(login.status).toBe(200);
  const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
  const stream = await fetch(`${url}/api/agents/stream`, { headers: { cookie } });
  expect(stream.status).toBe(200);
  const reader = stream.body!.getReader();
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
      return true;
    } catch {
      return false;
    }
  })();
  return { ended };
}

describe('npm start, signalled by the pid that was started (npm\'s), as a supervisor or Docker does', () => {
  for (const [signal, processes] of [
    ['SIGTERM', '1'],
    ['SIGINT', '1'],
    ['SIGTERM', '2'],
  ] as const) {
    it.skipIf(!hasPostgres)(
      `stops on ${signal} to npm's pid with WEB_CONCURRENCY=${processes}: streams end, "stopped" is logged, the port and the cluster it started are closed`,
      async () => {
        // Setup
        const dataDir = dataFolder();
        const started = await startCommand('npm', ['start'], { PRESENCE_DATA_DIR: dataDir, WEB_CONCURRENCY: processes }, /is up at http:\/\/\S+\n/);
        const url = /is up at (http:\/\/\S+)/.exec(started.output())![1]!;
        const stream = await openStream(url);

        // Action
        const { code, outputClosed, leftRunning } = await signalStarted(started, signal);

        // Assertions
        expect(code, started.output()).toBe(0);
        expect(outputClosed).toBe(true);
        expect(leftRunning).toEqual([]);
        expect(await stream.ended).toBe(true);
        expect(started.output()).toMatch(new RegExp(`"reason":"${signal}","msg":"shutting down"`));
        expect(started.output().trimEnd()).toMatch(/"msg":"stopped"}$/);
        expect(await tcpConnect('127.0.0.1', Number(new URL(url).port))).toBe('ECONNREFUSED');
        expect(runningPostmaster(join(dataDir, 'postgres'))).toBe(null);
      },
      180_000,
    );
  }
});

describe('npm start stopped while starting', () => {
  it.skipIf(!hasPostgres)(
    'on SIGTERM to npm\'s pid during its start (just after the migrations) comes up, then stops in order, stopping the cluster',
    async () => {
      // Setup: a fresh folder, so the migrations run and say so before anything serves.
      const dataDir = dataFolder();
      const started = await startCommand('npm', ['start'], { PRESENCE_DATA_DIR: dataDir }, /"msg":"migrations applied"/);

      // Action
      const { code, outputClosed, leftRunning } = await signalStarted(started, 'SIGTERM');

      // Assertions
      expect(code, started.output()).toBe(0);
      expect(outputClosed).toBe(true);
      expect(leftRunning).toEqual([]);
      expect(started.output()).toMatch(/"reason":"SIGTERM","msg":"stopping once started"/);
      expect(started.output().trimEnd()).toMatch(/"msg":"stopped"}$/);
      expect(runningPostmaster(join(dataDir, 'postgres'))).toBe(null);
    },
    180_000,
  );
});

describe('npm start in a terminal', () => {
  it.skipIf(!hasPostgres)(
    'stops in order on Ctrl-C (SIGINT to the process group, which node hears from the terminal and again from npm), logging "stopped" and stopping the cluster',
    async () => {
      // Setup
      const dataDir = dataFolder();
      const started = await startCommand('npm', ['start'], { PRESENCE_DATA_DIR: dataDir }, /is up at http:\/\/\S+\n/, { ownGroup: true });

      // Action
      const { code, outputClosed, leftRunning } = await signalStarted(started, 'SIGINT', 30_000, { group: true });

      // Assertions
      expect(code, started.output()).toBe(0);
      expect(outputClosed).toBe(true);
      expect(leftRunning).toEqual([]);
      expect(started.output().match(/"msg":"shutting down"/g)).toHaveLength(1);
      expect(started.output().trimEnd()).toMatch(/"msg":"stopped"}$/);
      expect(runningPostmaster(join(dataDir, 'postgres'))).toBe(null);
    },
    180_000,
  );
});

describe('the local cluster', () => {
  async function refusal(port: number, password: string | undefined): Promise<string> {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', password });
    return client.connect().then(
      async () => {
        await client.end();
        return 'connected';
      },
      (error: { code?: string; message: string }) => error.code ?? error.message,
    );
  }

  it.skipIf(!hasPostgres)(
    'refuses TCP connections without the password, which only its OS user can read',
    async () => {
      // Setup
      const folder = dataFolder();
      const cluster = await startCluster({ dataDir: join(folder, 'postgres'), ephemeral: true });

      // Action
      const withoutPassword = await refusal(cluster.port, undefined);
      const wrongPassword = await refusal(cluster.port, 'not-the-password');
      const withPassword = await refusal(cluster.port, decodeURIComponent(new URL(cluster.url).password));
      await cluster.stop();

      // Assertions
      expect(withoutPassword).not.toBe('connected');
      expect(wrongPassword).toBe('28P01');
      expect(withPassword).toBe('connected');
      expect(statSync(join(folder, 'postgres.password')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(folder, 'postgres', 'pg_hba.conf'), 'utf8')).not.toMatch(/^host.*trust/m);
    },
    60_000,
  );

  it.skipIf(!hasPostgres)(
    'made by an earlier version with trust, gets a password and asks for it over TCP',
    async () => {
      // Setup: what the earlier version left: trust for every connection, no password file.
      const folder = dataFolder();
      const dataDir = join(folder, 'postgres');
      const before = await startCluster({ dataDir, ephemeral: true });
      await before.stop();
      writeFileSync(join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n');
      rmSync(join(folder, 'postgres.password'));

      // Action
      const upgraded = await startCluster({ dataDir, ephemeral: true });
      const withoutPassword = await refusal(upgraded.port, undefined);
      const wrongPassword = await refusal(upgraded.port, 'not-the-password');
      const withPassword = await refusal(upgraded.port, decodeURIComponent(new URL(upgraded.url).password));
      await upgraded.stop();

      // Assertions
      expect(withoutPassword).not.toBe('connected');
      expect(wrongPassword).toBe('28P01');
      expect(withPassword).toBe('connected');
      expect(readFileSync(join(folder, 'postgres.password'), 'utf8').trim()).toBe(decodeURIComponent(new URL(upgraded.url).password));
      expect(statSync(join(folder, 'postgres.password')).mode & 0o777).toBe(0o600);
    },
    60_000,
  );
});
