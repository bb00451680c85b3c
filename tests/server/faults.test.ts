// Faults: the real app with its pool and LISTEN connection behind a TCP proxy of the test's own, between the server
// and PostgreSQL. Stopping the proxy is a database nobody can reach (connections refused, open ones cut); freezing
// it is a PostgreSQL that stopped answering (SIGSTOP): connections are accepted and their bytes wait in the socket
// buffers, unanswered, until it thaws. The app's log goes to a stream the test reads.
import { once } from 'node:events';
import type { Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureAppLogin } from '../../db/app-login.ts';
import { makeApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { createAppPool } from '../../server/pool.ts';
import { createServices } from '../../server/services.ts';
import { call, openStream, signedInUser, type TestServer, type TestUser } from '../helpers/server.ts';

/** A TCP proxy to PostgreSQL that the test can stop, restart, freeze and thaw. */
class DatabaseProxy {
  private server: net.Server;
  private readonly links = new Set<{ client: net.Socket; upstream: net.Socket | null }>();
  private frozen = false;
  port = 0;

  private constructor(
    private readonly host: string,
    private readonly targetPort: number,
  ) {
    this.server = this.makeServer();
  }

  static async start(host: string, port: number): Promise<DatabaseProxy> {
    const proxy = new DatabaseProxy(host, port);
    await proxy.listen();
    return proxy;
  }

  private makeServer(): net.Server {
    return net.createServer((client) => {
      const link = { client, upstream: null as net.Socket | null };
      this.links.add(link);
      client.on('error', () => {});
      client.on('close', () => {
        link.upstream?.destroy();
        this.links.delete(link);
      });
      if (this.frozen) client.pause();
      else this.connect(link);
    });
  }

  private async listen(): Promise<void> {
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  private connect(link: { client: net.Socket; upstream: net.Socket | null }): void {
    const upstream = net.connect(this.targetPort, this.host);
    link.upstream = upstream;
    upstream.on('error', () => link.client.destroy());
    upstream.on('close', () => link.client.destroy());
    link.client.pipe(upstream);
    upstream.pipe(link.client);
    link.client.resume();
  }

  /** Nobody listens on the port any more, and every open connection is cut. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream?.destroy();
    }
    await closed;
  }

  /** The database is reachable again on the same port. */
  async restart(): Promise<void> {
    this.server = this.makeServer();
    await this.listen();
  }

  /** Bytes stop flowing both ways; new connections are accepted and then left waiting. */
  freeze(): void {
    this.frozen = true;
    for (const { client, upstream } of this.links) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** Everything that waited flows on, as after SIGCONT. */
  thaw(): void {
    this.frozen = false;
    for (const link of this.links) {
      if (!link.upstream) this.connect(link);
      else {
        link.client.pipe(link.upstream);
        link.upstream.pipe(link.client);
        link.client.resume();
        link.upstream.resume();
      }
    }
  }

  async close(): Promise<void> {
    this.thaw();
    await this.stop().catch(() => {});
  }
}

interface LogLine {
  level: number;
  msg: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

interface FaultServer extends TestServer {
  proxy: DatabaseProxy;
  logs: LogLine[];
}

/** The real app (as npm start assembles it) whose request-path pool and LISTEN connection go through a proxy. */
async function startServerBehindProxy(): Promise<FaultServer> {
  const databaseUrl = inject('databaseUrl');
  const appUrl = new URL(await ensureAppLogin(databaseUrl));
  const proxy = await DatabaseProxy.start(appUrl.hostname, Number(appUrl.port));
  appUrl.hostname = '127.0.0.1';
  appUrl.port = String(proxy.port);

  const logs: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = pino({ level: 'info' }, destination);
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl });
  const services = createServices(config, appUrl.toString(), logger, { pool: createAppPool(appUrl.toString()) });
  await services.presence.listener.ready();
  const server: Server = makeApp(services).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const owner = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    services,
    owner,
    proxy,
    logs,
    queryCount: () => 0,
    requestQueryCount: () => 0,
    requestStatements: () => [],
    queriesMatching: () => 0,
    async close() {
      services.presence.streams.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await proxy.close();
      await services.close().catch(() => {});
      await owner.end();
    },
  };
}

type Who = TestUser & { cookie: string };

/** Every route of the standalone server, called as a signed-in agent (the stream as a new one). */
function everyRoute(server: TestServer, agent: Who) {
  const { cookie } = agent;
  return {
    'POST /api/auth/login': () =>
      call(server, 'POST', '/api/auth/login', { body: { email: agent.email, password: agent.password } }),
    'GET /api/auth/me': () => call(server, 'GET', '/api/auth/me', { cookie }),
    'POST /api/auth/heartbeat': () => call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId: 'tab-1' } }),
    'POST /api/auth/leave': () => call(server, 'POST', '/api/auth/leave', { cookie, body: { sessionId: 'tab-2' } }),
    'PUT /api/agents/me/status': () => call(server, 'PUT', '/api/agents/me/status', { cookie, body: { status: 'away' } }),
    'GET /api/agents': () => call(server, 'GET', '/api/agents', { cookie }),
    'GET /api/agents/:id/history': () => call(server, 'GET', `/api/agents/${agent.agentId}/history`, { cookie }),
    'GET /api/agents/stream': () => openOnce(server, cookie),
    'POST /api/auth/logout': () => call(server, 'POST', '/api/auth/logout', { cookie }),
    'GET /healthz': () => call(server, 'GET', '/healthz'),
  };
}

/** GET /api/agents/stream: its status, and its JSON answer when it did not open (an open stream is closed at once). */
async function openOnce(server: TestServer, cookie: string): Promise<{ status: number; body: unknown }> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/api/agents/stream`, { headers: { cookie }, signal: controller.signal });
  if (res.status === 200) {
    controller.abort();
    return { status: 200, body: null };
  }
  return { status: res.status, body: await res.json() };
}

async function answersOf(routes: Record<string, () => Promise<{ status: number; body: unknown }>>) {
  const entries = await Promise.all(
    Object.entries(routes).map(async ([route, request]) => {
      const res = await request();
      return [route, { status: res.status, body: res.body }] as const;
    }),
  );
  return Object.fromEntries(entries);
}

const UNAVAILABLE = { status: 503, body: { error: expect.any(String), code: 'unavailable' } };

async function until<T>(attempt: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

let server: FaultServer;
beforeAll(async () => {
  server = await startServerBehindProxy();
});
afterAll(() => server.close());

describe('the database unreachable', () => {
  it('every route answers 503 unavailable, never 500, while connections to PostgreSQL are refused', async () => {
    // Setup
    const own = await startServerBehindProxy();
    const ada = await signedInUser(own);
    await call(own, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });

    // Action
    await own.proxy.stop();
    const answers = await answersOf(everyRoute(own, ada));
    await own.close();

    // Assertions
    for (const route of Object.keys(answers)) expect({ route, ...answers[route] }).toEqual({ route, ...UNAVAILABLE });
  });

  it('every route answers 503 unavailable while PostgreSQL is frozen, and /healthz does within 2 s', async () => {
    // Setup
    const own = await startServerBehindProxy();
    const ada = await signedInUser(own);
    await call(own, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });

    // Action
    own.proxy.freeze();
    const started = Date.now();
    const health = await call(own, 'GET', '/healthz');
    const healthMs = Date.now() - started;
    const answers = await answersOf(everyRoute(own, ada));
    await own.close();

    // Assertions
    expect(health).toMatchObject(UNAVAILABLE);
    expect(healthMs).toBeLessThan(2_000);
    for (const route of Object.keys(answers)) expect({ route, ...answers[route] }).toEqual({ route, ...UNAVAILABLE });
  });

  it('/metrics still answers with the process\'s figures while PostgreSQL is unreachable or frozen', async () => {
    // Setup
    const own = await startServerBehindProxy();
    await call(own, 'GET', '/metrics');

    // Action
    await own.proxy.stop();
    const refused = await call(own, 'GET', '/metrics');
    await own.proxy.restart();
    own.proxy.freeze();
    const started = Date.now();
    const frozen = await call(own, 'GET', '/metrics');
    const frozenMs = Date.now() - started;
    await own.close();

    // Assertions
    expect(refused.status).toBe(200);
    expect(refused.body).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(refused.body).toMatch(/^presence_sweeps \d+/m);
    expect(frozen.status).toBe(200);
    expect(frozenMs).toBeLessThan(2_000);
  });

  it('an outage is logged once when it starts and once when it ends, not once per request', async () => {
    // Setup
    const own = await startServerBehindProxy();
    const ada = await signedInUser(own);
    const watcher = await signedInUser(own, { tenantId: ada.tenantId, role: 'supervisor' });
    // Every route but sign-out (the sign-ins are needed afterwards), as an agent and as a supervisor.
    const routes = [ada, watcher].flatMap((who) =>
      Object.entries(everyRoute(own, who))
        .filter(([route]) => route !== 'POST /api/auth/logout')
        .map(([, request]) => request),
    );
    const before = own.logs.length;

    // Action
    await own.proxy.stop();
    const during = await Promise.all(Array.from({ length: 50 }, (_, i) => routes[i % routes.length]!()));
    await own.proxy.restart();
    const after = await until(
      () => call(own, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } }),
      (res) => res.status === 200,
    );
    await call(own, 'GET', '/api/agents', { cookie: watcher.cookie });
    const lines = own.logs.slice(before);
    await own.close();

    // Assertions
    expect(during.map((r) => r.status)).toEqual(Array(50).fill(503));
    expect(after.status).toBe(200);
    const loud = lines.filter((l) => l.level >= 40 || l.err);
    expect(loud.map((l) => l.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^database unavailable/), expect.stringMatching(/^LISTEN connection lost/)]),
    );
    expect(loud).toHaveLength(2);
    expect(lines.filter((l) => /^database available again/.test(l.msg))).toHaveLength(1);
  });

  it('requests succeed again once the database is back, without a restart, and new streams hear transitions', async () => {
    // Setup
    const ada = await signedInUser(server);
    const watcher = await signedInUser(server, { tenantId: ada.tenantId, role: 'supervisor' });
    await server.proxy.stop();
    const down = await call(server, 'GET', '/api/agents', { cookie: watcher.cookie });

    // Action
    await server.proxy.restart();
    const agents = await until(
      () => call(server, 'GET', '/api/agents', { cookie: watcher.cookie }),
      (res) => res.status === 200,
    );
    // The LISTEN connection retries with a backoff of up to 5 s; notifications sent before it is back are lost
    // (streams get a fresh snapshot instead).
    const listening = await until(
      async () => server.services.presence.listener.connected,
      (connected) => connected,
      6_000,
    );
    const stream = await openStream(server, watcher.cookie);
    await stream.next('snapshot');
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });
    const change = await stream.next('status', (d) => d.agentId === ada.agentId);
    stream.close();

    // Assertions
    expect(down.status).toBe(503);
    expect(agents.status).toBe(200);
    expect(listening).toBe(true);
    expect(beat.status).toBe(200);
    expect(change).toMatchObject({ agentId: ada.agentId, to: 'available', mechanism: 'heartbeat' });
  });
});

describe('bytes PostgreSQL refuses', () => {
  it('a NUL byte in any string the API takes is a 400 whose message names the field', async () => {
    // Setup
    const ada = await signedInUser(server);
    const { cookie } = ada;
    const history = `/api/agents/${ada.agentId}/history`;

    // Action
    const answers = await answersOf({
      email: () => call(server, 'POST', '/api/auth/login', { body: { email: 'a\u0000@example.com', password: ada.password } }),
      password: () => call(server, 'POST', '/api/auth/login', { body: { email: ada.email, password: `${ada.password}\u0000` } }),
      sessionId: () => call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId: 'tab\u0000' } }),
      'leave sessionId': () => call(server, 'POST', '/api/auth/leave', { cookie, body: { sessionId: '\u0000' } }),
      'logout sessionId': () => call(server, 'POST', '/api/auth/logout', { cookie, body: { sessionId: 'x\u0000' } }),
      id: () => call(server, 'GET', '/api/agents/a%00b/history', { cookie }),
      from: () => call(server, 'GET', `${history}?from=2026-01-01T00:00:00Z%00`, { cookie }),
      to: () => call(server, 'GET', `${history}?to=%002026-01-01T00:00:00Z`, { cookie }),
    });

    // Assertions
    for (const [field, answer] of Object.entries(answers)) {
      const name = field.split(' ').at(-1)!;
      expect({ field, ...answer }).toEqual({
        field,
        status: 400,
        body: { error: expect.stringContaining(`${name}: must not contain NUL bytes`), code: 'invalid_input' },
      });
    }
  });
});

describe('paths the router cannot decode', () => {
  it('a history id that is not valid percent-encoding is a 400 naming it, not a 500 (found by the fuzz)', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const answers = await Promise.all(
      ['%', '%zz', '%E0%A4%A'].map((id) => call(server, 'GET', `/api/agents/${id}/history`, { cookie: ada.cookie })),
    );

    // Assertions
    expect(answers.map((a) => ({ status: a.status, body: a.body }))).toEqual(
      ['%', '%zz', '%E0%A4%A'].map((id) => ({
        status: 400,
        body: { error: expect.stringContaining(`'${id}'`), code: 'invalid_input' },
      })),
    );
  });
});
