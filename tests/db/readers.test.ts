import { afterAll, describe, expect, it } from 'vitest';
import { beat, createAgent, createTenant, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

describe('presence.agent_presence', () => {
  it('reads a stale agent offline before any sweep has run', async () => {
    // Setup: inside one transaction, so no sweep (pg_cron's included) can run in between.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant, { name: 'Ghost', email: 'ghost@example.com', activeChats: 2 });
    await beat(db, tenant, agent, 'tab');
    const client = await db.connect();
    try {
      await client.query('begin');
      await client.query(
        `update presence_private.agent_state set last_seen = now() - interval '100 seconds' where agent_id = $1`,
        [agent],
      );

      // Action
      const { rows } = await client.query('select * from presence.agent_presence where agent_id = $1', [agent]);
      const table = await client.query(
        `select h.status, s.last_seen from human_agents h join presence_private.agent_state s on s.agent_id = h.id
          where h.id = $1`,
        [agent],
      );

      // Assertions
      expect(table.rows[0].status).toBe('available');
      expect(rows[0]).toMatchObject({
        tenant_id: tenant,
        agent_id: agent,
        name: 'Ghost',
        email: 'ghost@example.com',
        status: 'offline',
        chosen_status: 'available',
        seconds_since_seen: 100,
        active_chats: 2,
        max_chats: 5,
      });
      expect(rows[0].offline_at.getTime()).toBe(table.rows[0].last_seen.getTime() + 90_000);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  it('reads a fresh agent with its materialized status', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'dnd']);

    // Action
    const { rows } = await db.query('select status, seconds_since_seen from presence.agent_presence where agent_id = $1', [
      agent,
    ]);

    // Assertions
    expect(rows[0]).toEqual({ status: 'dnd', seconds_since_seen: 0 });
  });

  it('reads an agent who never sent a beat offline, with no last_seen, offline since -infinity', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    const { rows } = await db.query(
      `select status, last_seen, seconds_since_seen, offline_at = '-infinity' as offline_forever
         from presence.agent_presence where agent_id = $1`,
      [agent],
    );

    // Assertions
    expect(rows[0]).toEqual({ status: 'offline', last_seen: null, seconds_since_seen: null, offline_forever: true });
  });
});

describe('presence.time_in_status', () => {
  it('adds up the seconds in each status per UTC day, splitting spans at midnight', async () => {
    // Setup: available 10:00-22:00, away 22:00-02:00 (across midnight), then offline.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await db.query(
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at) values
         ($1, $2, 'offline', 'available', 'heartbeat', '2000-01-01 10:00Z'),
         ($1, $2, 'available', 'away', 'idle', '2000-01-01 22:00Z'),
         ($1, $2, 'away', 'offline', 'timeout', '2000-01-02 02:00Z')`,
      [tenant, agent],
    );

    // Action
    const { rows } = await db.query(
      `select day::text, status, seconds::float8 as seconds from presence.time_in_status
        where agent_id = $1 and day <= '2000-01-02' order by day, status`,
      [agent],
    );

    // Assertions
    expect(rows).toEqual([
      { day: '2000-01-01', status: 'available', seconds: 12 * 3600 },
      { day: '2000-01-01', status: 'away', seconds: 2 * 3600 },
      { day: '2000-01-02', status: 'away', seconds: 2 * 3600 },
      { day: '2000-01-02', status: 'offline', seconds: 22 * 3600 },
    ]);
  });

  it('gives seconds as numeric, so the README\'s hours per day, round(seconds / 3600.0, 1), works', async () => {
    // Setup: available 10:00-22:00 on one day.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await db.query(
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at) values
         ($1, $2, 'offline', 'available', 'heartbeat', '2000-01-01 10:00Z'),
         ($1, $2, 'available', 'offline', 'left', '2000-01-01 22:00Z')`,
      [tenant, agent],
    );

    // Action
    const { rows } = await db.query(
      `select pg_typeof(t.seconds)::text as type, round(t.seconds / 3600.0, 1)::text as hours
         from presence.time_in_status t where t.agent_id = $1 and t.status = 'available' and t.day = '2000-01-01'`,
      [agent],
    );

    // Assertions
    expect(rows).toEqual([{ type: 'numeric', hours: '12.0' }]);
  });
});

describe('presence settings', () => {
  it('a tenant without a settings row gets the defaults', async () => {
    // Setup
    const tenant = await createTenant(db);

    // Action
    const { rows } = await db.query('select * from presence.settings where tenant_id = $1', [tenant]);

    // Assertions
    expect(rows[0]).toEqual({
      tenant_id: tenant,
      heartbeat_interval_s: 30,
      offline_after_s: 90,
      away_after_s: 300,
      release_chats_after_s: 60,
      time_zone: 'UTC',
    });
  });

  it('the defaults of presence.settings are the column defaults of presence.tenant_settings', async () => {
    // Setup
    const tenant = await createTenant(db);

    // Action
    await db.query('insert into presence.tenant_settings (tenant_id) values ($1)', [tenant]);
    const { rows } = await db.query(
      `select to_jsonb(s) - 'tenant_id' as stored, (select to_jsonb(v) - 'tenant_id' from presence.settings v
          where v.tenant_id = $2) as derived
         from presence.tenant_settings s where s.tenant_id = $1`,
      [tenant, await createTenant(db)],
    );

    // Assertions
    expect(rows[0].stored).toEqual(rows[0].derived);
  });

  it('configure_tenant keeps the values it is not given', async () => {
    // Setup
    const tenant = await createTenant(db);

    // Action
    await db.query('select presence.configure_tenant($1, p_offline_after_s => 120)', [tenant]);
    await db.query('select presence.configure_tenant($1, p_away_after_s => 60)', [tenant]);

    // Assertions
    const { rows } = await db.query('select * from presence.settings where tenant_id = $1', [tenant]);
    expect(rows[0]).toMatchObject({ heartbeat_interval_s: 30, offline_after_s: 120, away_after_s: 60 });
  });
});
