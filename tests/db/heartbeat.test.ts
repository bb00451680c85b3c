import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { agentRow, beat, createAgent, createTenant, eventsOf, silenceAgent, testPool } from '../helpers/db.ts';

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
    expect(await eventsOf(db, agent)).toEqual([{ from_status: 'offline', to_status: 'available', reason: 'heartbeat' }]);
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
    expect((await eventsOf(db, agent)).map((e) => e.reason)).toEqual(['heartbeat', 'timeout', 'heartbeat']);
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
      { from_status: 'dnd', to_status: 'offline', reason: 'timeout' },
      { from_status: 'offline', to_status: 'dnd', reason: 'heartbeat' },
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
      { from_status: 'available', to_status: 'away', reason: 'idle' },
      { from_status: 'away', to_status: 'available', reason: 'active' },
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
});
