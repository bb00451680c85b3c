// The supervisor's routes of the standalone server: the tenant's reasons (managers edit them), the team summary and
// one agent's day, each refusing what it must.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, openStream, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('the reasons routes', () => {
  it('a supervisor adds, renames, reorders and retires reasons; everyone in the tenant reads them', async () => {
    // Setup
    const boss = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: boss.tenantId });

    // Action
    const lunch = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'away', label: 'Lunch', defaultDurationS: 3600 } });
    const meeting = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'away', label: 'Meeting' } });
    await call(server, 'PATCH', `/api/reasons/${meeting.body.id}`, { cookie: boss.cookie, body: { position: 0, label: 'Team meeting' } });
    const retired = await call(server, 'PATCH', `/api/reasons/${lunch.body.id}`, { cookie: boss.cookie, body: { retired: true, defaultDurationS: null } });
    const list = await call(server, 'GET', '/api/reasons', { cookie: ada.cookie });

    // Assertions
    expect(lunch).toMatchObject({ status: 201, body: { status: 'away', label: 'Lunch', position: 0, defaultDurationS: 3600, retired: false } });
    expect(retired.body).toMatchObject({ retired: true, defaultDurationS: null });
    expect(list.body.reasons).toEqual([
      { id: meeting.body.id, status: 'away', label: 'Team meeting', position: 0, defaultDurationS: null, retired: false },
      { id: lunch.body.id, status: 'away', label: 'Lunch', position: 1, defaultDurationS: null, retired: true },
    ]);
  });

  it('answers 403 to an agent who edits, 409 to a duplicate label, 404 for another tenant\'s reason, 400 naming a bad field', async () => {
    // Setup
    const boss = await signedInUser(server, { role: 'client_admin' });
    const ada = await signedInUser(server, { tenantId: boss.tenantId });
    const stranger = await signedInUser(server, { role: 'supervisor' });
    const focus = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'dnd', label: 'Focus' } });

    // Action
    const byAgent = await call(server, 'POST', '/api/reasons', { cookie: ada.cookie, body: { status: 'dnd', label: 'Deep work' } });
    const duplicate = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'dnd', label: 'focus' } });
    const foreign = await call(server, 'PATCH', `/api/reasons/${focus.body.id}`, { cookie: stranger.cookie, body: { label: 'Mine' } });
    const long = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'away', label: 'x'.repeat(41) } });

    // Assertions
    expect(byAgent).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(duplicate).toMatchObject({ status: 409, body: { code: 'conflict' } });
    expect(foreign).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(long).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(long.body.error).toMatch(/^label:/);
  });
});

describe('GET /api/summary', () => {
  it('counts the agents per status, the free capacity of the available ones and the queue', async () => {
    // Setup: Ada available with room for 3, Bob away, Cy offline; two chats waiting.
    const ada = await signedInUser(server, { name: 'Ada', maxChats: 3 });
    const bob = await signedInUser(server, { name: 'Bob', tenantId: ada.tenantId });
    await signedInUser(server, { name: 'Cy', tenantId: ada.tenantId });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab' } });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: bob.cookie, body: { sessionId: 'tab' } });
    await call(server, 'PUT', '/api/agents/me/status', { cookie: bob.cookie, body: { status: 'away' } });
    await server.owner.query('select presence.open_chat($1), presence.open_chat($1)', [ada.tenantId]);

    // Action
    const res = await call(server, 'GET', '/api/summary', { cookie: bob.cookie });

    // Assertions
    expect(res.body).toEqual({
      at: expect.any(String),
      statuses: { available: 1, away: 1, dnd: 0, offline: 1 },
      reasons: [],
      freeCapacity: 3,
      queuedChats: 2,
      oldestQueuedWaitS: expect.any(Number),
    });
  });
});

describe('the stream\'s summary events', () => {
  it('a console gets the summary when it opens and again within about a second of a change', async () => {
    // Setup
    const boss = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: boss.tenantId, maxChats: 4 });
    const stream = await openStream(server, boss.cookie);

    // Action
    const first = await stream.next('summary', undefined, 3_000);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab' } });
    const changed = await stream.next('summary', (s) => s.statuses.available === 1, 3_000);
    stream.close();

    // Assertions
    expect(first).toMatchObject({ statuses: { available: 0, away: 0, dnd: 0, offline: 1 }, freeCapacity: 0, queuedChats: 0 });
    expect(changed).toMatchObject({ statuses: { available: 1, offline: 0 }, freeCapacity: 4 });
  });

  it('a chat opened, assigned or closed reaches the console\'s summary, though no status changed', async () => {
    // Setup
    const boss = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: boss.tenantId, maxChats: 2 });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab' } });
    const stream = await openStream(server, boss.cookie);
    await stream.next('summary', (s) => s.statuses.available === 1, 3_000);

    // Action
    await server.owner.query('select presence.open_chat($1)', [boss.tenantId]);
    const queued = await stream.next('summary', (s) => s.queuedChats === 1, 3_000);
    const { rows } = await server.owner.query<{ chat_id: string }>('select chat_id::text from presence.assign_chat($1)', [boss.tenantId]);
    const assigned = await stream.next('summary', (s) => s.queuedChats === 0 && s.freeCapacity === 1, 3_000);
    await server.owner.query('select presence.close_chat($1, $2)', [boss.tenantId, rows[0]!.chat_id]);
    const closed = await stream.next('summary', (s) => s.freeCapacity === 2, 3_000);
    stream.close();

    // Assertions
    expect(queued).toMatchObject({ queuedChats: 1, freeCapacity: 2, oldestQueuedWaitS: expect.any(Number) });
    expect(assigned).toMatchObject({ queuedChats: 0, freeCapacity: 1, oldestQueuedWaitS: null });
    expect(closed).toMatchObject({ queuedChats: 0, freeCapacity: 2, statuses: { available: 1 } });
  });
});

describe('GET /api/agents/:id/day', () => {
  it('answers today in the tenant\'s time zone by default, with the day\'s events and totals', async () => {
    // Setup
    const ada = await signedInUser(server, { tenantSettings: { time_zone: 'Asia/Tokyo' } });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab' } });
    const { rows } = await server.owner.query<{ today: string }>(`select to_char(now() at time zone 'Asia/Tokyo', 'YYYY-MM-DD') as today`);

    // Action
    const res = await call(server, 'GET', `/api/agents/${ada.agentId}/day`, { cookie: ada.cookie });

    // Assertions
    expect(res.body).toMatchObject({
      agentId: ada.agentId,
      date: rows[0]!.today,
      timeZone: 'Asia/Tokyo',
      statusAtStart: 'offline',
      events: [{ from: 'offline', to: 'available', mechanism: 'heartbeat', reason: null, actor: null }],
      totals: expect.arrayContaining([{ status: 'available', reason: null, seconds: expect.any(Number) }]),
    });
  });

  it('answers 404 for another tenant\'s agent and 400 for a date that is not YYYY-MM-DD', async () => {
    // Setup
    const ada = await signedInUser(server);
    const stranger = await signedInUser(server);

    // Action
    const foreign = await call(server, 'GET', `/api/agents/${ada.agentId}/day`, { cookie: stranger.cookie });
    const badDate = await call(server, 'GET', `/api/agents/${ada.agentId}/day?date=tomorrow`, { cookie: ada.cookie });

    // Assertions
    expect(foreign).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(badDate).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(badDate.body.error).toMatch(/^date:/);
  });
});

describe('PUT /api/agents/:id/status', () => {
  it('a supervisor sets Away · Meeting for 15 minutes: the agent\'s own page shows it set by the supervisor, beats keep it, the agent may choose again', async () => {
    // Setup
    const boss = await signedInUser(server, { role: 'supervisor', name: 'Morgan' });
    const ada = await signedInUser(server, { tenantId: boss.tenantId, name: 'Ada' });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab' } });
    const meeting = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'away', label: 'Meeting', defaultDurationS: 900 } });

    // Action
    const set = await call(server, 'PUT', `/api/agents/${ada.agentId}/status`, { cookie: boss.cookie, body: { status: 'away', reason: meeting.body.id } });
    const me = await call(server, 'GET', '/api/auth/me', { cookie: ada.cookie });
    const agents = await call(server, 'GET', '/api/agents', { cookie: ada.cookie });
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab' } });
    const again = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'available' } });

    // Assertions
    expect(set).toMatchObject({ status: 200, body: { status: 'away', agent: { id: ada.agentId, status: 'away' } } });
    expect(new Date(set.body.agent.until).getTime() - Date.now()).toBeGreaterThan(890_000);
    expect(me.body.agent).toMatchObject({ status: 'away', chosenStatus: 'away' });
    expect(agents.body.agents[0]).toMatchObject({
      status: 'away',
      reason: { id: meeting.body.id, label: 'Meeting' },
      mechanism: 'supervisor',
      setBy: { id: boss.userId, name: 'Morgan' },
    });
    expect(beat.body.status).toBe('away');
    expect(again.body).toMatchObject({ status: 'available', agent: { mechanism: 'manual', setBy: { id: ada.userId, name: 'Ada' }, until: null } });
  });

  it('answers 403 to an agent for another agent, 404 for another tenant\'s agent, 400 naming a bad reason or until', async () => {
    // Setup
    const boss = await signedInUser(server, { role: 'client_admin' });
    const ada = await signedInUser(server, { tenantId: boss.tenantId });
    const bob = await signedInUser(server, { tenantId: boss.tenantId });
    const stranger = await signedInUser(server);
    const focus = await call(server, 'POST', '/api/reasons', { cookie: boss.cookie, body: { status: 'dnd', label: 'Focus' } });

    // Action
    const byAgent = await call(server, 'PUT', `/api/agents/${bob.agentId}/status`, { cookie: ada.cookie, body: { status: 'offline' } });
    const across = await call(server, 'PUT', `/api/agents/${stranger.agentId}/status`, { cookie: boss.cookie, body: { status: 'offline' } });
    const wrongReason = await call(server, 'PUT', `/api/agents/${bob.agentId}/status`, { cookie: boss.cookie, body: { status: 'away', reason: focus.body.id } });
    const past = await call(server, 'PUT', '/api/agents/me/status', { cookie: ada.cookie, body: { status: 'dnd', until: '2020-01-01T00:00:00Z' } });

    // Assertions
    expect(byAgent).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(across).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(wrongReason).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(wrongReason.body.error).toMatch(/^reason: "Focus" is a reason for dnd, not for away/);
    expect(past).toMatchObject({ status: 400, body: { code: 'invalid_input' } });
    expect(past.body.error).toMatch(/^until: must be later than now/);
  });
});
