// The real app on a free port against the test database, and signed-in users to call it with.
//   const server = await startTestServer();
//   const agent = await signedInUser(server);              // a new tenant, an agent, its session cookie
//   await fetch(`${server.url}/api/auth/me`, { headers: { cookie: agent.cookie } });
//   await server.close();
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createParser } from 'eventsource-parser';
import pg from 'pg';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { inject } from 'vitest';
import { makeApp } from '../../server/app.ts';
import { loadConfig, type Config } from '../../server/config.ts';
import { ensureAppLogin, type AppTimeouts } from '../../db/app-login.ts';
import { createAppPool } from '../../server/pool.ts';
import { createServices, type Services } from '../../server/services.ts';
import { createTenant, type TenantSettings } from './db.ts';
import { createAccount } from '../../db/sql/create-account.ts';
import { Database } from '../../server/database/handle.ts';
import type { Role } from '../../server/http/contract.ts';

export const TEST_PASSWORD = 'correct horse battery staple';

export interface TestServer {
  /** http://127.0.0.1:PORT, no trailing slash. */
  url: string;
  services: Services;
  /** A pool on the test database as its owner, for setup and for looking behind the API. */
  owner: pg.Pool;
  /** SQL statements the app's pool has sent so far. */
  queryCount(): number;
  /** Those of them sent for requests: all but the stream hub's reads after a ring, its timeout checks and the summaries. */
  requestQueryCount(): number;
  /** The statements of requestQueryCount() from the `from`th on (0: the first), with their parameters. */
  requestStatements(from?: number): SentStatement[];
  /** Those of them whose text matches `pattern` (e.g. /presence\.timeouts_due\(/). */
  queriesMatching(pattern: RegExp): number;
  close(): Promise<void>;
}

export interface SentStatement {
  text: string;
  values: unknown[];
}

const STREAM_HUB_READS = /presence\.(status_changes_after|sign_ins_ended|timeouts_due|tenant_summaries)\(/;

/** A line the server logged (pino's JSON), when a test keeps the log. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export async function startTestServer(
  options: {
    config?: Partial<Config>;
    databaseUrl?: string;
    clientDir?: string | null;
    /** The request path's timeouts, when a test needs short ones. */
    timeouts?: Partial<AppTimeouts>;
    /** Connections of the request path's pool (10). */
    poolMax?: number;
    /** Keeps the server's log at level info in this array (else it logs at LOG_LEVEL, silent by default). */
    logs?: LogLine[];
  } = {},
): Promise<TestServer> {
  const databaseUrl = options.databaseUrl ?? inject('databaseUrl');
  const config: Config = {
    ...loadConfig({ ...process.env, NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', DATABASE_URL: databaseUrl }),
    ...options.config,
  };
  // The request path logs in as npm start's would: login role presence_server, a member of presence_app only.
  const appUrl = await ensureAppLogin(databaseUrl);
  const pool = createAppPool(appUrl, options.poolMax ?? 10, options.timeouts);
  let queries = 0;
  let hubReads = 0;
  const sent: SentStatement[] = [];
  const texts: string[] = [];
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0] as string | { text?: string; values?: unknown[] } | undefined;
      const text = typeof first === 'string' ? first : (first?.text ?? '');
      queries += 1;
      texts.push(text);
      // The stream hub's reads after a ring are the process's, not a request's.
      if (STREAM_HUB_READS.test(text)) hubReads += 1;
      else sent.push({ text, values: (typeof first === 'string' ? (args[1] as unknown[] | undefined) : first?.values) ?? [] });
      return query(...args);
    };
  });
  const logs = options.logs;
  const logger = logs
    ? pino(
        { level: 'info' },
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
            done();
          },
        }),
      )
    : pino({ level: config.logLevel });
  const services = createServices(config, appUrl, logger, {
    pool,
    clientDir: options.clientDir ?? null,
  });
  await services.presence.listener.ready();
  const server: Server = makeApp(services).listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  const owner = new pg.Pool({ connectionString: databaseUrl, max: 5 });
  return {
    url: `http://127.0.0.1:${port}`,
    services,
    owner,
    queryCount: () => queries,
    requestQueryCount: () => queries - hubReads,
    requestStatements: (from = 0) => sent.slice(from),
    queriesMatching: (pattern) => texts.filter((t) => pattern.test(t)).length,
    async close() {
      services.presence.streams.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
      await owner.end();
    },
  };
}

export type { Role };

export interface TestUser {
  tenantId: string;
  userId: string;
  /** Null for a supervisor. */
  agentId: string | null;
  email: string;
  name: string;
  password: string;
}

/** Creates a user (and for agent roles its agent) through presence.create_account; a new tenant unless given. */
export async function createUser(
  owner: pg.Pool,
  fields: {
    tenantId?: string;
    tenantSettings?: TenantSettings;
    role?: Role;
    email?: string;
    name?: string;
    password?: string;
    maxChats?: number;
  } = {},
): Promise<TestUser> {
  const tenantId = fields.tenantId ?? (await createTenant(owner, fields.tenantSettings));
  const password = fields.password ?? TEST_PASSWORD;
  const email = fields.email ?? `user-${randomUUID()}@example.com`;
  const name = fields.name ?? 'Test User';
  const { userId, agentId } = await createAccount(new Database(owner), {
    tenantId,
    email,
    name,
    role: fields.role ?? 'support_staff',
    password,
    maxChats: fields.maxChats ?? 5,
  });
  return { tenantId, userId, agentId, email, name, password };
}

/** Signs in through POST /api/auth/login; returns the `cookie` header value to send. */
export async function signIn(server: TestServer, user: { email: string; password: string }): Promise<string> {
  const res = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email, password: user.password }),
  });
  if (res.status !== 200) throw new Error(`sign-in of ${user.email} failed: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('presence_session='));
  if (!setCookie) throw new Error('sign-in answered without a presence_session cookie');
  return setCookie.split(';')[0]!;
}

/** A new user (an agent unless `role` says otherwise), signed in: the user plus its cookie. */
export async function signedInUser(
  server: TestServer,
  fields: Parameters<typeof createUser>[1] = {},
): Promise<TestUser & { cookie: string }> {
  const user = await createUser(server.owner, fields);
  return { ...user, cookie: await signIn(server, user) };
}

/** fetch against the test server with a cookie and a JSON body. */
export async function call(
  server: TestServer,
  method: string,
  path: string,
  options: { cookie?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.cookie) headers.cookie = options.cookie;
  if (options.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text) body = JSON.parse(text);
  return { status: res.status, body, headers: res.headers };
}

export interface SseEvent {
  event: string;
  data: any;
}

export interface TestStream {
  status: number;
  headers: Headers;
  /** The JSON body of an answer other than 200 (a refusal), else null. */
  body: any;
  /** Every event received so far, in order. */
  events: SseEvent[];
  /** Comment lines (`: keep-alive`) seen so far. */
  comments: string[];
  /** Settles when the server ends the stream (or close() aborts it). */
  ended: Promise<void>;
  /** The next event (after those already taken) of this type matching `match`, or a timeout error. */
  next(event: string, match?: (data: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): void;
}

/** Opens GET /api/agents/stream and reads its Server-Sent Events as they come. */
export function openStream(server: TestServer, cookie: string | undefined): Promise<TestStream> {
  return openStreamAt(`${server.url}/api/agents/stream`, cookie ? { cookie } : {});
}

/** Opens a live stream at any URL (a host's own mount of the router) with the request headers given. */
export async function openStreamAt(url: string, headers: Record<string, string>): Promise<TestStream> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { ...headers, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let ended: Promise<void> = Promise.resolve();
  let body: unknown = null;
  if (!res.ok) {
    const text = await res.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  } else if (res.body) {
    ended = (async () => {
      const decoder = new TextDecoder();
      const parser = createParser({
        onEvent: (message) => {
          if (message.data) events.push({ event: message.event ?? 'message', data: JSON.parse(message.data) });
          for (const wake of waiters) wake();
        },
        onComment: (comment) => comments.push(comment.trim()),
      });
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          parser.feed(decoder.decode(chunk, { stream: true }));
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  let taken = 0;
  return {
    status: res.status,
    headers: res.headers,
    body,
    events,
    comments,
    ended,
    async next(event, match = () => true, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (let i = taken; i < events.length; i++) {
          if (events[i]!.event === event && match(events[i]!.data)) {
            taken = i + 1;
            return events[i]!.data;
          }
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${event} event within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, left);
          function done() {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
        });
      }
    },
    close() {
      controller.abort();
    },
  };
}
