// npm start as a newcomer meets it: a fresh data folder, the demo tenant, sign-in, a beat, a clean stop.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findPgInstall } from '../../db/cluster.ts';
import { projectRoot } from '../../server/config.ts';
import { DEMO_PASSWORD } from '../../server/seed.ts';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  env: NodeJS.ProcessEnv;
  url: string;
  output: () => string;
}

async function npmStart(env: Record<string, string>): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'presence-start-'));
  folders.push(dataDir);
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const childEnv = { ...inherited, PRESENCE_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', ...env };
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 90_000);
    const check = () => {
      const match = /is up at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  return { child, env: childEnv, url, output: () => output };
}

async function stop(started: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', resolve));
  started.child.kill('SIGINT');
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

describe('npm start', () => {
  it.skipIf(!existsSync('/usr/lib/postgresql'))(
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
      expect(code, started.output()).toBe(0);
      const dataDir = /cluster in (\S+)/.exec(started.output())![1]!;
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
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
