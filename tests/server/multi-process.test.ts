// npm start with WEB_CONCURRENCY=2: two serving processes on one port, against a database of this test's own. Each
// answer names its process (X-Presence-Process), and a keep-alive connection stays with the process that accepted
// it, so the test knows which process serves each request: a stream held by one, a beat through the other.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../server/config.ts';
import { scratchDatabase } from '../helpers/db.ts';
import { createUser, TEST_PASSWORD, type TestUser } from '../helpers/server.ts';

const PROCESS_HEADER = 'x-presence-process';

let database: { url: string; drop: () => Promise<void> };
let owner: pg.Pool;
let child: ChildProcess;
let base: URL;
let output = '';

beforeAll(async () => {
  database = await scratchDatabase('multi_process');
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'server', 'main.ts')], {
    cwd: projectRoot,
    env: { ...inherited, DATABASE_URL: database.url, WEB_CONCURRENCY: '2', PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  base = new URL(
    await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 110_000);
      child.stdout!.on('data', () => {
        const match = /is up at (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    }),
  );
  // The migrations ran in npm start; cheap hashes for this test's accounts.
  owner = new pg.Pool({ connectionString: database.url, max: 2 });
  await owner.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 4)');
}, 120_000); // npm start builds the client first when its build is missing or stale

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  await owner?.end();
  await database?.drop();
});

interface Answer {
  status: number;
  process: string;
  body: string;
}

/** One keep-alive connection: every request on it is served by the process that accepted it. */
class Connection {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  request(method: string, path: string, options: { cookie?: string; body?: unknown } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const body = options.body === undefined ? undefined : JSON.stringify(options.body);
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...(body ? { 'content-type': 'application/json' } : {}),
            ...(options.cookie ? { cookie: options.cookie } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, process: String(res.headers[PROCESS_HEADER]), body: text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A connection served by a process other than `not` (connections are handed out in turn). */
async function connectionTo(not: string | null): Promise<{ connection: Connection; process: string }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const connection = new Connection();
    const { process } = await connection.request('GET', '/healthz');
    if (process !== not) return { connection, process };
    connection.close();
  }
  throw new Error(`every connection went to serving process ${not}`);
}

async function signIn(user: TestUser): Promise<string> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request(
      { host: base.hostname, port: base.port, method: 'POST', path: '/api/auth/login', headers: { 'content-type': 'application/json' } },
      resolve,
    );
    req.on('error', reject);
    req.end(JSON.stringify({ email: user.email, password: user.password }));
  });
  res.resume();
  const cookie = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('presence_session='));
  if (res.statusCode !== 200 || !cookie) throw new Error(`sign-in of ${user.email} answered ${res.statusCode}`);
  return cookie.split(';')[0]!;
}

/** Opens the live stream on a connection of its own; resolves with its process and a wait for a status event. */
function openStream(cookie: string): Promise<{ process: string; statusOf: (agentId: string) => Promise<any>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: base.hostname, port: base.port, path: '/api/agents/stream', agent: false, headers: { cookie, accept: 'text/event-stream' } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`stream answered ${res.statusCode}`));
          return;
        }
        const events: Array<{ event: string; data: any }> = [];
        const waiters = new Set<() => void>();
        const parser = createParser({
          onEvent: (message) => {
            if (message.event && message.data) events.push({ event: message.event, data: JSON.parse(message.data) });
            for (const wake of waiters) wake();
          },
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        resolve({
          process: String(res.headers[PROCESS_HEADER]),
          statusOf: (agentId) =>
            new Promise((found, fail) => {
              const timer = setTimeout(() => fail(new Error(`no status event for agent ${agentId} within 5 s`)), 5_000);
              const check = () => {
                const hit = events.find((e) => e.event === 'status' && e.data.agentId === agentId);
                if (!hit) return;
                clearTimeout(timer);
                waiters.delete(check);
                found(hit.data);
              };
              waiters.add(check);
              check();
            }),
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
  });
}

describe('npm start with WEB_CONCURRENCY=2', () => {
  it('serves from two processes on one port', async () => {
    // Setup
    const first = await connectionTo(null);

    // Action
    const second = await connectionTo(first.process);
    first.connection.close();
    second.connection.close();

    // Assertions
    expect(new Set([first.process, second.process])).toEqual(new Set(['1', '2']));
  });

  it('a beat through one serving process reaches a live stream held by the other', async () => {
    // Setup
    const supervisor = await createUser(owner, { role: 'supervisor' });
    const agent = await createUser(owner, { tenantId: supervisor.tenantId });
    const supervisorCookie = await signIn(supervisor);
    const agentCookie = await signIn(agent);
    const stream = await openStream(supervisorCookie);
    const { connection, process: beatProcess } = await connectionTo(stream.process);

    // Action
    const beat = await connection.request('POST', '/api/auth/heartbeat', { cookie: agentCookie, body: { sessionId: 'tab-1' } });
    const change = await stream.statusOf(agent.agentId!);
    stream.close();
    connection.close();

    // Assertions
    expect(beat.status).toBe(200);
    expect(beat.process).toBe(beatProcess);
    expect(beatProcess).not.toBe(stream.process);
    expect(change).toMatchObject({ agentId: agent.agentId, from: 'offline', to: 'available', mechanism: 'heartbeat' });
  });

  it('sign-in limits, counted in PostgreSQL, hold across the serving processes', async () => {
    // Setup: 10 failures of one account from one address are the tight limit; 5 through each process.
    const user = await createUser(owner);
    const one = await connectionTo(null);
    const other = await connectionTo(one.process);
    const wrong = { email: user.email, password: `${TEST_PASSWORD} but wrong` };
    const failures: Answer[] = [];
    for (let i = 0; i < 5; i++) {
      failures.push(await one.connection.request('POST', '/api/auth/login', { body: wrong }));
      failures.push(await other.connection.request('POST', '/api/auth/login', { body: wrong }));
    }

    // Action
    const right = { email: user.email, password: user.password };
    const throughOne = await one.connection.request('POST', '/api/auth/login', { body: right });
    const throughOther = await other.connection.request('POST', '/api/auth/login', { body: right });
    one.connection.close();
    other.connection.close();

    // Assertions
    expect(failures.map((f) => f.status)).toEqual(Array(10).fill(401));
    expect(new Set(failures.map((f) => f.process)).size).toBe(2);
    expect([throughOne.status, throughOther.status]).toEqual([429, 429]);
    expect(throughOne.process).not.toBe(throughOther.process);
  });

  it('stops both serving processes and itself on Ctrl-C', async () => {
    // Setup
    const serverConnections = () =>
      owner
        .query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'presence-server'",
        )
        .then((r) => r.rows[0]!.n);
    expect(await serverConnections()).toBeGreaterThanOrEqual(2); // each serving process's LISTEN connection

    // Action
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    const code = await exited;

    // Assertions
    expect(code).toBe(0);
    await expect(new Connection().request('GET', '/healthz')).rejects.toThrow();
    // Every serving process closed its pool and LISTEN connection (backends go a moment after their clients).
    const deadline = Date.now() + 3_000;
    while ((await serverConnections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await serverConnections()).toBe(0);
  });
});
