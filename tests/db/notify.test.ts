import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { beat, createAgent, createAgentWithPast, createTenant, inTransaction, testPool } from '../helpers/db.ts';

const db = testPool();
const listener = new pg.Client({ connectionString: inject('databaseUrl') });
const received: Array<Record<string, string>> = [];

beforeAll(async () => {
  await listener.connect();
  listener.on('notification', (n) => {
    if (n.channel === 'presence_status') received.push(JSON.parse(n.payload ?? '{}'));
  });
  await listener.query('listen presence_status');
});
afterAll(async () => {
  await listener.end();
  await db.end();
});

async function notificationsFor(agent: string, waitMs = 300): Promise<Array<Record<string, string>>> {
  await new Promise((r) => setTimeout(r, waitMs));
  return received.filter((n) => n.agent === agent);
}

describe('transition notifications', () => {
  it('every transition is announced on channel presence_status with tenant, agent (as strings), from, to, chosen, reason and at', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    const first = await beat(db, tenant, agent, 'tab');
    await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'dnd']);
    await beat(db, tenant, agent, 'tab', 'idle');
    await db.query('select presence.end_session($1, $2, $3)', [tenant, agent, 'tab']);

    // Assertions
    const notes = await notificationsFor(agent);
    expect(notes).toHaveLength(3);
    expect(notes[0]).toEqual({
      tenant,
      agent,
      from: 'offline',
      to: 'available',
      chosen: 'available',
      reason: 'heartbeat',
      at: expect.any(String),
    });
    expect(new Date(notes[0]!.at!).getTime()).toBe(first.last_seen.getTime());
    expect(notes[1]).toMatchObject({ from: 'available', to: 'dnd', chosen: 'dnd', reason: 'manual' });
    expect(notes[2]).toMatchObject({ from: 'dnd', to: 'offline', chosen: 'dnd', reason: 'left' });
  });

  it('a timeout a beat records is announced at the moment the agent went silent, with its chosen status', async () => {
    // Setup / Action: the agent came online 1000 s ago, went silent 600 s ago, and beats now (no sweep in between).
    const tenant = await createTenant(db);
    const { agentId, lastSeen } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, { onlineForS: 1000, silentForS: 600, status: 'dnd' });
      await beat(client, tenant, past.agentId, 'tab');
      return past;
    });

    // Assertions
    const notes = await notificationsFor(agentId);
    expect(notes.map((n) => [n.from, n.to, n.chosen, n.reason])).toEqual([
      ['dnd', 'offline', 'dnd', 'timeout'],
      ['offline', 'dnd', 'dnd', 'heartbeat'],
    ]);
    expect(new Date(notes[0]!.at!).getTime()).toBe(lastSeen.getTime() + 90_000);
  });

  it('nothing is announced before commit, and nothing at all after a rollback', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const client = await db.connect();

    try {
      // Action
      await client.query('begin');
      await beat(client, tenant, agent, 'tab');
      const beforeCommit = await notificationsFor(agent);
      await client.query('rollback');
      const afterRollback = await notificationsFor(agent);
      await client.query('begin');
      await beat(client, tenant, agent, 'tab');
      await client.query('commit');
      const afterCommit = await notificationsFor(agent);

      // Assertions
      expect(beforeCommit).toEqual([]);
      expect(afterRollback).toEqual([]);
      expect(afterCommit).toHaveLength(1);
    } finally {
      client.release();
    }
  });

  it('a heartbeat that changes no status announces nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action
    await beat(db, tenant, agent, 'tab');
    await beat(db, tenant, agent, 'tab');

    // Assertions
    expect(await notificationsFor(agent)).toHaveLength(1);
  });
});

describe('presence.status_events', () => {
  it('is append-only: an update is refused', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action
    const attempt = db.query(`update presence.status_events set reason = 'admin' where agent_id = $1`, [agent]);

    // Assertions
    await expect(attempt).rejects.toMatchObject({ code: 'PRAPP', message: expect.stringContaining('append-only') });
  });
});
