import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { agentRow, beat, createAgent, createTenant, eventsOf, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool(30);
afterAll(() => db.end());

describe('presence.sweep_stale_agents', () => {
  it('marks offline, with reason timeout, an agent whose last beat is older than the tenant threshold', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await silenceAgent(db, agent, 91);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'timeout', chosen_status: 'available' });
    expect((await eventsOf(db, agent)).at(-1)).toEqual({ from_status: 'available', to_status: 'offline', mechanism: 'timeout' });
    const { rowCount } = await db.query('select 1 from presence_private.sessions where agent_id = $1', [agent]);
    expect(rowCount).toBe(0);
  });

  it('leaves alone an agent whose last beat is within the threshold', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await silenceAgent(db, agent, 80);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    expect((await agentRow(db, agent)).status).toBe('available');
  });

  it('applies each tenant its own threshold', async () => {
    // Setup
    const strict = await createTenant(db, { heartbeat_interval_s: 5, offline_after_s: 20 });
    const lenient = await createTenant(db, { offline_after_s: 600 });
    const strictAgent = await createAgent(db, strict);
    const lenientAgent = await createAgent(db, lenient);
    await beat(db, strict, strictAgent, 'tab');
    await beat(db, lenient, lenientAgent, 'tab');
    await silenceAgent(db, strictAgent, 30);
    await silenceAgent(db, lenientAgent, 300);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    expect((await agentRow(db, strictAgent)).status).toBe('offline');
    expect((await agentRow(db, lenientAgent)).status).toBe('available');
  });

  it('returns how many agents it took offline, records each at last_seen + offline_after_s (not at p_now), and is idempotent', async () => {
    // Setup: agents living in the year 2000, swept with a clock of that year inside one transaction, so the
    // sweeps pg_cron and other test files run meanwhile neither see nor disturb them. Three went silent at 11:50,
    // so readers saw them offline from 11:51:30 on (offline_after_s 90); two beat at 11:59.
    const client = await db.connect();
    try {
      await client.query('begin');
      const tenant = await createTenant(client);
      const agents = [];
      for (let i = 0; i < 5; i++) agents.push(await createAgent(client, tenant));
      await client.query('select presence_private.ensure_agent_state($1)', [agents]);
      await client.query(
        `update presence_private.agent_state set status = 'available', last_seen = timestamptz '2000-01-01 11:59Z'
          where agent_id = any($1)`,
        [agents],
      );
      await client.query(
        `update presence_private.agent_state set last_seen = timestamptz '2000-01-01 11:50Z' where agent_id = any($1)`,
        [agents.slice(0, 3)],
      );

      // Action
      const first = await client.query('select presence.sweep_stale_agents($1) as n', ['2000-01-01 12:00Z']);
      const second = await client.query('select presence.sweep_stale_agents($1) as n', ['2000-01-01 12:00Z']);

      // Assertions
      expect(first.rows[0].n).toBe(3);
      expect(second.rows[0].n).toBe(0);
      const { rows } = await client.query(
        `select agent_id, at from presence.status_events where agent_id = any($1) and mechanism = 'timeout' order by agent_id`,
        [agents],
      );
      expect(rows).toEqual(
        [...agents.slice(0, 3)].sort().map((agent) => ({ agent_id: agent, at: new Date('2000-01-01T11:51:30Z') })),
      );
      const statuses = await client.query(
        `select status, status_since from presence_private.agent_state where agent_id = any($1)
          order by status, status_since`,
        [agents],
      );
      expect(statuses.rows).toEqual([
        { status: 'available', status_since: null },
        { status: 'available', status_since: null },
        { status: 'offline', status_since: new Date('2000-01-01T11:51:30Z') },
        { status: 'offline', status_since: new Date('2000-01-01T11:51:30Z') },
        { status: 'offline', status_since: new Date('2000-01-01T11:51:30Z') },
      ]);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  it('sweeps thousands of agents in hundreds of tenants in one call', async () => {
    // Setup: 300 tenants with thresholds of 60, 62, ... 658 s, 10 agents each, all silent for 301 s.
    const { rows: tenants } = await db.query<{ id: string; offline_after_s: number }>(
      `with t as (insert into tenants (name) select 'bulk ' || g from generate_series(1, 300) g returning id),
            numbered as (select id, row_number() over () as n from t)
       insert into presence.tenant_settings (tenant_id, offline_after_s)
       select id, 60 + 2 * (n - 1) from numbered returning tenant_id as id, offline_after_s`,
    );
    await db.query(
      `with a as (insert into human_agents (tenant_id, name, email)
                  select t, 'Agent ' || g, 'agent' || g || '@example.com'
                    from unnest($1::uuid[]) t, generate_series(1, 10) g
                  returning id, tenant_id)
       insert into presence_private.agent_state (agent_id, tenant_id, status, last_seen)
       select a.id, a.tenant_id, 'available', now() - interval '301 seconds' from a`,
      [tenants.map((t) => t.id)],
    );

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions: exactly the tenants whose threshold is under 301 s lost their agents.
    const { rows } = await db.query<{ offline_after_s: number; offline: number; online: number }>(
      `select s.offline_after_s,
              count(*) filter (where a.status = 'offline')::int as offline,
              count(*) filter (where a.status <> 'offline')::int as online
         from presence_private.agent_state a join presence.tenant_settings s using (tenant_id)
        where a.tenant_id = any($1) group by s.offline_after_s`,
      [tenants.map((t) => t.id)],
    );
    expect(rows).toHaveLength(300);
    for (const r of rows) {
      expect(r.offline_after_s < 301 ? r.offline : r.online).toBe(10);
    }
    const swept = rows.filter((r) => r.offline_after_s < 301).length * 10;
    expect(swept).toBe(1210);
    const events = await db.query(
      `select count(*)::int as n from presence.status_events where tenant_id = any($1) and mechanism = 'timeout'`,
      [tenants.map((t) => t.id)],
    );
    expect(events.rows[0].n).toBe(1210);
  });

  it('a heartbeat that commits is never undone by a concurrent sweep', async () => {
    // Setup: 200 agents, all silent past the threshold.
    const tenant = await createTenant(db);
    const agents: string[] = [];
    for (let i = 0; i < 200; i++) agents.push(await createAgent(db, tenant));
    for (const agent of agents) await beat(db, tenant, agent, 'tab');
    for (const agent of agents) await silenceAgent(db, agent, 95);

    // Action: 20 connections beat every agent while 5 connections sweep over and over.
    let beating = true;
    const sweeps = Array.from({ length: 5 }, async () => {
      let n = 0;
      while (beating) {
        await db.query('select presence.sweep_stale_agents()');
        n++;
      }
      return n;
    });
    const queue = [...agents];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let agent = queue.pop(); agent; agent = queue.pop()) await beat(db, tenant, agent, randomUUID());
      }),
    );
    beating = false;
    const sweepCount = (await Promise.all(sweeps)).reduce((a, b) => a + b, 0);

    // Assertions: every agent beat after being silent, so none may be offline now.
    const { rows } = await db.query<{ id: string; status: string }>(
      `select id, status from human_agents where id = any($1) and status = 'offline'`,
      [agents],
    );
    expect(sweepCount).toBeGreaterThan(5);
    expect(rows).toEqual([]);
    const fresh = await db.query(
      `select count(*)::int as n from presence.agent_presence where agent_id = any($1) and status = 'available'`,
      [agents],
    );
    expect(fresh.rows[0].n).toBe(200);
  });

  it('does not touch an agent who chose offline by hand', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'offline']);
    await silenceAgent(db, agent, 600);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'manual' });
  });
});
