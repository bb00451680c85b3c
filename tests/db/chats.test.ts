// Chats and capacity: assign_chat, close_chat, release_chats and the release job an offline agent's chats get.
// Every tenant here waits an hour before releasing chats, so a worker that another test file runs on this
// database never releases them during a test; the tests call presence.release_chats themselves.
import { afterAll, describe, expect, it } from 'vitest';
import { beat, createAgent, createAgentWithPast, createTenant, inTransaction, testPool, type Queryable } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

const HOUR = 3600;

async function chatTenant(): Promise<string> {
  return createTenant(db, { release_chats_after_s: HOUR });
}

async function openChat(client: Queryable, tenant: string): Promise<string> {
  const { rows } = await client.query<{ id: string }>('select presence.open_chat($1) as id', [tenant]);
  return rows[0]!.id;
}

async function assignChat(client: Queryable, tenant: string): Promise<{ chat_id: string; agent_id: string } | undefined> {
  const { rows } = await client.query<{ chat_id: string; agent_id: string }>('select * from presence.assign_chat($1)', [tenant]);
  return rows[0];
}

/**
 * Each agent's active_chats beside the number of chats assigned to it: the invariant close/release must keep.
 * active_chats is presence's count, and -1 where the platform's column (its mirror) says otherwise.
 */
async function capacity(agents: string[], client: Queryable = db): Promise<Array<{ active_chats: number; assigned: number }>> {
  const { rows } = await client.query(
    `select case when coalesce(s.active_chats, a.active_chats) = a.active_chats then a.active_chats else -1 end
              as active_chats,
            (select count(*)::int from presence_private.chats c where c.agent_id = a.id and c.status = 'assigned') as assigned
       from unnest($1::uuid[]) with ordinality as x(id, n) join human_agents a on a.id = x.id
       left join presence_private.agent_state s on s.agent_id = a.id
      order by x.n`,
    [agents],
  );
  return rows;
}

describe('presence.assign_chat', () => {
  it('gives the oldest queued chat to the least busy available agent and counts it against its capacity', async () => {
    // Setup
    const tenant = await chatTenant();
    const busy = await createAgent(db, tenant, { maxChats: 5 });
    const idle = await createAgent(db, tenant, { maxChats: 5 });
    await beat(db, tenant, busy, 'tab');
    await beat(db, tenant, idle, 'tab');
    const first = await openChat(db, tenant);
    await openChat(db, tenant);
    expect((await assignChat(db, tenant))?.chat_id).toBe(first);
    const firstHolder = (await db.query('select agent_id from presence_private.chats where id = $1', [first])).rows[0].agent_id;
    const other = firstHolder === busy ? idle : busy;

    // Action
    const second = await assignChat(db, tenant);

    // Assertions
    expect(second?.agent_id).toBe(other);
    expect(await capacity([busy, idle])).toEqual([
      { active_chats: 1, assigned: 1 },
      { active_chats: 1, assigned: 1 },
    ]);
  });

  it('never gives a chat to a silent agent, one that chose away or one that is full', async () => {
    // Setup
    const tenant = await chatTenant();
    const full = await createAgent(db, tenant, { maxChats: 0 });
    const away = await createAgent(db, tenant);
    await beat(db, tenant, full, 'tab');
    await beat(db, tenant, away, 'tab');
    await db.query('select presence.set_status($1, $2, $3)', [tenant, away, 'away']);
    await openChat(db, tenant);

    // Action: the silent agent reads available in the table, but not by the liveness rule; no sweep runs here.
    const assigned = await inTransaction(db, async (client) => {
      await createAgentWithPast(client, tenant, { onlineForS: 1000, silentForS: 600 });
      return assignChat(client, tenant);
    });

    // Assertions
    expect(assigned).toBeUndefined();
  });
});

describe('presence.close_chat', () => {
  it('frees the slot of the agent that holds the chat, once', async () => {
    // Setup
    const tenant = await chatTenant();
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    const chat = await openChat(db, tenant);
    await assignChat(db, tenant);

    // Action
    await db.query('select presence.close_chat($1, $2)', [tenant, chat]);
    await db.query('select presence.close_chat($1, $2)', [tenant, chat]);

    // Assertions
    expect(await capacity([agent])).toEqual([{ active_chats: 0, assigned: 0 }]);
  });

  it('frees the slot of the agent that holds the chat now when the chat was released and reassigned meanwhile', async () => {
    // Setup: agent A held the chat and went offline; B is available.
    const tenant = await chatTenant();
    const a = await createAgent(db, tenant);
    await beat(db, tenant, a, 'tab-a');
    const chat = await openChat(db, tenant);
    expect((await assignChat(db, tenant))?.agent_id).toBe(a);
    await db.query('select presence.end_session($1, $2, $3)', [tenant, a, 'tab-a']);
    const b = await createAgent(db, tenant);
    await beat(db, tenant, b, 'tab-b');

    // Action: the release job hands the chat back and it goes to B, while a close of the same chat is on its way.
    const mover = await db.connect();
    const closer = await db.connect();
    try {
      await mover.query('begin');
      expect((await mover.query('select presence.release_chats($1) as n', [a])).rows[0].n).toBe(1);
      expect((await assignChat(mover, tenant))?.agent_id).toBe(b);
      const { rows: pid } = await closer.query<{ pid: number }>('select pg_backend_pid() as pid');
      const closing = closer.query('select presence.close_chat($1, $2)', [tenant, chat]);
      for (let waited = 0; waited < 5_000; waited += 20) {
        const { rows } = await db.query('select wait_event_type from pg_stat_activity where pid = $1', [pid[0]!.pid]);
        if (rows[0]?.wait_event_type === 'Lock') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await mover.query('commit');
      await closing;
    } finally {
      mover.release();
      closer.release();
    }

    // Assertions: B's slot is free again, A's count did not go below what it holds.
    expect(await capacity([a, b])).toEqual([
      { active_chats: 0, assigned: 0 },
      { active_chats: 0, assigned: 0 },
    ]);
    const { rows } = await db.query('select status, agent_id from presence_private.chats where id = $1', [chat]);
    expect(rows).toEqual([{ status: 'closed', agent_id: null }]);
  });

  it('closing a chat released and reassigned before the close, one after the other, frees the new holder', async () => {
    // Setup
    const tenant = await chatTenant();
    const a = await createAgent(db, tenant);
    await beat(db, tenant, a, 'tab-a');
    const chat = await openChat(db, tenant);
    await assignChat(db, tenant);
    await db.query('select presence.end_session($1, $2, $3)', [tenant, a, 'tab-a']);
    await db.query('select presence.release_chats($1)', [a]);
    const b = await createAgent(db, tenant, { activeChats: 0 });
    await beat(db, tenant, b, 'tab-b');
    expect((await assignChat(db, tenant))?.agent_id).toBe(b);

    // Action
    await db.query('select presence.close_chat($1, $2)', [tenant, chat]);

    // Assertions
    expect(await capacity([a, b])).toEqual([
      { active_chats: 0, assigned: 0 },
      { active_chats: 0, assigned: 0 },
    ]);
  });
});

describe('presence.release_chats', () => {
  it('an agent going offline with chats gets one release job, due release_chats_after_s after it went offline', async () => {
    // Setup / Action: an agent holding a chat went silent 600 s ago; the sweep records its timeout at
    // last_seen + offline_after_s, and the job is due an hour after that, not an hour after the sweep.
    const tenant = await chatTenant();
    const { agentId, lastSeen } = await inTransaction(db, async (client) => {
      const holder = await createAgent(client, tenant);
      await beat(client, tenant, holder, 'tab');
      await openChat(client, tenant);
      await assignChat(client, tenant);
      await client.query(
        `update presence_private.agent_state
            set last_seen = now() - interval '600 seconds', status_since = now() - interval '1000 seconds'
          where agent_id = $1`,
        [holder],
      );
      await client.query('select presence.sweep_stale_agents()');
      const { rows } = await client.query('select last_seen from presence_private.agent_state where agent_id = $1', [holder]);
      return { agentId: holder, lastSeen: rows[0].last_seen as Date };
    });

    // Assertions
    const { rows } = await db.query(
      `select j.task_identifier, p.payload, j.run_at from graphile_worker.jobs j
         join graphile_worker._private_jobs p using (id) where j.key = $1`,
      [`release_chats:${agentId}`],
    );
    expect(rows).toEqual([
      { task_identifier: 'release_chats', payload: { agentId }, run_at: new Date(lastSeen.getTime() + 90_000 + HOUR * 1000) },
    ]);
  });

  it('returns the chats of an agent still offline to the queue; an agent that came back keeps them', async () => {
    // Setup
    const tenant = await chatTenant();
    const gone = await createAgent(db, tenant);
    const back = await createAgent(db, tenant);
    for (const agent of [gone, back]) {
      await beat(db, tenant, agent, 'tab');
      await openChat(db, tenant);
      await assignChat(db, tenant);
      await db.query('select presence.end_session($1, $2, $3)', [tenant, agent, 'tab']);
    }
    await beat(db, tenant, back, 'tab');

    // Action
    const released = await db.query('select presence.release_chats($1) as n', [gone]);
    const kept = await db.query('select presence.release_chats($1) as n', [back]);

    // Assertions
    expect([released.rows[0].n, kept.rows[0].n]).toEqual([1, 0]);
    expect(await capacity([gone, back])).toEqual([
      { active_chats: 0, assigned: 0 },
      { active_chats: 1, assigned: 1 },
    ]);
    const { rows } = await db.query(`select count(*)::int as n from presence_private.chats where tenant_id = $1 and status = 'queued'`, [
      tenant,
    ]);
    expect(rows[0].n).toBe(1);
  });
});

/** Runs `work` in a transaction that is rolled back, so a sweep with the clock moved forward disturbs no other test. */
async function rolledBack<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('begin');
    return await work(client);
  } finally {
    await client.query('rollback');
    client.release();
  }
}

describe('the sweep releases stranded chats', () => {
  /** An agent of `tenant` holding two chats whose last tab closed just now: offline, with a release job pending. */
  async function offlineHolder(tenant: string): Promise<string> {
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    for (let i = 0; i < 2; i++) {
      await openChat(db, tenant);
      expect((await assignChat(db, tenant))?.agent_id).toBe(agent);
    }
    await db.query('select presence.end_session($1, $2, $3)', [tenant, agent, 'tab']);
    return agent;
  }

  it('returns the chats of an agent offline past its tenant\'s release time to the queue though its release job is locked by a worker that died', async () => {
    // Setup: the job was taken by a worker whose machine died: graphile-worker leaves it locked for 4 hours.
    const tenant = await createTenant(db, { release_chats_after_s: 60 });
    const agent = await offlineHolder(tenant);
    const { rowCount: locked } = await db.query(
      `update graphile_worker._private_jobs set locked_at = now(), locked_by = 'worker-of-a-machine-that-died', attempts = 1
        where key = $1`,
      [`release_chats:${agent}`],
    );

    // Action: sweeps with the clock moved 30 s (within the grace) and 61 s (past it) after the agent went offline.
    const { early, late, queued } = await rolledBack(async (client) => {
      await client.query(`select presence.sweep_stale_agents(now() + interval '30 seconds')`);
      const early = await capacity([agent], client);
      await client.query(`select presence.sweep_stale_agents(now() + interval '61 seconds')`);
      const late = await capacity([agent], client);
      const { rows } = await client.query(
        `select count(*)::int as n from presence_private.chats where tenant_id = $1 and status = 'queued'`,
        [tenant],
      );
      return { early, late, queued: rows[0].n as number };
    });

    // Assertions
    expect(locked).toBe(1);
    expect(early).toEqual([{ active_chats: 2, assigned: 2 }]);
    expect(late).toEqual([{ active_chats: 0, assigned: 0 }]);
    expect(queued).toBe(2);
  });

  it('leaves the chats with an agent that came back before its release time', async () => {
    // Setup
    const tenant = await createTenant(db, { release_chats_after_s: 60 });
    const agent = await offlineHolder(tenant);
    await beat(db, tenant, agent, 'tab-again');

    // Action
    const after = await rolledBack(async (client) => {
      await client.query(`select presence.sweep_stale_agents(now() + interval '61 seconds')`);
      return capacity([agent], client);
    });

    // Assertions
    expect(after).toEqual([{ active_chats: 2, assigned: 2 }]);
  });
});
