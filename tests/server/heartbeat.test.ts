import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { DatabaseAvailability } from '../../server/database/availability.ts';
import { Batcher } from '../../server/database/batcher.ts';
import { Database } from '../../server/database/handle.ts';
import { heartbeats, type Beat, type BeatResult } from '../../server/presence/sql/heartbeats.ts';
import { agentRow, eventsOf } from '../helpers/db.ts';
import { call, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('POST /api/auth/heartbeat', () => {
  it('makes a signed-in agent available and answers status, last seen and the interval', async () => {
    // Setup
    const agent = await signedInUser(server, { tenantSettings: { heartbeat_interval_s: 10, offline_after_s: 30 } });

    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'available', lastSeen: expect.any(String), intervalMs: 10_000 });
    const row = await agentRow(server.owner, agent.agentId!);
    expect(row.last_seen!.toISOString()).toBe(res.body.lastSeen);
    expect(await eventsOf(server.owner, agent.agentId!)).toEqual([
      { from_status: 'offline', to_status: 'available', mechanism: 'heartbeat' },
    ]);
  });

  it('turns an available agent away when its only tab reports idle', async () => {
    // Setup
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', {
      cookie: agent.cookie,
      body: { sessionId: 'tab-1', activity: 'idle' },
    });

    // Assertions
    expect(res.body.status).toBe('away');
    expect((await agentRow(server.owner, agent.agentId!)).status_reason).toBe('idle');
  });

  it('answers a supervisor with a null status and writes nothing', async () => {
    // Setup
    const supervisor = await signedInUser(server, { role: 'supervisor' });
    const before = await server.owner.query('select count(*)::int as n from presence.status_events where tenant_id = $1', [
      supervisor.tenantId,
    ]);

    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', { cookie: supervisor.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(res).toMatchObject({ status: 200, body: { status: null } });
    const after = await server.owner.query('select count(*)::int as n from presence.status_events where tenant_id = $1', [
      supervisor.tenantId,
    ]);
    expect(after.rows[0].n).toBe(before.rows[0].n);
    const tabs = await server.owner.query(
      'select count(*)::int as n from presence_private.sessions where tenant_id = $1',
      [supervisor.tenantId],
    );
    expect(tabs.rows[0].n).toBe(0);
  });

  it('answers 401 without a session cookie, whatever the body', async () => {
    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', { body: { sessionId: 'tab-1' } });
    const badBody = await call(server, 'POST', '/api/auth/heartbeat', { body: { sessionId: 'tab-1', activity: 'asleep' } });
    const madeUp = await call(server, 'POST', '/api/auth/heartbeat', {
      cookie: 'presence_session=made-up-token',
      body: { sessionId: 'tab-1' },
    });

    // Assertions
    for (const r of [res, badBody, madeUp]) expect(r).toMatchObject({ status: 401, body: { code: 'unauthenticated' } });
  });

  it("counts a beat without a body, as the original design's hook sends it, as one unnamed tab of that sign-in", async () => {
    // Setup
    const agent = await signedInUser(server);

    // Action: no body and no content type, twice, as a tab left open through a rollout keeps sending
    const beats = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/api/auth/heartbeat`, { method: 'POST', headers: { cookie: agent.cookie } });
      beats.push({ status: res.status, body: await res.json() });
    }

    // Assertions
    expect(beats.map((b) => [b.status, b.body.status])).toEqual([
      [200, 'available'],
      [200, 'available'],
    ]);
    const { rows } = await server.owner.query<{ session_id: string; sign_in: string }>(
      'select session_id, sign_in from presence_private.sessions where agent_id = $1',
      [agent.agentId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.session_id).toBe(`unnamed:${rows[0]!.sign_in}`);
  });

  it('rejects an unknown activity with a 400 naming it, and writes nothing', async () => {
    // Setup
    const agent = await signedInUser(server);

    // Action
    const badActivity = await call(server, 'POST', '/api/auth/heartbeat', {
      cookie: agent.cookie,
      body: { sessionId: 'tab-1', activity: 'asleep' },
    });

    // Assertions
    expect(badActivity).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(badActivity.body.error).toMatch(/activity/);
    expect((await agentRow(server.owner, agent.agentId!)).last_seen).toBeNull();
  });

  it('costs one database round trip for one beat (the sign-in verified in the beat\'s own call), and one per batch for a burst', async () => {
    // Setup
    const agents = await Promise.all(Array.from({ length: 20 }, () => signedInUser(server)));
    const single = server.requestQueryCount();
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agents[0]!.cookie, body: { sessionId: 'warm-up' } });
    const singleCalls = server.requestStatements(single);

    // Action
    const before = server.requestQueryCount();
    const responses = await Promise.all(
      agents.map((a, i) => call(server, 'POST', '/api/auth/heartbeat', { cookie: a.cookie, body: { sessionId: `tab-${i}` } })),
    );
    const burstCalls = server.requestStatements(before);

    // Assertions: every statement a beat sent is one presence_accounts.heartbeats call, and each beat is in exactly one
    expect(singleCalls.map((c) => c.text)).toEqual([expect.stringContaining('presence_accounts.heartbeats(')]);
    expect(responses.map((r) => r.body.status)).toEqual(agents.map(() => 'available'));
    expect(burstCalls.length).toBeGreaterThanOrEqual(1);
    expect(burstCalls.length).toBeLessThan(agents.length);
    for (const c of burstCalls) expect(c.text).toContain('presence_accounts.heartbeats(');
    const tabsSent = burstCalls.flatMap((c) => c.values[1] as string[]);
    expect(tabsSent.sort()).toEqual(agents.map((_, i) => `tab-${i}`).sort());
  });

  it('a signed-out beat sharing a batch with a signed-in one gets its 401 and does not fail its neighbour', async () => {
    // Setup
    const good = await signedInUser(server);
    const other = await signedInUser(server);
    await call(server, 'POST', '/api/auth/logout', { cookie: other.cookie });

    // Action
    const [ok, unauthenticated] = await Promise.all([
      call(server, 'POST', '/api/auth/heartbeat', { cookie: good.cookie, body: { sessionId: 'tab-1' } }),
      call(server, 'POST', '/api/auth/heartbeat', { cookie: other.cookie, body: { sessionId: 'tab-1' } }),
    ]);

    // Assertions
    expect(ok).toMatchObject({ status: 200, body: { status: 'available' } });
    expect(unauthenticated.status).toBe(401);
  });
});

describe('POST /api/auth/leave', () => {
  it('ends the tab from a text/plain beacon of the same origin and takes a lone agent offline, reason left', async () => {
    // Setup
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Action
    const res = await call(server, 'POST', '/api/auth/leave', {
      cookie: agent.cookie,
      body: JSON.stringify({ sessionId: 'tab-1' }),
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: server.url },
    });

    // Assertions
    expect(res.status).toBe(204);
    expect(await agentRow(server.owner, agent.agentId!)).toMatchObject({ status: 'offline', status_reason: 'left' });
  });

  it('accepts a JSON body and keeps the agent online while another tab beats', async () => {
    // Setup
    const agent = await signedInUser(server);
    for (const sessionId of ['tab-1', 'tab-2']) {
      await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId } });
    }

    // Action
    const res = await call(server, 'POST', '/api/auth/leave', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(res.status).toBe(204);
    expect((await agentRow(server.owner, agent.agentId!)).status).toBe('available');
  });

  it('refuses a beacon from a foreign origin and leaves the agent as it was', async () => {
    // Setup
    const agent = await signedInUser(server);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });

    // Action
    const res = await call(server, 'POST', '/api/auth/leave', {
      cookie: agent.cookie,
      body: JSON.stringify({ sessionId: 'tab-1' }),
      headers: { 'content-type': 'text/plain', origin: 'https://evil.example.com' },
    });

    // Assertions
    expect(res).toMatchObject({ status: 403, body: { code: 'forbidden_origin' } });
    expect((await agentRow(server.owner, agent.agentId!)).status).toBe('available');
  });

  it('answers 401 without a session and 400 for a body that is not JSON', async () => {
    // Setup
    const agent = await signedInUser(server);

    // Action
    const signedOut = await call(server, 'POST', '/api/auth/leave', { body: { sessionId: 'tab-1' } });
    const garbled = await call(server, 'POST', '/api/auth/leave', {
      cookie: agent.cookie,
      body: 'sessionId=tab-1',
      headers: { 'content-type': 'text/plain' },
    });

    // Assertions
    expect(signedOut.status).toBe(401);
    expect(garbled).toMatchObject({ status: 400, body: { code: 'malformed_json' } });
  });
});

describe('the batch of beats', () => {
  it('answers each beat of a batch that the database refused on its own, so a bad one fails alone', async () => {
    // Setup
    const good = await signedInUser(server);
    const db = new Database(server.services.db, new DatabaseAvailability(pino({ level: 'silent' })));
    const batcher = new Batcher<Beat, BeatResult>((batch) => heartbeats(db, batch));
    const beat = (tabId: string): Beat => ({
      tenantId: good.tenantId,
      agentId: good.agentId!,
      tabId,
      activity: 'active',
      signIn: null,
    });

    // Action: a NUL byte (which no route lets through) makes PostgreSQL refuse the whole batched call
    const results = await Promise.allSettled([
      batcher.run(beat('tab-1')),
      batcher.run(beat('tab-\u0000')),
      batcher.run(beat('tab-2')),
    ]);

    // Assertions
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { status: 'available' } });
    expect(results[1]).toMatchObject({ status: 'rejected' });
    expect(results[2]).toMatchObject({ status: 'fulfilled', value: { status: 'available' } });
  });

  it('the route rejects control characters in a session id with a 400', async () => {
    // Setup
    const agent = await signedInUser(server);

    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-\u0000' } });

    // Assertions
    expect(res).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(res.body.error).toMatch(/sessionId: must not contain control characters/);
  });
});
