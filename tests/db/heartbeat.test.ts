import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { agentRow, beat, beats, createAgent, createTenant, endSignIn, eventsOf, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

describe('presence.heartbeat', () => {
  it('a first heartbeat makes an offline agent available and records last_seen by the database clock', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    const result = await beat(db, tenant, agent, randomUUID());

    // Assertions
    const { rows } = await db.query<{ now: Date }>('select now() as now');
    expect(result.status).toBe('available');
    expect(result.heartbeat_interval_s).toBe(30);
    expect(Math.abs(result.last_seen.getTime() - rows[0]!.now.getTime())).toBeLessThan(5_000);
    expect(await agentRow(db, agent)).toMatchObject({ status: 'available', status_reason: 'heartbeat' });
    expect((await agentRow(db, agent)).last_seen).toEqual(result.last_seen);
    expect(await eventsOf(db, agent)).toEqual([{ from_status: 'offline', to_status: 'available', mechanism: 'heartbeat' }]);
  });

  it('a heartbeat after a timeout restores available', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const session = randomUUID();
    await beat(db, tenant, agent, session);
    await silenceAgent(db, agent, 600);
    await db.query('select presence.sweep_stale_agents()');
    expect((await agentRow(db, agent)).status).toBe('offline');

    // Action
    const result = await beat(db, tenant, agent, session);

    // Assertions
    expect(result.status).toBe('available');
    expect((await eventsOf(db, agent)).map((e) => e.mechanism)).toEqual(['heartbeat', 'timeout', 'heartbeat']);
  });

  it('a heartbeat returns the tenant heartbeat interval', async () => {
    // Setup
    const tenant = await createTenant(db, { heartbeat_interval_s: 10, offline_after_s: 25 });
    const agent = await createAgent(db, tenant);

    // Action
    const result = await beat(db, tenant, agent, randomUUID());

    // Assertions
    expect(result.heartbeat_interval_s).toBe(10);
  });

  it('heartbeats that change nothing write no status event', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const session = randomUUID();

    // Action
    for (let i = 0; i < 5; i++) await beat(db, tenant, agent, session);

    // Assertions
    expect(await eventsOf(db, agent)).toHaveLength(1);
  });

  for (const chosen of ['away', 'dnd', 'offline']) {
    it(`a manual ${chosen} survives heartbeats`, async () => {
      // Setup
      const tenant = await createTenant(db);
      const agent = await createAgent(db, tenant);
      const session = randomUUID();
      await beat(db, tenant, agent, session);
      await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, chosen]);

      // Action
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await beat(db, tenant, agent, session, i === 1 ? 'idle' : 'active'));

      // Assertions
      expect(results.map((r) => r.status)).toEqual([chosen, chosen, chosen]);
      expect(await agentRow(db, agent)).toMatchObject({ status: chosen, chosen_status: chosen });
      expect((await agentRow(db, agent)).last_seen).toEqual(results[2]!.last_seen);
    });
  }

  it('a manual dnd survives a timeout: the next heartbeat brings back dnd, not available', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const session = randomUUID();
    await beat(db, tenant, agent, session);
    await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'dnd']);
    await silenceAgent(db, agent, 600);
    await db.query('select presence.sweep_stale_agents()');

    // Action
    const result = await beat(db, tenant, agent, session);

    // Assertions
    expect(result.status).toBe('dnd');
    expect((await eventsOf(db, agent)).slice(-2)).toEqual([
      { from_status: 'dnd', to_status: 'offline', mechanism: 'timeout' },
      { from_status: 'offline', to_status: 'dnd', mechanism: 'heartbeat' },
    ]);
  });

  it('an idle report turns an available agent away, and the next active report turns it back', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const session = randomUUID();
    await beat(db, tenant, agent, session);

    // Action
    const idle = await beat(db, tenant, agent, session, 'idle');
    const stillIdle = await beat(db, tenant, agent, session, 'idle');
    const active = await beat(db, tenant, agent, session, 'active');

    // Assertions
    expect([idle.status, stillIdle.status, active.status]).toEqual(['away', 'away', 'available']);
    expect((await eventsOf(db, agent)).slice(1)).toEqual([
      { from_status: 'available', to_status: 'away', mechanism: 'idle' },
      { from_status: 'away', to_status: 'available', mechanism: 'active' },
    ]);
    expect((await agentRow(db, agent)).chosen_status).toBe('available');
  });

  it('an idle background tab does not make away an agent who is active in another tab', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const foreground = randomUUID();
    const background = randomUUID();
    await beat(db, tenant, agent, foreground, 'active');

    // Action
    const result = await beat(db, tenant, agent, background, 'idle');

    // Assertions
    expect(result.status).toBe('available');
    expect(await eventsOf(db, agent)).toHaveLength(1);
  });

  it('an agent idle in every tab reads away', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const first = randomUUID();
    const second = randomUUID();
    await beat(db, tenant, agent, first, 'active');
    await beat(db, tenant, agent, second, 'idle');

    // Action
    const result = await beat(db, tenant, agent, first, 'idle');

    // Assertions
    expect(result.status).toBe('away');
  });

  it('an idle agent coming back after a timeout returns away, and active input makes it available', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const session = randomUUID();
    await beat(db, tenant, agent, session);
    await silenceAgent(db, agent, 600);
    await db.query('select presence.sweep_stale_agents()');

    // Action
    const back = await beat(db, tenant, agent, session, 'idle');
    const active = await beat(db, tenant, agent, session, 'active');

    // Assertions
    expect(back.status).toBe('away');
    expect(active.status).toBe('available');
  });

  it('a new tab forgets the tabs of the agent that died without saying goodbye', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'dead-tab');
    await silenceAgent(db, agent, 600);

    // Action
    await beat(db, tenant, agent, 'new-tab');

    // Assertions
    const { rows } = await db.query('select session_id from presence_private.sessions where agent_id = $1', [agent]);
    expect(rows).toEqual([{ session_id: 'new-tab' }]);
  });

  it('100 invented tab ids of one agent leave at most 32 tab rows, the most recent ones', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    for (let i = 1; i <= 100; i++) await beat(db, tenant, agent, `invented-${i}`);

    // Assertions
    const { rows } = await db.query<{ session_id: string }>(
      'select session_id from presence_private.sessions where agent_id = $1',
      [agent],
    );
    expect(rows.length).toBeLessThanOrEqual(32);
    expect(rows.map((r) => r.session_id).sort()).toEqual(Array.from({ length: 32 }, (_, i) => `invented-${69 + i}`).sort());
    expect((await agentRow(db, agent)).status).toBe('available');
  });
});

describe('presence.heartbeats (the batch)', () => {
  it('answers one row per beat, in order, with what presence.heartbeat would answer for each', async () => {
    // Setup: a new agent, an agent already beating, an agent already beating that now reports idle.
    const tenant = await createTenant(db, { heartbeat_interval_s: 10, offline_after_s: 30 });
    const [fresh, beating, idle] = [await createAgent(db, tenant), await createAgent(db, tenant), await createAgent(db, tenant)];
    await beat(db, tenant, beating, 'tab-b');
    await beat(db, tenant, idle, 'tab-c');

    // Action: the function itself, with its `ord` column (the router's module reads the rows in order)
    const { rows } = await db.query<{ ord: number; status: string; last_seen: Date; heartbeat_interval_s: number }>(
      'select * from presence.heartbeats($1, $2, $3, $4, $5)',
      [[tenant, tenant, tenant], [idle, fresh, beating], ['tab-c', 'tab-a', 'tab-b'], ['idle', 'active', 'active'], [null, null, null]],
    );

    // Assertions
    expect(rows.map((r) => [r.ord, r.status, r.heartbeat_interval_s])).toEqual([
      [1, 'away', 10],
      [2, 'available', 10],
      [3, 'available', 10],
    ]);
    for (const [agent, row] of [[idle, rows[0]!], [fresh, rows[1]!], [beating, rows[2]!]] as const) {
      expect((await agentRow(db, agent)).last_seen).toEqual(row.last_seen);
    }
    expect((await eventsOf(db, beating)).map((e) => e.mechanism)).toEqual(['heartbeat']);
    expect((await eventsOf(db, idle)).map((e) => e.mechanism)).toEqual(['heartbeat', 'idle']);
  });

  it('a beat of a known tab moves the last beat of the agent and of that tab, and writes no event', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab', 'active', 'sign-in-1');
    await silenceAgent(db, agent, 20);

    // Action
    const [row] = await beats(db, [{ tenantId: tenant, agentId: agent, tabId: 'tab', signIn: 'sign-in-1' }]);

    // Assertions
    const { rows } = await db.query('select last_seen from presence_private.sessions where agent_id = $1', [agent]);
    expect(row!.status).toBe('available');
    expect(rows).toEqual([{ last_seen: row!.last_seen }]);
    expect((await agentRow(db, agent)).last_seen).toEqual(row!.last_seen);
    expect(await eventsOf(db, agent)).toHaveLength(1);
  });

  it('a tab that beats under a new sign-in belongs to that sign-in from then on', async () => {
    // Setup: a tab that beat under sign-in 1; the user signed in again in the same tab (sign-in 2).
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beats(db, [{ tenantId: tenant, agentId: agent, tabId: 'tab', signIn: 'sign-in-1' }]);

    // Action
    await beats(db, [{ tenantId: tenant, agentId: agent, tabId: 'tab', signIn: 'sign-in-2' }]);
    const afterOldSignOut = await endSignIn(db, tenant, agent, 'sign-in-1');

    // Assertions: signing out of the old sign-in leaves the tab of the new one beating.
    expect(afterOldSignOut).toBe('available');
    const { rows } = await db.query('select session_id, sign_in from presence_private.sessions where agent_id = $1', [agent]);
    expect(rows).toEqual([{ session_id: 'tab', sign_in: 'sign-in-2' }]);
  });

  it('locks agents in key order: a batch naming them in reverse waits instead of deadlocking with a beat', async () => {
    // Setup: two agents; a transaction holds the lower one (a beat in progress).
    const tenant = await createTenant(db);
    const [low, high] = [await createAgent(db, tenant), await createAgent(db, tenant)].sort();
    const first = await db.connect();
    const second = await db.connect();
    try {
      await first.query('begin');
      await beat(first, tenant, low!, 'tab-low');
      const { rows: pid } = await second.query<{ pid: number }>('select pg_backend_pid() as pid');

      // Action: the batch names the higher agent first; then the first transaction takes the higher one too.
      await second.query('begin');
      const batch = beats(second, [
        { tenantId: tenant, agentId: high!, tabId: 'tab-high' },
        { tenantId: tenant, agentId: low!, tabId: 'tab-low' },
      ]);
      for (let waited = 0; waited < 5_000; waited += 20) {
        const { rows } = await db.query(`select wait_event_type from pg_stat_activity where pid = $1`, [pid[0]!.pid]);
        if (rows[0]?.wait_event_type === 'Lock') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await beat(first, tenant, high!, 'tab-high');
      await first.query('commit');
      const rows = await batch;
      await second.query('commit');

      // Assertions: both went through, no deadlock error.
      expect(rows.map((r) => r.status)).toEqual(['available', 'available']);
    } finally {
      await first.query('rollback').catch(() => {});
      await second.query('rollback').catch(() => {});
      first.release();
      second.release();
    }
  });
});
