import { randomUUID } from 'node:crypto';
import { runOnce } from 'graphile-worker';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createAppPool } from '../../server/db/pool.ts';
import { taskList, workerLogger } from '../../server/worker.ts';
import { createAgent, createTenant, silenceAgent, testPool } from '../helpers/db.ts';
import { inject } from 'vitest';

const db = testPool();
const app = createAppPool(inject('databaseUrl'), 20);
afterAll(async () => {
  await db.end();
  await app.end();
});

const beat = (tenant: string, agent: string) =>
  db.query('select presence.heartbeat($1, $2, $3)', [tenant, agent, `tab-${agent}`]);

async function openChats(tenant: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await db.query('select presence.open_chat($1) as id', [tenant])).rows[0].id);
  return ids;
}

async function assign(tenant: string): Promise<{ chat_id: string; agent_id: string } | undefined> {
  return (await app.query('select * from presence.assign_chat($1)', [tenant])).rows[0];
}

async function chatsOf(agent: string): Promise<number> {
  const { rows } = await db.query(
    `select count(*)::int as n from presence_private.chats where agent_id = $1 and status = 'assigned'`,
    [agent],
  );
  return rows[0].n;
}

async function activeChats(agent: string): Promise<number> {
  return (await db.query('select active_chats from human_agents where id = $1', [agent])).rows[0].active_chats;
}

const runWorkerOnce = () =>
  runOnce({ connectionString: inject('databaseUrl'), taskList: taskList(null), logger: workerLogger(pino({ level: 'silent' })) });

describe('presence.assign_chat', () => {
  it('20 concurrent calls never pick a stale or full agent and never give one chat twice', async () => {
    // Setup
    const tenant = await createTenant(db);
    const fresh = await Promise.all([1, 2, 3].map(() => createAgent(db, tenant, { maxChats: 2 })));
    const stale = await createAgent(db, tenant, { maxChats: 5 });
    const full = await createAgent(db, tenant, { maxChats: 1 });
    for (const agent of [...fresh, stale, full]) await beat(tenant, agent);
    await silenceAgent(db, stale, 600);
    await openChats(tenant, 1);
    expect((await assign(tenant))!.agent_id).toBe(full); // the least busy first: fills `full` (1 of 1)
    await openChats(tenant, 20);

    // Action
    const results = await Promise.all(Array.from({ length: 20 }, () => assign(tenant)));
    // A caller that finds every agent locked by the others gives up (SKIP LOCKED); the rest of the capacity is
    // then taken one call at a time.
    const concurrent = results.filter((r) => r !== undefined);
    const drained: NonNullable<Awaited<ReturnType<typeof assign>>>[] = [];
    for (let next = await assign(tenant); next; next = await assign(tenant)) drained.push(next);

    // Assertions
    expect(concurrent.length).toBeGreaterThanOrEqual(1);
    const assigned = [...concurrent, ...drained];
    expect(assigned).toHaveLength(6);
    expect(new Set(assigned.map((r) => r.chat_id)).size).toBe(6);
    for (const r of concurrent) expect(fresh).toContain(r.agent_id);
    for (const agent of fresh) {
      expect(await chatsOf(agent)).toBe(2);
      expect(await activeChats(agent)).toBe(2);
    }
    expect(await chatsOf(stale)).toBe(0);
    expect(await activeChats(full)).toBe(1);
  });

  it('gives nothing when no chat is queued', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(tenant, agent);

    // Action
    const result = await assign(tenant);

    // Assertions
    expect(result).toBeUndefined();
  });
});

describe('release of stranded chats', () => {
  async function agentWithChats(graceS: number): Promise<{ tenant: string; agent: string }> {
    const tenant = await createTenant(db, { release_chats_after_s: graceS });
    const agent = await createAgent(db, tenant, { email: `agent-${randomUUID()}@example.com` });
    await beat(tenant, agent);
    await openChats(tenant, 2);
    await assign(tenant);
    await assign(tenant);
    expect(await chatsOf(agent)).toBe(2);
    return { tenant, agent };
  }

  it('an agent that goes offline gets its chats returned to the queue after the grace, and not before', async () => {
    // Setup
    const { tenant, agent } = await agentWithChats(1);

    // Action
    await db.query('select presence.mark_offline($1, $2)', [tenant, agent]);
    await runWorkerOnce();
    const beforeGrace = await chatsOf(agent);
    await new Promise((r) => setTimeout(r, 1_300));
    await runWorkerOnce();

    // Assertions
    expect(beforeGrace).toBe(2);
    expect(await chatsOf(agent)).toBe(0);
    expect(await activeChats(agent)).toBe(0);
    const { rows } = await db.query(
      `select count(*)::int as n from presence_private.chats where tenant_id = $1 and status = 'queued'`,
      [tenant],
    );
    expect(rows[0].n).toBe(2);
  });

  it('a sweep that times an agent out enqueues one release job keyed by the agent', async () => {
    // Setup
    const { agent } = await agentWithChats(60);
    await silenceAgent(db, agent, 600);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    const { rows } = await db.query(
      `select task_identifier, run_at - now() > interval '50 seconds' as later from graphile_worker.jobs where key = $1`,
      [`release_chats:${agent}`],
    );
    expect(rows).toEqual([{ task_identifier: 'release_chats', later: true }]);
  });

  it('an agent that comes back before the grace keeps its chats', async () => {
    // Setup
    const { tenant, agent } = await agentWithChats(1);
    await db.query('select presence.mark_offline($1, $2)', [tenant, agent]);

    // Action
    await beat(tenant, agent);
    await new Promise((r) => setTimeout(r, 1_300));
    await runWorkerOnce();

    // Assertions
    expect(await chatsOf(agent)).toBe(2);
    expect(await activeChats(agent)).toBe(2);
  });
});
