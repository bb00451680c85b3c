// Sign-ins never starve beats: passwords are verified on a pool of their own, a few at a time,
// behind a short queue; beyond it a sign-in is answered 503 at once. A pool whose connections are all busy answers
// 503 too, and is logged as a saturated pool, once, not as a database outage. The real app and PostgreSQL; sign-ins
// are held in SQL by a lock the test takes (the row sign_in locks for the client's address), not by timing.
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/config.ts';
import { call, signIn, createUser, startTestServer, type LogLine, type TestServer } from '../helpers/server.ts';

/** The app as npm start builds it, with the settings given, its log kept for the test, and a pool of `poolMax`. */
async function startServer(settings: Partial<Config>, poolMax = 10): Promise<TestServer & { logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const server = await startTestServer({ config: { trustProxy: 'loopback', ...settings }, poolMax, logs });
  return { ...server, logs };
}

const servers: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

/** Holds every sign-in from `address` in SQL: the row presence_accounts.sign_in locks for it, locked until release. */
async function holdSignInsFrom(owner: pg.Pool, address: string): Promise<{ release(): Promise<void> }> {
  const client = await owner.connect();
  await client.query('begin');
  await client.query(
    `insert into presence_accounts.sign_in_verifications (kind, key, last_at) values ('address', $1, now())
     on conflict (kind, key) do update set last_at = now()`,
    [address],
  );
  return {
    async release() {
      await client.query('commit');
      client.release();
    },
  };
}

/** Waits until `n` sign-ins of the app's login wait on a lock in PostgreSQL (the state, polled; no clock involved). */
async function untilWaitingOnLock(owner: pg.Pool, n: number): Promise<void> {
  for (;;) {
    const { rows } = await owner.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where wait_event_type = 'Lock' and query like '%presence_accounts.sign_in(%'`,
    );
    if (rows[0]!.n >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a sign-in flood', () => {
  it('beyond one running and one queued sign-in answers 503 sign_in_busy with Retry-After at once, and beats keep their pool', async () => {
    // Setup: one sign-in connection, a queue of one; an agent signed in and beating; sign-ins from one address held.
    const server = await startServer({ signInConnections: 1, signInQueue: 1 });
    servers.push(server);
    const agent = await createUser(server.owner);
    const cookie = await signIn(server, agent);
    const held = await holdSignInsFrom(server.owner, '203.0.113.50');

    // Action: 12 wrong passwords at once (as many as the request path's pool has connections, and two more), then a beat.
    const flood = Array.from({ length: 12 }, (_, i) =>
      call(server, 'POST', '/api/auth/login', {
        body: { email: `flood-${i}@example.com`, password: 'wrong password' },
        headers: { 'x-forwarded-for': '203.0.113.50' },
      }),
    );
    await untilWaitingOnLock(server.owner, 1);
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId: 'tab-1' } });
    await held.release();
    const answers = await Promise.all(flood);

    // Assertions
    expect(beat.status).toBe(200);
    const busy = answers.filter((a) => a.status === 503);
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(2).fill(401), ...Array(10).fill(503)]);
    for (const a of busy) {
      expect(a.body).toEqual({ error: 'too many sign-ins at once: try again in a second', code: 'sign_in_busy' });
      expect(a.headers.get('retry-after')).toBe('1');
    }
  });
});

describe('a saturated pool', () => {
  it('answers 503 with Retry-After and logs "pool saturated" once, never "database unavailable"', async () => {
    // Setup: a request-path pool of two connections, one the LISTEN connection, the other held by the test;
    // PostgreSQL answers all along.
    const server = await startServer({}, 2);
    servers.push(server);
    const agent = await createUser(server.owner);
    const cookie = await signIn(server, agent);
    const taken = await server.services.db.connect();
    const before = server.logs.length;

    // Action: three beats wait for the pool's only connection (2 s, connectionTimeoutMillis), then one after it is back.
    const during = await Promise.all(
      Array.from({ length: 3 }, () => call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId: 'tab-1' } })),
    );
    taken.release();
    const after = await call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId: 'tab-1' } });
    const lines = server.logs.slice(before);

    // Assertions
    expect(during.map((r) => r.status)).toEqual([503, 503, 503]);
    expect(during[0]!.headers.get('retry-after')).toEqual(expect.any(String));
    expect(after.status).toBe(200);
    expect(lines.filter((l) => /^pool saturated/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => /database unavailable/.test(l.msg))).toEqual([]);
  });
});
