import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentRow, listenTo, migratedScratchDatabase, silenceAgent } from '../helpers/db.ts';
import { call, openStream, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const beat = (cookie: string, sessionId = 'tab-1') =>
  call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId } });

/**
 * Fixture: moves the agent's last beat (and her tab's) back so that she reads offline `ms` from now, by the database
 * clock, unless she beats again: the moment comes without the test waiting out offline_after_s.
 */
async function goesSilentIn(target: TestServer, agentId: string, ms: number): Promise<void> {
  const { rows } = await target.owner.query<{ left: number }>(
    'select extract(epoch from offline_at - now())::float8 as left from presence.agent_presence where agent_id = $1',
    [agentId],
  );
  await silenceAgent(target.owner, agentId, rows[0]!.left - ms / 1000);
}

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
      mechanism: 'heartbeat',
      reason: null,
      actor: null,
      until: null,
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

  it('announces a timeout the liveness rule makes, with no sweep, within about a second of it', async () => {
    // Setup: Ada beat, and (fixture) her last beat is moved back so that she reads offline 1 s from now
    const watcher = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: watcher.tenantId });
    await beat(ada.cookie);
    await goesSilentIn(server, ada.agentId!, 1_000);
    const stream = await openStream(server, watcher.cookie);
    expect((await stream.next('snapshot')).agents[0].status).toBe('available');

    // Action: nothing; her offline moment passes
    const change = await stream.next('status', (d) => d.agentId === ada.agentId && d.to === 'offline', 3_000);
    const recorded = await agentRow(server.owner, ada.agentId!);
    stream.close();

    // Assertions: announced by the hub (no sweep has recorded it yet), at the moment she went offline
    expect(change).toMatchObject({ from: 'available', to: 'offline', chosenStatus: 'available', mechanism: 'timeout' });
    expect(recorded.status).toBe('available');
    const { rows: moment } = await server.owner.query('select offline_at from presence.agent_presence where agent_id = $1', [
      ada.agentId,
    ]);
    expect(change.at).toBe(moment[0].offline_at.toISOString());
  });

  it('sends an announced timeout once: not again when the sweep records it', async () => {
    // Setup
    const watcher = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: watcher.tenantId });
    const bob = await signedInUser(server, { tenantId: watcher.tenantId });
    await beat(ada.cookie);
    await goesSilentIn(server, ada.agentId!, 800);
    const stream = await openStream(server, watcher.cookie);
    await stream.next('snapshot');
    await stream.next('status', (d) => d.agentId === ada.agentId && d.to === 'offline', 3_000);

    // Action: the sweep records her timeout; then Bob comes online (read after it: events come in id order)
    await server.owner.query('select presence.sweep_stale_agents()');
    await beat(bob.cookie);
    await stream.next('status', (d) => d.agentId === bob.agentId);
    stream.close();

    // Assertions
    const { rows } = await server.owner.query(
      `select count(*)::int as n from presence.status_events where agent_id = $1 and to_status = 'offline' and mechanism = 'timeout'`,
      [ada.agentId],
    );
    expect(rows[0].n).toBe(1);
    expect(stream.events.filter((e) => e.event === 'status' && e.data.agentId === ada.agentId && e.data.to === 'offline')).toHaveLength(1);
  });

  it('asks about a tenant at its deadline and announces nothing for an agent who beat before it', async () => {
    // Setup: Ada reads offline 1.5 s from now unless she beats
    const watcher = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: watcher.tenantId });
    await beat(ada.cookie);
    await goesSilentIn(server, ada.agentId!, 1_500);
    const stream = await openStream(server, watcher.cookie);
    await stream.next('snapshot');
    const checks = server.queriesMatching(/presence\.timeouts_due\(/);

    // Action: she beats in time (no transition, no event); the hub asks at the deadline it was given
    expect((await beat(ada.cookie)).body.status).toBe('available');
    await until(() => server.queriesMatching(/presence\.timeouts_due\(/) > checks, 5_000);
    // An answer that named her would be written before the next event read's; make one and wait for it.
    const bob = await signedInUser(server, { tenantId: watcher.tenantId });
    await beat(bob.cookie);
    await stream.next('status', (d) => d.agentId === bob.agentId);
    stream.close();

    // Assertions: (her coming online before the stream opened may be sent after its snapshot: events come as read)
    expect(stream.events.filter((e) => e.event === 'status' && e.data.agentId === ada.agentId && e.data.to === 'offline')).toEqual([]);
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
    expect(missed).toMatchObject({ from: 'offline', to: 'available', mechanism: 'heartbeat' });
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
    expect(offline).toMatchObject({ from: 'available', mechanism: 'logout' });
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

describe('GET /api/agents/stream, in a database of its own (no other test rings it)', () => {
  let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
  let quiet: TestServer;
  beforeAll(async () => {
    scratch = await migratedScratchDatabase('streams');
    await scratch.db.query('select presence_accounts.configure_sign_in(p_bcrypt_cost => 4)');
    quiet = await startTestServer({ databaseUrl: scratch.url });
  }, 60_000);
  afterAll(async () => {
    await quiet.close();
    await scratch.drop();
  });

  it('with agents beating and nothing changing, open streams make no query and beats ring nothing', async () => {
    // Setup: a tenant that beats every second (streams used to re-read its snapshot every second), five agents
    // online, three consoles open
    const watcher = await signedInUser(quiet, { role: 'supervisor', tenantSettings: { heartbeat_interval_s: 1 } });
    const agents = await Promise.all([1, 2, 3, 4, 5].map(() => signedInUser(quiet, { tenantId: watcher.tenantId })));
    const streams = await Promise.all([1, 2, 3].map(() => openStream(quiet, watcher.cookie)));
    await Promise.all(streams.map((st) => st.next('snapshot')));
    for (const agent of agents) {
      await call(quiet, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
    }
    await Promise.all(streams.map((st) => st.next('status', (d) => d.agentId === agents[4]!.agentId)));
    const rings = await listenTo('presence_status', scratch.url);
    const hub = /presence\.(status_changes_after|sign_ins_ended|timeouts_due|tenant_summaries)\(|presence\.agent_presence/;
    // The window opens a beat interval after those events: a read of the events they rang may still be finishing.
    await new Promise((r) => setTimeout(r, 1_000));
    const before = quiet.queriesMatching(hub);

    // Action: three rounds of beats, a second apart, as the tenant's interval asks
    for (let round = 0; round < 3; round++) {
      for (const agent of agents) {
        await call(quiet, 'POST', '/api/auth/heartbeat', { cookie: agent.cookie, body: { sessionId: 'tab-1' } });
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const cost = quiet.queriesMatching(hub) - before;
    await rings.stop();
    for (const st of streams) st.close();

    // Assertions
    expect(rings.received).toEqual([]);
    expect(cost).toBe(0);
    expect(streams.map((st) => st.events.filter((e) => e.event === 'snapshot').length)).toEqual([1, 1, 1]);
  });
});
