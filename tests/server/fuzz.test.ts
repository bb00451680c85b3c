// Fuzz: random methods, bodies, headers, content types, path ids, query strings and cookie values against every
// route of the standalone server (fast-check), as nobody, as an agent, as a supervisor and with forged cookies.
// Every answer is below 500 and is either the route's documented success or JSON {error, code}. Tenant B is the
// bystander: its ids, e-mails and names are thrown at every route by the users of tenant A, and afterwards B's rows
// are exactly what they were, and no answer to A ever carried anything of B's. Two tests then do on purpose what the
// fuzz does at random: every route aimed at tenant B, and every write sent from another site (CSRF).
//
// The requests come from a loopback address of their own (127.x.y.z, not 127.0.0.1), so the failed sign-ins they
// cause count against that address only and never lock out the sign-ins of test files running beside this one.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ACTIVITIES, MECHANISMS, STATUSES } from '../../server/http/contract.ts';
import { call, openStream, signIn, signedInUser, startTestServer, type TestServer, type TestUser } from '../helpers/server.ts';

type Who = TestUser & { cookie: string };

let server: TestServer;
let port: number;
/** The fuzz's own client address. */
const fromAddress = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

// Tenant A: who calls. Tenant B: the bystander.
let a: { agent: Who; colleague: Who; supervisor: Who };
let b: { agent: Who; colleague: Who; supervisor: Who };

beforeAll(async () => {
  server = await startTestServer();
  port = Number(new URL(server.url).port);
  const tenant = async () => {
    const who = await signedInUser(server, {
      name: `Agent ${randomUUID()}`,
      tenantSettings: { heartbeat_interval_s: 30, offline_after_s: 3600 },
    });
    const colleague = await signedInUser(server, { tenantId: who.tenantId, name: `Colleague ${randomUUID()}` });
    const supervisor = await signedInUser(server, { tenantId: who.tenantId, role: 'supervisor', name: `Supervisor ${randomUUID()}` });
    for (const [person, tab] of [
      [who, 'tab-1'],
      [colleague, 'tab-1'],
    ] as const) {
      await call(server, 'POST', '/api/auth/heartbeat', { cookie: person.cookie, body: { sessionId: tab } });
    }
    await call(server, 'PUT', '/api/agents/me/status', { cookie: colleague.cookie, body: { status: 'dnd' } });
    return { agent: who, colleague, supervisor };
  };
  a = await tenant();
  b = await tenant();
});
afterAll(async () => {
  keepAlive.destroy();
  await server.close();
});

// ---- what a request may be ----------------------------------------------------------------------------------------

const ROUTES = [
  { method: 'POST', path: '/api/auth/login' },
  { method: 'GET', path: '/api/auth/me' },
  { method: 'POST', path: '/api/auth/logout' },
  { method: 'POST', path: '/api/auth/heartbeat' },
  { method: 'POST', path: '/api/auth/leave' },
  { method: 'PUT', path: '/api/agents/me/status' },
  { method: 'GET', path: '/api/agents' },
  { method: 'GET', path: '/api/agents/stream' },
  { method: 'GET', path: '/api/agents/:id/history' },
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/metrics' },
] as const;

type Identity = 'nobody' | 'agent' | 'supervisor' | 'forged';

interface FuzzRequest {
  method: string;
  path: string;
  identity: Identity;
  cookie: string | undefined;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

/** Header values Node's client will send: printable ASCII. */
const headerText = (maxLength = 60) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Strings as an attacker sends them: any code point, NUL and lone surrogates included. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '%00', '../..', "' or 1=1 --", 'x'.repeat(5_000)),
);

/** Percent-encodes the UTF-8 bytes of any string (a lone surrogate becomes U+FFFD, as in a browser). */
function encode(value: string): string {
  return [...Buffer.from(value)].map((byte) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** An id of one of the tenants' people, resolved when a request is built (they exist only after beforeAll). */
class Ref {
  constructor(readonly key: string) {}
}

/** Tenant A's agent's e-mail or password, put in a body when the request is built. */
class Credential {
  constructor(
    readonly which: 'email' | 'password',
    readonly typed: 'as is' | 'upper case' | 'spaces around' | 'NUL' = 'as is',
  ) {}

  value(): string {
    if (this.which === 'password') return a.agent.password;
    const email = a.agent.email;
    return { 'as is': email, 'upper case': email.toUpperCase(), 'spaces around': ` ${email} `, NUL: `${email}\u0000` }[this.typed];
  }
}

/** Ids of both tenants, or anything else. */
const someId = fc.oneof(
  {
    arbitrary: fc.constantFrom('b.agent', 'b.colleague', 'b.tenant', 'a.agent', 'a.colleague', 'a.tenant').map((key) => new Ref(key)),
    weight: 4,
  },
  { arbitrary: fc.uuid().map(String), weight: 1 },
  { arbitrary: fc.oneof(fc.integer().map(String), fc.bigInt().map(String), fc.double().map(String)), weight: 1 },
  { arbitrary: anyText, weight: 2 },
);

function resolve(id: string | Ref): string {
  if (typeof id === 'string') return id;
  const [tenant, who] = id.key.split('.') as ['a' | 'b', string];
  const people = tenant === 'a' ? a : b;
  return who === 'tenant' ? people.agent.tenantId : people[who as 'agent' | 'colleague'].agentId!;
}

const isoDate = fc
  .date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })
  .map((d) => d.toISOString());

const queryValue = fc.oneof(
  isoDate,
  anyText,
  fc.constantFrom('2026-02-30T00:00:00Z', '0000-01-01T00:00:00Z', 'now', '-infinity'),
  // history's limit and cursor
  fc.constantFrom('0', '1', '2000', '2001', '-1', '1e3', '99999999999', 'MTc2NDc0NTIwMDAwMDAwMC4x', 'bm90IGEgY3Vyc29y'),
);

/** A query string: well-formed keys and values, repeated keys, or raw bytes as they come. */
const queryString = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(fc.constantFrom('from', 'to', 'from', 'to', 'cursor', 'limit', 'x', 'from[]', '__proto__'), queryValue), { maxLength: 4 })
    .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&')}` : '')),
  headerText(40)
    .filter((s) => !s.includes('#') && !s.includes(' '))
    .map((s) => `?${s}`),
);

/** A path id: encoded, or raw with bad percent escapes and slashes. */
const pathId = fc.oneof(
  { arbitrary: someId.map((id) => ({ id, raw: false })), weight: 5 },
  { arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '..', '%2e%2e', 'a%2Fb', '%00', '%FF', 'me').map((id) => ({ id, raw: true })), weight: 1 },
);

/** A value for a known body field. */
const fieldValue = fc.oneof(
  { arbitrary: someId, weight: 3 },
  { arbitrary: fc.constantFrom(...STATUSES, ...ACTIVITIES, 'tab-1', 'tab-2'), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 2 },
  { arbitrary: fc.constantFrom('email', 'password').map((which) => new Credential(which)), weight: 1 },
);

const bodyObject = fc.dictionary(
  fc.constantFrom('email', 'password', 'sessionId', 'activity', 'status', 'tenantId', 'agentId', '__proto__', 'constructor'),
  fieldValue,
  { maxKeys: 4 },
);

type BodySpec =
  | { kind: 'none' }
  | { kind: 'object'; value: Record<string, unknown> }
  | { kind: 'json'; value: unknown }
  | { kind: 'text'; value: string }
  | { kind: 'bytes'; value: Uint8Array };

const bodySpec: fc.Arbitrary<BodySpec> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 2 },
  { arbitrary: bodyObject.map((value) => ({ kind: 'object' as const, value })), weight: 4 },
  {
    // What the routes expect, with each field right, wrong or missing.
    arbitrary: fc
      .record(
        {
          sessionId: fc.oneof(fc.constantFrom('tab-1', 'tab-2', ' tab-1 ', 'x'.repeat(201)), someId),
          activity: fc.constantFrom(...ACTIVITIES, 'busy', ''),
          status: fc.constantFrom(...STATUSES, 'busy', 'AWAY'),
        },
        { requiredKeys: [] },
      )
      .map((value) => ({ kind: 'object' as const, value })),
    weight: 4,
  },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => ({ kind: 'json' as const, value })), weight: 2 },
  {
    arbitrary: fc
      .oneof(anyText, fc.constantFrom('{"sessionId": ', '{"a":1}{"b":2}', 'null', '"tab"', '[]', 'x'.repeat(20_000)))
      .map((value) => ({ kind: 'text' as const, value })),
    weight: 2,
  },
  { arbitrary: fc.uint8Array({ maxLength: 64 }).map((value) => ({ kind: 'bytes' as const, value })), weight: 1 },
  {
    // Tenant A's agent signing in: the right password, a wrong one, or the e-mail as people type it.
    arbitrary: fc
      .record({
        email: fc.constantFrom('as is', 'upper case', 'spaces around', 'NUL'),
        password: fc.oneof(fc.constant(new Credential('password')), anyText),
      })
      .map(({ email, password }) => ({ kind: 'object' as const, value: { email: new Credential('email', email), password } })),
    weight: 2,
  },
);

/** Mostly JSON, as the clients send; then none, the beacon's text/plain, other types and charsets, and junk. */
const contentType = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 6 },
  { arbitrary: fc.constant(undefined), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json; charset=nonsense',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/merge-patch+json',
    ),
    weight: 2,
  },
  { arbitrary: headerText(40), weight: 1 },
);

/** `arbitrary` in one request of `every`, else absent. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, every: number) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: every - 1 }, { arbitrary, weight: 1 });

/** Extra headers: origins, encodings, accept, proxies, the host itself; each in some requests only. */
const extraHeaders = fc
  .record({
    origin: sometimes(fc.oneof(fc.constantFrom('same', 'same', 'https://evil.example', 'null', 'http://127.0.0.1', ''), headerText(40)), 4),
    'content-encoding': sometimes(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'xyz'), 8),
    accept: sometimes(fc.oneof(fc.constantFrom('text/event-stream', 'text/html', 'application/json', '*/*'), headerText(30)), 3),
    'x-forwarded-for': sometimes(headerText(30), 6),
    host: sometimes(fc.constantFrom('evil.example', 'localhost'), 10),
  })
  .map((headers) => Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<string, string>);

/** The cookie header: the identity's own, a forged one, or the real one buried among others. */
const cookieSpec = fc.oneof(
  { arbitrary: fc.constant({ kind: 'own' as const }), weight: 6 },
  { arbitrary: headerText(80).map((value) => ({ kind: 'raw' as const, value })), weight: 1 },
  {
    arbitrary: fc
      .oneof(headerText(60), fc.base64String({ maxLength: 60 }), fc.constantFrom('', '%', '%E0%A4%A', 'x'.repeat(300)))
      .map((value) => ({ kind: 'forged' as const, value })),
    weight: 1,
  },
  { arbitrary: headerText(30).map((value) => ({ kind: 'duplicated' as const, value })), weight: 1 },
);

const requestSpec = fc.record({
  route: fc.constantFrom(...ROUTES),
  otherMethod: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 5 },
    { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), weight: 1 },
  ),
  identity: fc.constantFrom<Identity>('nobody', 'agent', 'agent', 'supervisor', 'forged'),
  cookie: cookieSpec,
  id: pathId,
  query: queryString,
  body: bodySpec,
  contentType,
  headers: extraHeaders,
});

type Spec = typeof requestSpec extends fc.Arbitrary<infer T> ? T : never;

function build(spec: Spec): FuzzRequest {
  const method = spec.otherMethod ?? spec.route.method;
  const id = spec.id.raw ? (spec.id.id as string) : encode(resolve(spec.id.id));
  const path = spec.route.path.replace(':id', id) + spec.query;

  const own = spec.identity === 'agent' ? a.agent.cookie : spec.identity === 'supervisor' ? a.supervisor.cookie : undefined;
  let cookie: string | undefined;
  if (spec.identity === 'forged' || spec.cookie.kind === 'forged') {
    cookie = `presence_session=${spec.cookie.kind === 'forged' ? spec.cookie.value : randomUUID()}`;
  } else if (spec.cookie.kind === 'raw') cookie = spec.cookie.value;
  else if (spec.cookie.kind === 'duplicated') cookie = own ? `junk=${spec.cookie.value}; ${own}; ${own}` : spec.cookie.value;
  else cookie = own;

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers)) {
    headers[name] = name === 'origin' && value === 'same' ? `http://127.0.0.1:${port}` : value;
  }
  if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;

  const deep = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(deep);
    if (value && typeof value === 'object') {
      if (value instanceof Ref) return resolve(value);
      if (value instanceof Credential) return value.value();
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v)]));
    }
    return value;
  };
  let body: Buffer | undefined;
  switch (spec.body.kind) {
    case 'object':
      body = Buffer.from(JSON.stringify(deep(spec.body.value)));
      break;
    case 'json':
      body = Buffer.from(JSON.stringify(spec.body.value) ?? 'null');
      break;
    case 'text':
      body = Buffer.from(spec.body.value);
      break;
    case 'bytes':
      body = Buffer.from(spec.body.value);
      break;
  }
  return { method, path, identity: spec.identity, cookie, headers, body };
}

// ---- what an answer may be ----------------------------------------------------------------------------------------

/** An instant as the API writes it: Date#toISOString, which uses expanded years (-000001-…) outside 0000-9999. */
const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)) && new Date(s).toISOString() === s, 'not an ISO 8601 instant');
const status = z.enum(STATUSES);
const errorBody = z.strictObject({ error: z.string().min(1), code: z.string().regex(/^[a-z_]+$/) });
const me = z.strictObject({
  user: z.strictObject({ id: z.string(), email: z.string(), name: z.string(), role: z.enum(['support_staff', 'client_admin', 'supervisor']) }),
  tenant: z.strictObject({ id: z.string(), name: z.string() }),
  agent: z.strictObject({ id: z.string(), status, chosenStatus: status }).nullable(),
  settings: z.strictObject({ heartbeatIntervalMs: z.number(), offlineAfterMs: z.number(), awayAfterMs: z.number(), timeZone: z.string() }),
  canManage: z.boolean(),
});
const reasonRef = z.strictObject({ id: z.string(), label: z.string() });
const actor = z.strictObject({ id: z.string(), name: z.string().nullable() });
const agentShape = z.strictObject({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  status,
  chosenStatus: status,
  lastSeen: iso.nullable(),
  secondsSinceSeen: z.number().nullable(),
  activeChats: z.number().int(),
  maxChats: z.number().int(),
  reason: reasonRef.nullable(),
  mechanism: z.enum(MECHANISMS).nullable(),
  since: iso.nullable(),
  until: iso.nullable(),
  setBy: actor.nullable(),
});
const SUCCESS: Record<string, z.ZodType> = {
  'POST /api/auth/login': me,
  'GET /api/auth/me': me,
  'POST /api/auth/heartbeat': z.union([
    z.strictObject({ status, lastSeen: iso, intervalMs: z.number().positive() }),
    z.strictObject({ status: z.null(), lastSeen: z.null(), intervalMs: z.null() }),
  ]),
  'PUT /api/agents/me/status': z.strictObject({ status, agent: agentShape }),
  'GET /api/agents': z.strictObject({ agents: z.array(agentShape) }),
  'GET /api/agents/:id/history': z.strictObject({
    agentId: z.string(),
    from: iso,
    to: iso,
    statusAtStart: status,
    events: z.array(
      z.strictObject({ from: status, to: status, mechanism: z.enum(MECHANISMS), reason: reasonRef.nullable(), actor: actor.nullable(), at: iso }),
    ),
    nextCursor: z.string().nullable(),
  }),
  'GET /healthz': z.strictObject({ status: z.literal('ok') }),
};

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * Sends one request from the fuzz's address. A stream that opens is read up to its first snapshot and closed; a HEAD
 * is done with its headers.
 */
function send(request: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...request.headers };
    if (request.cookie !== undefined) headers.cookie = request.cookie;
    // Node's client frames a body of GET, DELETE or OPTIONS only with a length: without one, the body would be
    // read as the start of the next request on the connection.
    if (request.body !== undefined) headers['content-length'] = String(request.body.length);
    let closedByUs = false;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress: fromAddress,
        method: request.method,
        path: request.path,
        headers,
        agent: keepAlive,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const done = () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() });
        const streaming = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
        if (request.method === 'HEAD' && streaming) {
          closedByUs = true;
          req.destroy();
          done();
          return;
        }
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (streaming && /event: snapshot\ndata: .*\n\n/.test(Buffer.concat(chunks).toString())) {
            closedByUs = true;
            req.destroy();
          }
        });
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within 10 s: ${request.method} ${request.path}`)));
    req.on('error', (error) => {
      if (!closedByUs) reject(error);
    });
    req.end(request.body);
  });
}

/** Why an answer is wrong, or null. */
function problem(request: FuzzRequest, routeKey: string, answer: Answer): string | null {
  if (answer.status >= 500) return `a ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (request.method === 'HEAD') return null;
  // Node's HTTP parser refuses what never reaches the app (a request line or headers over 16 kB) with an empty answer.
  if ([400, 413, 431].includes(answer.status) && !answer.headers['content-type'] && answer.body === '') return null;
  // Express answers OPTIONS on a known path itself: the methods it allows.
  if (request.method === 'OPTIONS' && answer.status === 200 && answer.headers.allow) return null;
  const type = answer.headers['content-type'] ?? '';
  if (answer.status === 204) return answer.body === '' ? null : 'a 204 with a body';
  if (answer.status < 300 && routeKey === 'GET /api/agents/stream') {
    return type.startsWith('text/event-stream') && answer.body.includes('event: snapshot') ? null : `stream answered ${type}`;
  }
  // Outside /api (health and metrics) another method meets Express's own 404 page, which carries nothing.
  if (!request.path.startsWith('/api/') && answer.status === 404 && answer.body.includes(`Cannot ${request.method} `)) return null;
  if (answer.status < 300 && routeKey === 'GET /metrics') {
    return type.startsWith('text/plain') && /^process_cpu_user_seconds_total /m.test(answer.body) ? null : 'metrics not in text format';
  }
  if (!type.startsWith('application/json')) return `${answer.status} answered ${type || 'no content type'}: ${answer.body.slice(0, 200)}`;
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    return `${answer.status} answered JSON that does not parse: ${answer.body.slice(0, 200)}`;
  }
  const shape = answer.status >= 400 ? errorBody : SUCCESS[routeKey];
  if (!shape) return `${answer.status} on ${routeKey}, which has no success with a body`;
  const parsed = shape.safeParse(json);
  return parsed.success ? null : `${answer.status} answered ${answer.body.slice(0, 300)}: ${parsed.error.message.slice(0, 300)}`;
}

/** Everything of tenant B that a request of tenant A could change. */
async function rowsOf(tenantId: string): Promise<unknown> {
  const q = async (sql: string) => (await server.owner.query(sql, [tenantId])).rows;
  return {
    agents: await q(`select * from human_agents where tenant_id = $1 order by id`),
    tabs: await q(`select * from presence_private.sessions where tenant_id = $1 order by agent_id, session_id`),
    events: await q(`select * from presence.status_events where tenant_id = $1 order by at, id`),
    users: await q(`select * from presence_accounts.users where tenant_id = $1 order by id`),
    signIns: await q(
      `select s.* from presence_accounts.auth_sessions s join presence_accounts.users u on u.id = s.user_id
        where u.tenant_id = $1 order by s.id`,
    ),
    tenant: await q(`select * from tenants where id = $1`),
    settings: await q(`select * from presence.settings where tenant_id = $1`),
  };
}

/** What of B's would be a leak in an answer to A (B's ids count only when the request did not name them). */
function leaks(request: FuzzRequest, answer: Answer): string[] {
  const secrets = [b.agent.email, b.colleague.email, b.supervisor.email, b.agent.name, b.colleague.name, b.supervisor.name];
  const ids = [b.agent.tenantId, b.agent.agentId!, b.colleague.agentId!, b.agent.userId, b.colleague.userId, b.supervisor.userId];
  const asked = decodeSafely(request.path) + (request.body?.toString() ?? '');
  return [...secrets, ...ids.filter((id) => !asked.includes(id))].filter((s) => answer.body.includes(s));
}

function decodeSafely(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

describe('fuzzed requests on every route', () => {
  it('never answer 5xx, always the documented success or JSON {error, code}, and never reach tenant B', async () => {
    // Setup
    const before = await rowsOf(b.agent.tenantId);
    const statuses = new Map<number, number>();
    let requests = 0;

    // Action
    await fc.assert(
      fc.asyncProperty(requestSpec, async (spec) => {
        const request = build(spec);
        const routeKey = `${request.method} ${spec.route.path}`;
        // A sign-out ends the caller's sign-in: it gets a sign-in of its own, so the others stay signed in.
        const signedIn = spec.identity === 'agent' ? a.agent : spec.identity === 'supervisor' ? a.supervisor : null;
        if (request.method === 'POST' && spec.route.path === '/api/auth/logout' && signedIn && request.cookie?.includes(signedIn.cookie)) {
          request.cookie = request.cookie.replaceAll(signedIn.cookie, await signIn(server, signedIn));
        }
        const answer = await send(request);
        requests += 1;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const wrong = problem(request, routeKey, answer);
        if (wrong) throw new Error(`${request.method} ${request.path} as ${request.identity}: ${wrong}`);
        const leaked = leaks(request, answer);
        if (leaked.length) throw new Error(`${request.method} ${request.path} as ${request.identity} answered B's ${leaked.join(', ')}`);
      }),
      { numRuns: 5_000, endOnFailure: true },
    );
    const after = await rowsOf(b.agent.tenantId);
    const counts = Object.fromEntries([...statuses].sort(([x], [y]) => x - y));
    console.info(`fuzz: ${requests} requests from ${fromAddress}, statuses ${JSON.stringify(counts)}`);

    // Assertions
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(after).toEqual(before);
    expect(requests).toBe(5_000);
  }, 120_000); // about 10 s on a 2-core machine; a slow CI machine gets room
});

describe('tenant isolation, on purpose', () => {
  it('every route with tenant B\'s ids answers tenant A\'s users as if B did not exist, and B stays as it was', async () => {
    // Setup
    const before = await rowsOf(b.agent.tenantId);
    const stream = await openStream(server, a.supervisor.cookie);
    await stream.next('snapshot');
    const probes: Array<[string, () => ReturnType<typeof call>]> = [];
    for (const caller of [a.agent, a.supervisor]) {
      const { cookie } = caller;
      for (const id of [b.agent.agentId!, b.colleague.agentId!]) {
        probes.push(
          [`history of B's agent`, () => call(server, 'GET', `/api/agents/${id}/history`, { cookie })],
          [`beat naming B's agent`, () => call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId: 'tab-1', agentId: id, tenantId: b.agent.tenantId } })],
          [`leave of B's tab`, () => call(server, 'POST', '/api/auth/leave', { cookie, body: { sessionId: 'tab-1', agentId: id } })],
          [`status naming B's agent`, () => call(server, 'PUT', '/api/agents/me/status', { cookie, body: { status: 'offline', agentId: id } })],
          [`status at B's path as ${caller === a.supervisor ? 'a manager' : 'an agent'}`, () => call(server, 'PUT', `/api/agents/${id}/status`, { cookie, body: { status: 'offline' } })],
          [`day of B's agent`, () => call(server, 'GET', `/api/agents/${id}/day`, { cookie })],
          [`sign-out naming B's tab`, () => call(server, 'POST', '/api/auth/logout', { cookie: 'presence_session=none', body: { sessionId: 'tab-1' } })],
        );
      }
      probes.push(
        ['agents of B by query', () => call(server, 'GET', `/api/agents?tenantId=${b.agent.tenantId}`, { cookie })],
        ['me', () => call(server, 'GET', '/api/auth/me', { cookie })],
      );
    }

    // Action
    const answers = [];
    for (const [name, probe] of probes) answers.push({ name, answer: await probe() });
    const after = await rowsOf(b.agent.tenantId);
    // B's own changes, then one of A's: A's stream hears its own, never B's.
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: b.agent.cookie, body: { sessionId: 'tab-9' } });
    await call(server, 'PUT', '/api/agents/me/status', { cookie: b.agent.cookie, body: { status: 'away' } });
    await call(server, 'PUT', '/api/agents/me/status', { cookie: a.agent.cookie, body: { status: 'available' } });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: a.agent.cookie, body: { sessionId: 'tab-9' } });
    await call(server, 'PUT', '/api/agents/me/status', { cookie: a.agent.cookie, body: { status: 'dnd' } });
    const ofB = await stream.next('status', (d) => d.agentId !== a.agent.agentId, 1_000).catch(() => null);
    const own = await stream.next('status', (d) => d.agentId === a.agent.agentId && d.to === 'dnd');
    stream.close();

    // Assertions
    for (const { name, answer } of answers) {
      const text = JSON.stringify(answer.body);
      const secrets = [b.agent.email, b.colleague.email, b.agent.name, b.colleague.name];
      expect({ name, leaked: secrets.filter((s) => text.includes(s)) }).toEqual({ name, leaked: [] });
      expect({ name, status: answer.status }).toEqual({ name, status: expect.toBeOneOf([200, 204, 403, 404]) });
      if (name.startsWith('history') || name.startsWith('day') || name === `status at B's path as a manager`) {
        expect({ name, status: answer.status }).toEqual({ name, status: 404 });
      }
      if (name === `status at B's path as an agent`) expect({ name, status: answer.status }).toEqual({ name, status: 403 });
      if (name === 'agents of B by query') {
        expect((answer.body.agents as Array<{ id: string }>).map((x) => x.id).sort()).toEqual([a.agent.agentId, a.colleague.agentId].sort());
      }
    }
    expect(after).toEqual(before);
    expect(ofB).toBeNull();
    expect(own).toMatchObject({ agentId: a.agent.agentId, to: 'dnd' });
  });
});

describe('writes from another site', () => {
  it('every write route refuses a foreign or null Origin with 403 and changes nothing, the sign-in included', async () => {
    // Setup
    const ada = await signedInUser(server, { tenantSettings: { offline_after_s: 3600 } });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });
    const before = await rowsOf(ada.tenantId);
    const writes = (origin: string) => {
      const headers = { origin };
      const { cookie } = ada;
      return [
        call(server, 'POST', '/api/auth/heartbeat', { cookie, headers, body: { sessionId: 'tab-2', activity: 'idle' } }),
        call(server, 'POST', '/api/auth/leave', { cookie, headers: { ...headers, 'content-type': 'text/plain' }, body: '{"sessionId":"tab-1"}' }),
        call(server, 'PUT', '/api/agents/me/status', { cookie, headers, body: { status: 'dnd' } }),
        call(server, 'POST', '/api/auth/logout', { cookie, headers }),
        call(server, 'POST', '/api/auth/login', { headers, body: { email: ada.email, password: ada.password } }),
      ];
    };

    // Action
    const answers = await Promise.all([...writes('https://evil.example'), ...writes('null')]);
    const after = await rowsOf(ada.tenantId);
    const me = await call(server, 'GET', '/api/auth/me', { cookie: ada.cookie });

    // Assertions
    expect(answers.map((a) => ({ status: a.status, code: a.body.code }))).toEqual(
      Array(10).fill({ status: 403, code: 'forbidden_origin' }),
    );
    expect(answers.every((a) => a.headers.getSetCookie().length === 0)).toBe(true);
    expect(after).toEqual(before);
    expect(me.status).toBe(200);
  });
});
