import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silenceAgent } from '../helpers/db.ts';
import { call, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const beat = (cookie: string, sessionId = 'tab-1') =>
  call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId } });

describe('GET /api/agents', () => {
  it('lists the agents of the user\'s tenant with their derived status, and never another tenant\'s', async () => {
    // Setup
    const ada = await signedInUser(server, { name: 'Ada' });
    const bob = await signedInUser(server, { name: 'Bob', tenantId: ada.tenantId, maxChats: 3 });
    const stranger = await signedInUser(server, { name: 'Eve' });
    await beat(ada.cookie);
    await beat(stranger.cookie);

    // Action
    const res = await call(server, 'GET', '/api/agents', { cookie: bob.cookie });

    // Assertions
    expect(res.status).toBe(200);
    expect(res.body.agents).toEqual([
      {
        id: ada.agentId,
        name: 'Ada',
        email: ada.email,
        status: 'available',
        chosenStatus: 'available',
        lastSeen: expect.any(String),
        secondsSinceSeen: expect.any(Number),
        activeChats: 0,
        maxChats: 5,
        reason: null,
        mechanism: 'heartbeat',
        since: expect.any(String),
        until: null,
        setBy: null,
      },
      {
        id: bob.agentId,
        name: 'Bob',
        email: bob.email,
        status: 'offline',
        chosenStatus: 'available',
        lastSeen: null,
        secondsSinceSeen: null,
        activeChats: 0,
        maxChats: 3,
        reason: null,
        mechanism: null,
        since: null,
        until: null,
        setBy: null,
      },
    ]);
  });

  it('shows a silent agent offline before any sweep has run', async () => {
    // Setup
    const ada = await signedInUser(server);
    await beat(ada.cookie);
    await silenceAgent(server.owner, ada.agentId!, 600);

    // Action
    const res = await call(server, 'GET', '/api/agents', { cookie: ada.cookie });

    // Assertions
    expect(res.body.agents[0]).toMatchObject({ status: 'offline', secondsSinceSeen: expect.any(Number) });
    expect(res.body.agents[0].secondsSinceSeen).toBeGreaterThanOrEqual(600);
  });

  it('answers 401 without a session', async () => {
    // Action
    const res = await call(server, 'GET', '/api/agents');

    // Assertions
    expect(res).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
  });
});

describe('PUT /api/agents/me/status', () => {
  it('sets the chosen status and answers the effective one', async () => {
    // Setup
    const ada = await signedInUser(server);
    await beat(ada.cookie);

    // Action
    const res = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'dnd' } });

    // Assertions
    expect(res).toMatchObject({ status: 200, body: { status: 'dnd' } });
    const me = await call(server, 'GET', '/api/auth/me', { cookie: ada.cookie });
    expect(me.body.agent).toMatchObject({ status: 'dnd', chosenStatus: 'dnd' });
  });

  it('keeps an agent without a live tab offline while remembering the choice', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const res = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'away' } });

    // Assertions
    expect(res.body).toMatchObject({ status: 'offline', agent: { id: ada.agentId, status: 'offline', chosenStatus: 'away' } });
    expect((await beat(ada.cookie)).body.status).toBe('away');
  });

  it('rejects an unknown status with a 400 naming the allowed values', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const res = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'busy' } });

    // Assertions
    expect(res).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(res.body.error).toMatch(/available, away, dnd, offline/);
  });

  it('answers 403 for a supervisor, who has no status', async () => {
    // Setup
    const supervisor = await signedInUser(server, { role: 'supervisor' });

    // Action
    const res = await call(server, 'PUT', '/api/agents/me/status', { cookie: supervisor.cookie, body: { status: 'away' } });

    // Assertions
    expect(res).toMatchObject({ status: 403, body: { code: 'not_an_agent' } });
  });

  it('answers 429 with Retry-After to the 21st change within a minute, and keeps the status it had', async () => {
    // Setup: a live agent that changed its status 20 times.
    const ada = await signedInUser(server);
    await beat(ada.cookie);
    for (let i = 0; i < 20; i++) {
      const res = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: i % 2 ? 'available' : 'away' } });
      expect(res.status).toBe(200);
    }

    // Action
    const res = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'dnd' } });

    // Assertions
    expect(res).toMatchObject({ status: 429, body: { code: 'rate_limited' } });
    expect(res.body.error).toMatch(/at most 20 changes a minute/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const me = await call(server, 'GET', '/api/auth/me', { cookie: ada.cookie });
    expect(me.body.agent).toMatchObject({ status: 'available', chosenStatus: 'available' });
  });

  it('refuses a write that states a foreign origin', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const res = await call(server, 'PUT', '/api/agents/me/status', {
      cookie: ada.cookie,
      body: { status: 'dnd' },
      headers: { origin: 'http://attacker.example.com', 'content-type': 'application/json' },
    });

    // Assertions
    expect(res).toMatchObject({ status: 403, body: { code: 'forbidden_origin' } });
  });
});

describe('GET /api/agents/:id/history', () => {
  it('answers the timeline of the last 24 hours by default', async () => {
    // Setup
    const ada = await signedInUser(server);
    await beat(ada.cookie);
    await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'away' } });

    // Action
    const res = await call(server, 'GET', `/api/agents/${ada.agentId}/history`, { cookie: ada.cookie });

    // Assertions
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      agentId: ada.agentId,
      from: expect.any(String),
      to: expect.any(String),
      statusAtStart: 'offline',
      events: [
        { from: 'offline', to: 'available', mechanism: 'heartbeat', reason: null, actor: null, at: expect.any(String) },
        { from: 'available', to: 'away', mechanism: 'manual', reason: null, actor: { id: ada.userId, name: ada.name }, at: expect.any(String) },
      ],
      nextCursor: null,
    });
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(24 * 3600 * 1000);
  });

  it('answers the status at the start of a range and only the events inside it', async () => {
    // Setup
    const ada = await signedInUser(server);
    await beat(ada.cookie);
    const between = new Date(Date.now() + 5).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'dnd' } });

    // Action
    const to = new Date(Date.now() + 60_000).toISOString();
    const res = await call(server, 'GET', `/api/agents/${ada.agentId}/history?from=${between}&to=${to}`, {
      cookie: ada.cookie,
    });

    // Assertions
    expect(res.body.statusAtStart).toBe('available');
    expect(res.body.events.map((e: { to: string }) => e.to)).toEqual(['dnd']);
  });

  it('answers 404 for an agent of another tenant', async () => {
    // Setup
    const ada = await signedInUser(server);
    const stranger = await signedInUser(server);
    await beat(stranger.cookie);

    // Action
    const res = await call(server, 'GET', `/api/agents/${stranger.agentId}/history`, { cookie: ada.cookie });

    // Assertions
    expect(res).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(JSON.stringify(res.body)).not.toMatch(/heartbeat/);
  });

  it('rejects a range that is not ISO time or ends before it starts', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const notIso = await call(server, 'GET', `/api/agents/${ada.agentId}/history?from=yesterday`, { cookie: ada.cookie });
    const backwards = await call(
      server,
      'GET',
      `/api/agents/${ada.agentId}/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z`,
      { cookie: ada.cookie },
    );

    // Assertions
    expect(notIso).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(notIso.body.error).toMatch(/from/);
    expect(backwards).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
  });

  it('refuses the whole of time (the range of the report) with a 400 naming the 31-day limit', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const res = await call(
      server,
      'GET',
      `/api/agents/${ada.agentId}/history?from=0001-01-01T00:00:00Z&to=9999-12-31T00:00:00Z`,
      { cookie: ada.cookie },
    );

    // Assertions
    expect(res).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(res.body.error).toMatch(/at most 31 days/);
  });

  it('answers a page of `limit` events and a nextCursor that leads to the rest, with the same range', async () => {
    // Setup: three transitions.
    const ada = await signedInUser(server);
    await beat(ada.cookie);
    await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'away' } });
    await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'dnd' } });
    const path = `/api/agents/${ada.agentId}/history`;

    // Action
    const first = await call(server, 'GET', `${path}?limit=2`, { cookie: ada.cookie });
    const range = `from=${encodeURIComponent(first.body.from)}&to=${encodeURIComponent(first.body.to)}`;
    const second = await call(server, 'GET', `${path}?${range}&limit=2&cursor=${first.body.nextCursor}`, { cookie: ada.cookie });

    // Assertions
    expect(first.body.events.map((e: { to: string }) => e.to)).toEqual(['available', 'away']);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    expect(second.body).toMatchObject({ statusAtStart: 'offline', nextCursor: null });
    expect(second.body.events.map((e: { to: string }) => e.to)).toEqual(['dnd']);
  });

  it('rejects a limit that is not a whole number or over 2000, and a cursor it did not hand out, naming each', async () => {
    // Setup
    const ada = await signedInUser(server);
    const path = `/api/agents/${ada.agentId}/history`;

    // Action
    const get = (url: string) => call(server, 'GET', url, { cookie: ada.cookie });
    const [notNumber, tooMany, badCursor, forged] = await Promise.all([
      get(`${path}?limit=ten`),
      get(`${path}?limit=2001`),
      get(`${path}?cursor=a%20b`),
      get(`${path}?cursor=bm90IGEgY3Vyc29y`),
    ]);

    // Assertions
    for (const res of [notNumber, tooMany, badCursor, forged]) expect(res).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(notNumber.body.error).toMatch(/^limit: /);
    expect(tooMany.body.error).toMatch(/limit must be from 1 to 2000/);
    expect(badCursor.body.error).toMatch(/^cursor: /);
    expect(forged.body.error).toMatch(/cursor .* is not one this history handed out/);
  });
});

describe('GET /api/agents/:id/history when the database does not answer in time', () => {
  it.each([
    ['a statement timeout (57014)', { statementMs: 300 }],
    ['a lock timeout (55P03)', { lockMs: 300 }],
  ])('answers 503 with Retry-After on %s, never 500', async (_name, timeouts) => {
    // Setup: a server whose request path gives up after 300 ms; the history's table is locked meanwhile.
    const slow = await startTestServer({ timeouts });
    const ada = await signedInUser(slow);
    const locker = await slow.owner.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table presence.status_events in access exclusive mode');

      // Action
      const res = await call(slow, 'GET', `/api/agents/${ada.agentId}/history`, { cookie: ada.cookie });

      // Assertions
      expect(res).toMatchObject({ status: 503, body: { code: 'busy' } });
      expect(res.headers.get('retry-after')).toBe('5');
    } finally {
      await locker.query('rollback');
      locker.release();
      await slow.close();
    }
  });
});
