import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silenceAgent } from '../helpers/db.ts';
import { call, openStream, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const beat = (cookie: string, sessionId = 'tab-1') =>
  call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId } });

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('GET /api/agents/stream', () => {
  it('opens with a snapshot of the tenant\'s agents', async () => {
    // Setup
    const ada = await signedInUser(server, { name: 'Ada' });
    await beat(ada.cookie);

    // Action
    const stream = await openStream(server, ada.cookie);
    const snapshot = await stream.next('snapshot');
    stream.close();

    // Assertions
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(snapshot.agents).toEqual([expect.objectContaining({ id: ada.agentId, name: 'Ada', status: 'available' })]);
  });

  it('pushes a status change of the tenant within a second', async () => {
    // Setup
    const watcher = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: watcher.tenantId });
    const stream = await openStream(server, watcher.cookie);
    await stream.next('snapshot');

    // Action
    const started = Date.now();
    await beat(ada.cookie);
    const change = await stream.next('status', (d) => d.agentId === ada.agentId, 1_000);
    const elapsed = Date.now() - started;
    stream.close();

    // Assertions
    expect(change).toEqual({
      agentId: ada.agentId,
      from: 'offline',
      to: 'available',
      chosenStatus: 'available',
      reason: 'heartbeat',
      at: expect.any(String),
    });
    expect(elapsed).toBeLessThan(1_000);
  });

  it('never sends another tenant\'s changes', async () => {
    // Setup
    const watcher = await signedInUser(server, { role: 'supervisor' });
    const colleague = await signedInUser(server, { tenantId: watcher.tenantId });
    const stranger = await signedInUser(server);
    const stream = await openStream(server, watcher.cookie);
    await stream.next('snapshot');

    // Action
    // Notifications arrive in commit order: had the stranger's change been sent, it would come first.
    await beat(stranger.cookie);
    await beat(colleague.cookie);
    await stream.next('status', (d) => d.agentId === colleague.agentId);
    stream.close();

    // Assertions
    await expect(stream.next('status', (d) => d.agentId === stranger.agentId, 200)).rejects.toThrow(/no status event/);
  });

  it('re-sends the snapshot every heartbeat interval so a silent agent turns offline without a sweep', async () => {
    // Setup
    const ada = await signedInUser(server, { tenantSettings: { heartbeat_interval_s: 1, offline_after_s: 2 } });
    await beat(ada.cookie);
    const stream = await openStream(server, ada.cookie);
    expect((await stream.next('snapshot')).agents[0].status).toBe('available');

    // Action
    await silenceAgent(server.owner, ada.agentId!, 60);
    const refreshed = await stream.next('snapshot', (d) => d.agents[0].status === 'offline', 2_500);
    stream.close();

    // Assertions
    expect(refreshed.agents[0].secondsSinceSeen).toBeGreaterThanOrEqual(60);
  });

  it('shares one snapshot query per period among all streams of a tenant', async () => {
    // Setup
    const ada = await signedInUser(server, { tenantSettings: { heartbeat_interval_s: 1, offline_after_s: 2 } });
    const streams = await Promise.all([1, 2, 3, 4, 5].map(() => openStream(server, ada.cookie)));
    await Promise.all(streams.map((s) => s.next('snapshot')));
    const before = server.queryCount();

    // Action
    await Promise.all(streams.map((s) => s.next('snapshot', undefined, 2_500)));
    const cost = server.queryCount() - before;
    for (const s of streams) s.close();

    // Assertions
    expect(cost).toBeGreaterThanOrEqual(1);
    expect(cost).toBeLessThanOrEqual(2);
  });

  it('refreshes tenants whose streams opened together at phases of their own, not in one burst', async () => {
    // Setup: 16 tenants' streams open at the same moment, as dashboards do after a deploy
    const users = await Promise.all(
      Array.from({ length: 16 }, () => signedInUser(server, { tenantSettings: { heartbeat_interval_s: 2, offline_after_s: 4 } })),
    );
    const streams = await Promise.all(users.map((u) => openStream(server, u.cookie)));
    await Promise.all(streams.map((s) => s.next('snapshot')));

    // Action: when each tenant's first refresh arrives
    const arrivals = await Promise.all(
      streams.map(async (s) => {
        await s.next('snapshot', undefined, 3_500);
        return Date.now();
      }),
    );
    for (const s of streams) s.close();

    // Assertions: spread over the 2 s period (timers started together would all fire within a few ms)
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeGreaterThan(500);
  });

  it('keeps streaming after the listening connection is killed and comes back', async () => {
    // Setup
    const ada = await signedInUser(server);
    const stream = await openStream(server, ada.cookie);
    await stream.next('snapshot');
    const killed = server.services.presence.listener.backendPid;

    // Action
    await server.owner.query('select pg_terminate_backend($1)', [killed]);
    await until(() => server.services.presence.listener.connected && server.services.presence.listener.backendPid !== killed);
    await beat(ada.cookie);
    const change = await stream.next('status', (d) => d.agentId === ada.agentId);
    stream.close();

    // Assertions
    expect(change.to).toBe('available');
  });

  it('sends the transitions that happened while the listening connection was away once it is back', async () => {
    // Setup
    const watcher = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: watcher.tenantId });
    const stream = await openStream(server, watcher.cookie);
    await stream.next('snapshot');
    const listener = server.services.presence.listener;
    const killed = listener.backendPid;

    // Action: Ada comes online after the connection is gone and before it is back
    await server.owner.query('select pg_terminate_backend($1)', [killed]);
    await until(() => !listener.connected);
    await beat(ada.cookie);
    const missed = await stream.next('status', (d) => d.agentId === ada.agentId, 5_000);
    stream.close();

    // Assertions
    expect(listener.backendPid).not.toBe(killed);
    expect(missed).toMatchObject({ from: 'offline', to: 'available', reason: 'heartbeat' });
  });

  it('sends a tenant whose first stream opened while the events were being read what that read found for it', async () => {
    // Setup: hold the process's next read of the events after it chose its tenants and before its query runs
    const db = (server.services.presence.streams as unknown as { db: { query: (...args: any[]) => Promise<any> } }).db;
    const query = db.query.bind(db);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    db.query = async (...args: any[]) => {
      if (!held && String(args[0]).includes('status_changes_after')) {
        held = true;
        await gate;
      }
      return query(...args);
    };
    try {
      const someone = await signedInUser(server);
      const ada = await signedInUser(server);
      await beat(someone.cookie);
      await until(() => held);

      // Action: Ada's tenant opens its first stream during that read, and Ada comes online after its snapshot
      const stream = await openStream(server, ada.cookie);
      await stream.next('snapshot');
      await beat(ada.cookie);
      release();
      const change = await stream.next('status', (d) => d.agentId === ada.agentId, 3_000);
      stream.close();

      // Assertions
      expect(change).toMatchObject({ from: 'offline', to: 'available' });
    } finally {
      release();
      db.query = query;
    }
  });

  it('counts open streams in /metrics', async () => {
    // Setup
    const ada = await signedInUser(server);
    const stream = await openStream(server, ada.cookie);
    await stream.next('snapshot');

    // Action
    const open = (await call(server, 'GET', '/metrics')).body as string;
    stream.close();

    // Assertions
    expect(Number(/^presence_open_streams (\d+)/m.exec(open)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('ends at once when its sign-in session signs out', async () => {
    // Setup
    const ada = await signedInUser(server);
    const stream = await openStream(server, ada.cookie);
    await stream.next('snapshot');
    let open = true;
    void stream.ended.then(() => (open = false));

    // Action
    await call(server, 'POST', '/api/auth/logout', { cookie: ada.cookie });

    // Assertions
    await until(() => !open, 1_000);
  });

  it('signing out after a beat with its own stream open ends that stream and nothing else: the process keeps serving', async () => {
    // Setup: the finding's sequence. Sign-out announces the ended sign-in and the agent's offline transition in one
    // commit; the stream ended by the first used to be written to by the second (ERR_STREAM_WRITE_AFTER_END).
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);
    process.on('uncaughtException', onCrash);
    const ada = await signedInUser(server);
    const bob = await signedInUser(server, { tenantId: ada.tenantId });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });
    const adaStream = await openStream(server, ada.cookie);
    const bobStream = await openStream(server, bob.cookie);
    await Promise.all([adaStream.next('snapshot'), bobStream.next('snapshot')]);
    let adaOpen = true;
    void adaStream.ended.then(() => (adaOpen = false));

    // Action
    const logout = await call(server, 'POST', '/api/auth/logout', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });

    // Assertions
    expect(logout.status).toBe(204);
    await until(() => !adaOpen, 2_000);
    const offline = await bobStream.next('status', (d) => d.agentId === ada.agentId && d.to === 'offline');
    expect(offline).toMatchObject({ from: 'available', reason: 'logout' });
    expect((await call(server, 'GET', '/healthz')).status).toBe(200);
    expect((await call(server, 'POST', '/api/auth/heartbeat', { cookie: bob.cookie, body: { sessionId: 'tab-b' } })).status).toBe(200);
    process.off('uncaughtException', onCrash);
    expect(crashes).toEqual([]);
    bobStream.close();
  });

  it('ends at once when an operator revokes the user\'s sessions, and only that user\'s streams', async () => {
    // Setup
    const ada = await signedInUser(server);
    const bob = await signedInUser(server, { tenantId: ada.tenantId });
    const adaStream = await openStream(server, ada.cookie);
    const bobStream = await openStream(server, bob.cookie);
    await Promise.all([adaStream.next('snapshot'), bobStream.next('snapshot')]);
    let adaOpen = true;
    let bobOpen = true;
    void adaStream.ended.then(() => (adaOpen = false));
    void bobStream.ended.then(() => (bobOpen = false));

    // Action
    await server.owner.query('select presence_accounts.revoke_sessions($1)', [ada.userId]);

    // Assertions
    await until(() => !adaOpen, 1_000);
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: bob.cookie, body: { sessionId: 'tab-1' } });
    await bobStream.next('status', (d) => d.agentId === bob.agentId);
    expect(bobOpen).toBe(true);
    bobStream.close();
  });

  it('ends when its sign-in session expires', async () => {
    // Setup
    const shortLived = await startTestServer();
    const ada = await signedInUser(shortLived);
    // The session runs out a second from now, by the database clock.
    await shortLived.owner.query(
      `update presence_accounts.auth_sessions set expires_at = now() + interval '1 second' where user_id = $1`,
      [ada.userId],
    );
    const stream = await openStream(shortLived, ada.cookie);
    await stream.next('snapshot');
    let open = true;
    void stream.ended.then(() => (open = false));

    // Action
    await until(() => !open, 3_000);
    const again = await openStream(shortLived, ada.cookie);
    await shortLived.close();

    // Assertions
    expect(again.status).toBe(401);
  });

  it('sends keep-alive comments while nothing happens', async () => {
    // Setup
    const chatty = await startTestServer({ config: { streamKeepAliveMs: 100 } });
    const ada = await signedInUser(chatty);
    const stream = await openStream(chatty, ada.cookie);
    await stream.next('snapshot');

    // Action
    await until(() => stream.comments.length >= 2, 2_000);
    stream.close();
    await chatty.close();

    // Assertions
    expect(stream.comments.slice(0, 2)).toEqual(['keep-alive', 'keep-alive']);
  });

  it('answers 401 without a session', async () => {
    // Action
    const stream = await openStream(server, undefined);

    // Assertions
    expect(stream.status).toBe(401);
  });
});
