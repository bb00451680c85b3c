import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentRow } from '../helpers/db.ts';
import { call, createUser, signIn, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('POST /api/auth/login', () => {
  it('signs an agent in with an HttpOnly SameSite=Lax session cookie and answers who it is', async () => {
    // Setup
    const user = await createUser(server.owner, { name: 'Ada Agent' });

    // Action
    const res = await fetch(`${server.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: user.email.toUpperCase(), password: user.password }),
    });

    // Assertions
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('presence_session='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
    expect(await res.json()).toEqual({
      user: { id: user.userId, email: user.email, name: 'Ada Agent', role: 'support_staff' },
      tenant: { id: user.tenantId, name: expect.any(String) },
      agent: { id: user.agentId, status: 'offline', chosenStatus: 'available' },
      settings: { heartbeatIntervalMs: 30_000, offlineAfterMs: 90_000, awayAfterMs: 300_000, timeZone: 'UTC' },
      canManage: false,
    });
  });

  it('sets a Secure cookie outside development and test', async () => {
    // Setup
    const production = await startTestServer({ config: { secureCookies: true } });
    const user = await createUser(production.owner);

    // Action
    const res = await fetch(`${production.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: user.email, password: user.password }),
    });
    await production.close();

    // Assertions
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().find((c) => c.startsWith('presence_session='))).toMatch(/Secure/);
  });

  it('answers one generic 401 for a wrong password and for an unknown e-mail', async () => {
    // Setup
    const user = await createUser(server.owner);

    // Action
    const wrongPassword = await call(server, 'POST', '/api/auth/login', {
      body: { email: user.email, password: 'not the password' },
    });
    const unknownEmail = await call(server, 'POST', '/api/auth/login', {
      body: { email: 'nobody-here@example.com', password: user.password },
    });

    // Assertions
    const expected = { error: 'invalid email or password', code: 'invalid_credentials' };
    expect(wrongPassword).toMatchObject({ status: 401, body: expected });
    expect(unknownEmail).toMatchObject({ status: 401, body: expected });
    expect(wrongPassword.headers.getSetCookie()).toEqual([]);
  });

  it('refuses a sign-in posted from a foreign origin (login CSRF), and signs nobody in', async () => {
    // Setup
    const user = await createUser(server.owner);

    // Action
    const res = await call(server, 'POST', '/api/auth/login', {
      body: { email: user.email, password: user.password },
      headers: { origin: 'https://evil.example.com' },
    });

    // Assertions
    expect(res).toMatchObject({ status: 403, body: { code: 'forbidden_origin' } });
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('rejects a body without a password with a 400 naming the field', async () => {
    // Action
    const res = await call(server, 'POST', '/api/auth/login', { body: { email: 'a@example.com' } });

    // Assertions
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_input');
    expect(res.body.error).toMatch(/password/);
  });

  describe('sign-in limits, counted in PostgreSQL', () => {
    let proxied: TestServer;
    beforeAll(async () => {
      // Behind a proxy on loopback, each test's client address is the X-Forwarded-For it sends. Room in the sign-in
      // queue for an office of 60 signing in at the same instant (the default queue answers most of them 503).
      proxied = await startTestServer({ config: { trustProxy: 'loopback', signInQueue: 60 } });
    });
    afterAll(() => proxied.close());

    let nextAddress = 0;
    const newAddress = () => `198.51.100.${++nextAddress}`;
    const attempt = (target: TestServer, address: string, email: string, password: string) =>
      call(target, 'POST', '/api/auth/login', { body: { email, password }, headers: { 'x-forwarded-for': address } });

    it('refuse the right password from an address after 10 failures of that account there, with Retry-After', async () => {
      // Setup
      const user = await createUser(proxied.owner);
      const address = newAddress();
      for (let i = 0; i < 10; i++) expect((await attempt(proxied, address, user.email, 'wrong password')).status).toBe(401);

      // Action
      const res = await attempt(proxied, address, user.email, user.password);

      // Assertions: the lock lasts the policy's window (15 minutes) from the last failure, and the answer says so.
      expect(res.status).toBe(429);
      const retryAfterS = Number(res.headers.get('retry-after'));
      expect(retryAfterS).toBeGreaterThan(840);
      expect(retryAfterS).toBeLessThanOrEqual(900);
      expect(res.body).toEqual({
        error: 'too many failed sign-in attempts: try again in 15 minutes',
        code: 'rate_limited',
        retryAfterS,
      });
    });

    it('cannot be aimed at a colleague: failures from elsewhere never refuse the right password from a clean address', async () => {
      // Setup: 25 failures for the account, from 25 other addresses (more than the per-account limit of 20)
      const user = await createUser(proxied.owner);
      for (let i = 0; i < 25; i++) await attempt(proxied, newAddress(), user.email, 'guess');
      const guesser = newAddress();
      await attempt(proxied, guesser, user.email, 'guess');

      // Action
      const colleague = await attempt(proxied, newAddress(), user.email, user.password);
      const guesserAgain = await attempt(proxied, guesser, user.email, user.password);

      // Assertions: the owner signs in; an address that already failed for this account is slowed to a stop
      expect(colleague.status).toBe(200);
      expect(guesserAgain).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    });

    it('never limit an office signing in from one address; 100 failures from one address refuse it', async () => {
      // Setup
      const office = newAddress();
      const people = await Promise.all(Array.from({ length: 60 }, () => createUser(proxied.owner)));

      // Action
      const signIns = await Promise.all(people.map((p) => attempt(proxied, office, p.email, p.password)));
      const sprayer = newAddress();
      for (let i = 0; i < 100; i++) await attempt(proxied, sprayer, `nobody-${i}@example.com`, 'guess');
      const sprayed = await attempt(proxied, sprayer, people[0]!.email, people[0]!.password);

      // Assertions
      expect(signIns.map((r) => r.status)).toEqual(people.map(() => 200));
      expect(sprayed.status).toBe(429);
    });

    it('hold across server processes and restarts, since every process counts in the same table', async () => {
      // Setup: failures through one server process
      const user = await createUser(proxied.owner);
      const address = newAddress();
      for (let i = 0; i < 10; i++) await attempt(proxied, address, user.email, 'wrong password');
      const other = await startTestServer({ config: { trustProxy: 'loopback' } });

      // Action: the right password through another
      const res = await attempt(other, address, user.email, user.password);
      await other.close();

      // Assertions
      expect(res.status).toBe(429);
    });
  });

  it('refuses a NUL byte in the e-mail with a 400 naming the field, not a 500', async () => {
    // Action
    const res = await call(server, 'POST', '/api/auth/login', { body: { email: 'a\u0000@example.com', password: 'x' } });

    // Assertions
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'invalid_input' });
    expect(res.body.error).toMatch(/^email: .*NUL/);
  });
});

describe('GET /api/auth/me', () => {
  it('answers 401 without a cookie and with a made-up one', async () => {
    // Action
    const none = await call(server, 'GET', '/api/auth/me');
    const madeUp = await call(server, 'GET', '/api/auth/me', { cookie: 'presence_session=made-up-token' });

    // Assertions
    for (const res of [none, madeUp]) expect(res).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
  });

  it('answers a supervisor with no agent', async () => {
    // Setup
    const supervisor = await signedInUser(server, { role: 'supervisor' });

    // Action
    const res = await call(server, 'GET', '/api/auth/me', { cookie: supervisor.cookie });

    // Assertions
    expect(res.status).toBe(200);
    expect(res.body.user.role).toBe('supervisor');
    expect(res.body.agent).toBeNull();
  });

  it('answers 401 once the session has expired', async () => {
    // Setup
    const agent = await signedInUser(server);
    await server.owner.query(
      `update presence_accounts.auth_sessions set expires_at = now() - interval '1 second'
        where user_id = $1`,
      [agent.userId],
    );

    // Action
    const me = await call(server, 'GET', '/api/auth/me', { cookie: agent.cookie });
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(me.status).toBe(401);
    expect(beat.status).toBe(401);
  });

  it('answers 401 once an operator revoked the user\'s sessions', async () => {
    // Setup
    const agent = await signedInUser(server);
    await server.owner.query('select presence_accounts.revoke_sessions($1)', [agent.userId]);

    // Action
    const me = await call(server, 'GET', '/api/auth/me', { cookie: agent.cookie });
    const agents = await call(server, 'GET', '/api/agents', { cookie: agent.cookie });
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(me.status).toBe(401);
    expect(agents.status).toBe(401);
    expect(beat).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
    expect(await tabsOf(server.owner, agent.agentId!)).toEqual([]);
  });
});

describe('POST /api/auth/logout', () => {
  it('ends the session and takes the agent offline at once, reason logout', async () => {
    // Setup
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
    expect((await agentRow(server.owner, agent.agentId!)).status).toBe('available');

    // Action
    const res = await call(server, 'POST', '/api/auth/logout', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie().join()).toMatch(/presence_session=;/);
    expect(await agentRow(server.owner, agent.agentId!)).toMatchObject({ status: 'offline', status_reason: 'logout' });
    expect((await call(server, 'GET', '/api/auth/me', { cookie: agent.cookie })).status).toBe(401);
  });

  it('ends every tab the session started even when the client names none', async () => {
    // Setup
    const agent = await signedInUser(server);
    for (const sessionId of ['tab-a', 'tab-b']) {
      await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId } });
    }

    // Action
    const res = await call(server, 'POST', '/api/auth/logout', { cookie: agent.cookie });

    // Assertions
    expect(res.status).toBe(204);
    expect((await agentRow(server.owner, agent.agentId!)).status).toBe('offline');
  });

  it('keeps the agent online while another browser of it is signed in and beating', async () => {
    // Setup
    const agent = await signedInUser(server);
    const otherBrowser = await signIn(server, agent);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'laptop' } });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: otherBrowser, body: { sessionId: 'desktop' } });

    // Action
    await call(server, 'POST', '/api/auth/logout', { cookie: agent.cookie, body: { sessionId: 'laptop' } });

    // Assertions
    expect((await agentRow(server.owner, agent.agentId!)).status).toBe('available');
    expect((await call(server, 'GET', '/api/auth/me', { cookie: otherBrowser })).status).toBe(200);
  });

  it('refuses the beats of the sign-in it ended, and writes no tab for them', async () => {
    // Setup
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
    await call(server, 'POST', '/api/auth/logout', { cookie: agent.cookie });

    // Action
    const beats = await Promise.all(
      ['tab-1', 'tab-2'].map((sessionId) => call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId } })),
    );

    // Assertions
    for (const beat of beats) expect(beat).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
    expect(await tabsOf(server.owner, agent.agentId!)).toEqual([]);
    expect(await agentRow(server.owner, agent.agentId!)).toMatchObject({ status: 'offline', status_reason: 'logout' });
  });

  it('racing a beat it waited for: the beat lands first and the sign-out then ends its tab', async () => {
    // Setup: the agent's row held, so the beat stops after it verified (and holds) its sign-in
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
    const holder = await holdAgent(server.owner, agent.agentId!);

    // Action
    const beat = call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-2' } });
    const beatPid = await waiterOf(server.owner, holder.pid);
    const logout = call(server, 'POST', '/api/auth/logout', { cookie: agent.cookie });
    await waiterOf(server.owner, beatPid);
    await holder.release();

    // Assertions
    expect((await beat).status).toBe(200);
    expect((await logout).status).toBe(204);
    expect(await tabsOf(server.owner, agent.agentId!)).toEqual([]);
    expect(await agentRow(server.owner, agent.agentId!)).toMatchObject({ status: 'offline', status_reason: 'logout' });
  });

  it('racing a beat that came after it: the beat is refused, and no tab outlives the sign-out', async () => {
    // Setup: the agent's row held, so the sign-out stops after it revoked the sign-in
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
    const holder = await holdAgent(server.owner, agent.agentId!);

    // Action
    const logout = call(server, 'POST', '/api/auth/logout', { cookie: agent.cookie });
    const logoutPid = await waiterOf(server.owner, holder.pid);
    const beat = call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-2' } });
    await waiterOf(server.owner, logoutPid);
    await holder.release();

    // Assertions
    expect((await logout).status).toBe(204);
    expect(await beat).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
    expect(await tabsOf(server.owner, agent.agentId!)).toEqual([]);
    expect(await agentRow(server.owner, agent.agentId!)).toMatchObject({ status: 'offline', status_reason: 'logout' });
  });

  it('answers 204 without a session too', async () => {
    // Action
    const res = await call(server, 'POST', '/api/auth/logout');

    // Assertions
    expect(res.status).toBe(204);
  });
});

describe('the beat of a sign-in', () => {
  it("beats for its own agent only: another tenant's sign-in naming the same tab touches nothing of this agent", async () => {
    // Setup
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
    const before = await agentRow(server.owner, agent.agentId!);
    const stranger = await signedInUser(server);

    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', { cookie: stranger.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(stranger.tenantId).not.toBe(agent.tenantId);
    expect(res).toMatchObject({ status: 200, body: { status: 'available' } });
    expect((await agentRow(server.owner, stranger.agentId!)).status).toBe('available');
    expect(await agentRow(server.owner, agent.agentId!)).toEqual(before);
    expect(await tabsOf(server.owner, agent.agentId!)).toEqual(['tab-1']);
  });
});

/** The ids of an agent's open tabs. */
async function tabsOf(owner: pg.Pool, agentId: string): Promise<string[]> {
  const { rows } = await owner.query<{ session_id: string }>(
    'select session_id from presence_private.sessions where agent_id = $1 order by session_id',
    [agentId],
  );
  return rows.map((r) => r.session_id);
}

/** Holds an agent's row (FOR UPDATE) in an open transaction of the owner's until release(). */
async function holdAgent(owner: pg.Pool, agentId: string): Promise<{ pid: number; release(): Promise<void> }> {
  const client = await owner.connect();
  await client.query('begin');
  await client.query('select 1 from public.human_agents where id = $1 for update', [agentId]);
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return {
    pid: rows[0]!.pid,
    async release() {
      await client.query('commit');
      client.release();
    },
  };
}

/** The backend that waits for a lock backend `pid` holds, once one does (a request's statement reaching it). */
async function waiterOf(owner: pg.Pool, pid: number): Promise<number> {
  for (let tries = 0; ; tries++) {
    const { rows } = await owner.query<{ pid: number }>(
      'select pid from pg_stat_activity where $1 = any (pg_blocking_pids(pid))',
      [pid],
    );
    if (rows[0]) return rows[0].pid;
    if (tries === 1_000) throw new Error(`no backend waited for backend ${pid}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
