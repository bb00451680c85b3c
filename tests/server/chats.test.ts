import { randomUUID } from 'node:crypto';
import { Logger, runOnce } from 'graphile-worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureAppLogin } from '../../db/app-login.ts';
import { createAppPool } from '../../server/pool.ts';
import { presenceTaskList } from '../../server/presence/worker.ts';
import { createAgent, createTenant, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool();
// The app calls assign_chat as the request path does: as a member of presence_app only.
let app: pg.Pool;
beforeAll(async () => {
  app = createAppPool(await ensureAppLogin(inject('databaseUrl')), 20);
});
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
  runOnce({ connectionString: inject('databaseUrl'), taskList: presenceTaskList(), logger: new Logger(() => () => {}) });

/** The release job of an agent, due now: the grace has passed as far as the worker can tell. */
const graceOver = (agent: string) =>
  db.query(`update graphile_worker._private_jobs set run_at = now() where key = $1`, [`release_chats:${agent}`]);

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
    const { tenant, agent } = await agentWithChats(60);

    // Action
    await db.query('select presence.mark_offline($1, $2)', [tenant, agent]);
    await runWorkerOnce();
    const beforeGrace = await chatsOf(agent);
    await graceOver(agent);
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

  it('a sweep that times an agent out enqueues one release job keyed by the agent, due the grace after it went offline', async () => {
    // Setup: silent for 100 s with offline_after 90 s: offline since 10 s ago
    const { agent } = await agentWithChats(60);
    await silenceAgent(db, agent, 100);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions: due about 50 s from now (60 s after it went offline), not 60 s after the sweep
    const { rows } = await db.query(
      `select task_identifier, extract(epoch from run_at - now())::int as due_in_s from graphile_worker.jobs where key = $1`,
      [`release_chats:${agent}`],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].task_identifier).toBe('release_chats');
    expect(rows[0].due_in_s).toBeGreaterThanOrEqual(45);
    expect(rows[0].due_in_s).toBeLessThanOrEqual(51);
  });

  it('an agent that comes back before the grace keeps its chats', async () => {
    // Setup
    const { tenant, agent } = await agentWithChats(60);
    await db.query('select presence.mark_offline($1, $2)', [tenant, agent]);

    // Action
    await beat(tenant, agent);
    await graceOver(agent);
    await runWorkerOnce();

    // Assertions
    expect(await chatsOf(agent)).toBe(2);
    expect(await activeChats(agent)).toBe(2);
  });
});
