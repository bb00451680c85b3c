import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { agentRow, createAgent, createTenant, eventsOf, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

async function beat(tenantId: string, agentId: string, sessionId: string, activity = 'active') {
  const { rows } = await db.query<{ status: string; last_seen: Date; heartbeat_interval_s: number }>(
    'select * from presence.heartbeat($1, $2, $3, $4)',
    [tenantId, agentId, sessionId, activity],
  );
  return rows[0]!;
}

describe('presence.heartbeat', () => {
  it('a first heartbeat makes an offline agent available and records last_seen by the database clock', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    const result = await beat(tenant, agent, randomUUID());

    // Assertions
    const { rows } = await db.query<{ now: Date }>('select now() as now');
    expect(result.status).toBe('available');
    expect(result.heartbeat_interval_s).toBe(30);
    expect(Math.abs(result.last_seen.getTime() - rows[0]!.now.getTime())).toBeLessThan(5_000);
    expect(await agentRow(db, agent)).toMatchObject({ status: 'available', status_reason: 'heartbeat' });
    expect(await eventsOf(db, agent)).toEqual([{ from_status: 'offline', to_status: 'available', reason: 'heartbeat' }]);
  });

  it('a heartbeat after a timeout restores available', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const session = randomUUID();
    await beat(tenant, agent, session);
    await silenceAgent(db, agent, 600);
    await db.query('select presence.sweep_stale_agents()');
    expect((await agentRow(db, agent)).status).toBe('offline');

    // Action
    const result = await beat(tenant, agent, session);

    // Assertions
    expect(result.status).toBe('available');
    expect((await eventsOf(db, agent)).map((e) => e.reason)).toEqual(['heartbeat', 'timeout', 'heartbeat']);
  });
});
