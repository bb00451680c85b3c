import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  agentRow,
  beat,
  createAgent,
  createTenant,
  endSignIn,
  eventsOf,
  listenTo,
  silenceAgent,
  testPool,
} from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

async function endSession(tenant: string, agent: string, session: string, reason?: string): Promise<string> {
  const { rows } = reason
    ? await db.query('select presence.end_session($1, $2, $3, $4) as status', [tenant, agent, session, reason])
    : await db.query('select presence.end_session($1, $2, $3) as status', [tenant, agent, session]);
  return rows[0].status;
}

describe('presence.end_session', () => {
  it('closing the only tab takes the agent offline at once (reason left)', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const tab = randomUUID();
    await beat(db, tenant, agent, tab);

    // Action
    const status = await endSession(tenant, agent, tab);

    // Assertions
    expect(status).toBe('offline');
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'left', chosen_status: 'available' });
    expect((await eventsOf(db, agent)).at(-1)).toEqual({ from_status: 'available', to_status: 'offline', mechanism: 'left' });
  });

  it('two sessions: ending one keeps the agent online, ending both takes it offline', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const first = randomUUID();
    const second = randomUUID();
    await beat(db, tenant, agent, first);
    await beat(db, tenant, agent, second);

    // Action
    const afterFirst = await endSession(tenant, agent, first);
    const stateAfterFirst = await agentRow(db, agent);
    const afterSecond = await endSession(tenant, agent, second, 'logout');

    // Assertions
    expect(afterFirst).toBe('available');
    expect(stateAfterFirst.status).toBe('available');
    expect(afterSecond).toBe('offline');
    expect((await eventsOf(db, agent)).map((e) => e.mechanism)).toEqual(['heartbeat', 'logout']);
  });

  it('a tab that died silently does not keep the agent online when the last live tab closes', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'dead-tab');
    await silenceAgent(db, agent, 600);
    await beat(db, tenant, agent, 'live-tab');

    // Action
    const status = await endSession(tenant, agent, 'live-tab');

    // Assertions
    expect(status).toBe('offline');
  });

  it('ending an unknown session of an online agent changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action
    const status = await endSession(tenant, agent, 'never-seen');

    // Assertions
    expect(status).toBe('available');
    expect(await eventsOf(db, agent)).toHaveLength(1);
  });

  it('after leaving, the next heartbeat brings the agent back (reason heartbeat)', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await endSession(tenant, agent, 'tab');

    // Action
    const result = await beat(db, tenant, agent, 'reopened-tab');

    // Assertions
    expect(result.status).toBe('available');
    expect((await eventsOf(db, agent)).map((e) => e.mechanism)).toEqual(['heartbeat', 'left', 'heartbeat']);
  });
});

describe('presence.end_sign_in (sign-out)', () => {
  it('ends exactly the tabs of that sign-in: a tab of another sign-in keeps the agent online', async () => {
    // Setup: two tabs under sign-in 1 (one browser), one under sign-in 2 (another browser).
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab-1a', 'active', 'sign-in-1');
    await beat(db, tenant, agent, 'tab-1b', 'idle', 'sign-in-1');
    await beat(db, tenant, agent, 'tab-2', 'active', 'sign-in-2');

    // Action
    const afterFirst = await endSignIn(db, tenant, agent, 'sign-in-1');
    const { rows: left } = await db.query('select session_id from presence_private.sessions where agent_id = $1', [agent]);
    const afterSecond = await endSignIn(db, tenant, agent, 'sign-in-2');

    // Assertions
    expect(afterFirst).toBe('available');
    expect(left).toEqual([{ session_id: 'tab-2' }]);
    expect(afterSecond).toBe('offline');
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'logout', chosen_status: 'available' });
    expect((await eventsOf(db, agent)).map((e) => e.mechanism)).toEqual(['heartbeat', 'logout']);
  });

  it('records the ended sign-in, for an agent and for a supervisor, and rings presence_sign_in_ended on commit with nothing in it', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab', 'active', 'agent-sign-in');
    const listener = await listenTo('presence_sign_in_ended');
    const ended = async () =>
      (
        await db.query('select tenant_id, sign_in from presence.sign_ins_ended($1, $2) order by sign_in', [
          [tenant, tenant, tenant],
          ['agent-sign-in', 'supervisor-sign-in', 'still-signed-in'],
        ])
      ).rows;
    const client = await db.connect();
    try {
      // Action
      await client.query('begin');
      const agentStatus = await endSignIn(client, tenant, agent, 'agent-sign-in');
      const supervisorStatus = await endSignIn(client, tenant, null, 'supervisor-sign-in');
      await new Promise((r) => setTimeout(r, 300));
      const ringsBeforeCommit = listener.received.length;
      const endedBeforeCommit = await ended();
      await client.query('commit');
      await listener.until((received) => received.length > ringsBeforeCommit);

      // Assertions
      expect(agentStatus).toBe('offline');
      expect(supervisorStatus).toBeNull();
      expect(ringsBeforeCommit).toBe(0);
      expect(endedBeforeCommit).toEqual([]);
      expect(await ended()).toEqual([
        { tenant_id: tenant, sign_in: 'agent-sign-in' },
        { tenant_id: tenant, sign_in: 'supervisor-sign-in' },
      ]);
      expect(new Set(listener.received)).toEqual(new Set(['']));
    } finally {
      client.release();
      await listener.stop();
    }
  });

  it('an ended sign-in is told only to a caller that names its tenant with it', async () => {
    // Setup
    const tenant = await createTenant(db);
    const other = await createTenant(db);
    await endSignIn(db, tenant, null, 'shared-name');

    // Action
    const { rows } = await db.query('select tenant_id, sign_in from presence.sign_ins_ended($1, $2)', [
      [other, tenant],
      ['shared-name', 'another'],
    ]);

    // Assertions
    expect(rows).toEqual([]);
  });

  it('keeps a day of ended sign-ins: each sign-out removes some of those older than that', async () => {
    // Setup: 20 sign-outs of two days ago, as if written then
    const tenant = await createTenant(db);
    const old = Array.from({ length: 20 }, (_, i) => `old-${i}`);
    await db.query(
      `insert into presence_private.ended_sign_ins (tenant_id, sign_in, ended_at)
       select $1, s, now() - interval '2 days' from unnest($2::text[]) s`,
      [tenant, old],
    );

    // Action
    await endSignIn(db, tenant, null, 'new-1');
    await endSignIn(db, tenant, null, 'new-2');

    // Assertions
    const { rows } = await db.query(
      `select count(*)::int as n from presence_private.ended_sign_ins where ended_at < now() - interval '1 day'`,
    );
    expect(rows[0].n).toBe(0);
    const { rows: kept } = await db.query('select sign_in from presence.sign_ins_ended($1, $2)', [
      [tenant, tenant],
      ['new-1', 'new-2'],
    ]);
    expect(kept).toHaveLength(2);
  });

  it('signing out of a sign-in with no tab of the agent changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab', 'active', 'sign-in-1');

    // Action
    const status = await endSignIn(db, tenant, agent, 'sign-in-never-beat');

    // Assertions
    expect(status).toBe('available');
    expect(await eventsOf(db, agent)).toHaveLength(1);
  });
});

describe('presence.set_status', () => {
  it('a live agent takes the chosen status at once (reason manual)', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action
    const { rows } = await db.query('select presence.set_status($1, $2, $3) as status', [tenant, agent, 'dnd']);

    // Assertions
    expect(rows[0].status).toBe('dnd');
    expect(await agentRow(db, agent)).toMatchObject({ status: 'dnd', chosen_status: 'dnd', status_reason: 'manual' });
  });

  it('an agent with no live tab keeps offline but remembers the choice for its next beat', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    const { rows } = await db.query('select presence.set_status($1, $2, $3) as status', [tenant, agent, 'away']);
    const next = await beat(db, tenant, agent, 'tab');

    // Assertions
    expect(rows[0].status).toBe('offline');
    expect(next.status).toBe('away');
  });

  it('choosing available again after a manual offline makes a live agent available', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'offline']);
    await beat(db, tenant, agent, 'tab');

    // Action
    const { rows } = await db.query('select presence.set_status($1, $2, $3) as status', [tenant, agent, 'available']);

    // Assertions
    expect(rows[0].status).toBe('available');
    expect((await eventsOf(db, agent)).map((e) => `${e.to_status}/${e.mechanism}`)).toEqual([
      'available/heartbeat',
      'offline/manual',
      'available/manual',
    ]);
  });
});

describe('presence.mark_offline', () => {
  it('an operator takes a stuck agent offline at once, ending all its sessions (reason admin)', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab-1');
    await beat(db, tenant, agent, 'tab-2');

    // Action
    await db.query('select presence.mark_offline($1, $2)', [tenant, agent]);

    // Assertions
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'admin', chosen_status: 'available' });
    const { rowCount } = await db.query('select 1 from presence_private.sessions where agent_id = $1', [agent]);
    expect(rowCount).toBe(0);
  });
});
