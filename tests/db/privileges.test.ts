import { afterAll, describe, expect, it } from 'vitest';
import { beat, createAgent, createTenant, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

/** Runs sql as `role` in a transaction that is rolled back; returns the error code, or 'ok'. */
async function as(role: string, sql: string, params: unknown[] = []): Promise<string> {
  const client = await db.connect();
  try {
    await client.query('begin');
    await client.query(`set local role ${role}`);
    await client.query(sql, params);
    return 'ok';
  } catch (error) {
    return (error as { code: string }).code;
  } finally {
    await client.query('rollback');
    client.release();
  }
}

const DENIED = '42501';

describe('role presence_app', () => {
  it('cannot log in: it is a NOLOGIN role granted to the deployment login role', async () => {
    const { rows } = await db.query(`select rolname, rolcanlogin from pg_roles where rolname like 'presence_%' order by 1`);
    expect(rows).toEqual([
      { rolname: 'presence_analyst', rolcanlogin: false },
      { rolname: 'presence_app', rolcanlogin: false },
    ]);
  });

  it('executes the presence functions and reads the presence views', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action / Assertions
    expect(await as('presence_app', 'select * from presence.heartbeat($1, $2, $3)', [tenant, agent, 'tab'])).toBe('ok');
    expect(await as('presence_app', 'select presence.set_status($1, $2, $3)', [tenant, agent, 'away'])).toBe('ok');
    expect(await as('presence_app', 'select presence.end_session($1, $2, $3)', [tenant, agent, 'tab'])).toBe('ok');
    expect(await as('presence_app', 'select * from presence.agent_presence where tenant_id = $1', [tenant])).toBe('ok');
    expect(await as('presence_app', 'select * from presence.time_in_status where tenant_id = $1', [tenant])).toBe('ok');
  });

  it('cannot read, insert, update or delete any table', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action / Assertions
    for (const sql of [
      'select * from human_agents',
      `update human_agents set status = 'available'`,
      `insert into tenants (name) values ('x')`,
      'delete from human_agents',
      'select * from presence.status_events',
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, reason, at)
         values (gen_random_uuid(), gen_random_uuid(), 'offline', 'available', 'manual', now())`,
      'update presence.tenant_settings set offline_after_s = 1000',
      'select * from presence_private.sessions',
    ]) {
      expect(await as('presence_app', sql), sql).toBe(DENIED);
    }
  });

  it('cannot call the internal transition function nor the operator functions', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action / Assertions
    expect(
      await as(
        'presence_app',
        `select presence_private.apply_transitions(array[($1::uuid, $2::uuid, 'offline', 'available', 'manual')::presence_private.status_change], now())`,
        [agent, tenant],
      ),
    ).toBe(DENIED);
    expect(await as('presence_app', 'select presence.mark_offline($1, $2)', [tenant, agent])).toBe(DENIED);
    expect(await as('presence_app', 'select presence.configure_tenant($1, 10, 20)', [tenant])).toBe(DENIED);
  });
});

describe('role presence_analyst', () => {
  it('reads human_agents, the presence views and the status events', async () => {
    for (const sql of [
      'select id, last_seen, status from human_agents limit 1',
      'select * from presence.agent_presence limit 1',
      'select * from presence.time_in_status limit 1',
      'select * from presence.status_events limit 1',
      'select * from presence.settings limit 1',
    ]) {
      expect(await as('presence_analyst', sql), sql).toBe('ok');
    }
  });

  it('changes nothing: no writes and no presence functions', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action / Assertions
    for (const sql of [
      `update human_agents set last_seen = now()`,
      'delete from presence.status_events',
      `insert into tenants (name) values ('x')`,
    ]) {
      expect(await as('presence_analyst', sql), sql).toBe(DENIED);
    }
    expect(await as('presence_analyst', 'select * from presence.heartbeat($1, $2, $3)', [tenant, agent, 'tab'])).toBe(DENIED);
    expect(await as('presence_analyst', 'select presence.sweep_stale_agents()')).toBe(DENIED);
  });
});

describe('the write functions', () => {
  it('are security definer with a pinned, empty search_path', async () => {
    const { rows } = await db.query(
      `select p.proname, p.prosecdef, p.proconfig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'presence' and p.provolatile = 'v' order by 1`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(6);
    for (const r of rows) {
      expect(r.prosecdef, r.proname).toBe(true);
      expect(r.proconfig, r.proname).toContain('search_path=""');
    }
  });

  it('and every public function and view carry a comment', async () => {
    const { rows } = await db.query(
      `select p.oid::regprocedure::text as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('presence', 'presence_private') and obj_description(p.oid, 'pg_proc') is null
       union all
       select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'presence' and c.relkind in ('v', 'r') and obj_description(c.oid, 'pg_class') is null`,
    );
    expect(rows).toEqual([]);
  });
});
