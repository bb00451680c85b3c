// Test fixtures: a pool on the test database (as its owner) and tenants/agents of each test's own.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export function testPool(max = 10): pg.Pool {
  return new pg.Pool({ connectionString: inject('databaseUrl'), max });
}

export interface TenantSettings {
  heartbeat_interval_s?: number;
  offline_after_s?: number;
  away_after_s?: number;
  release_chats_after_s?: number;
}

export async function createTenant(db: pg.Pool, settings?: TenantSettings): Promise<string> {
  const { rows } = await db.query<{ id: string }>('insert into tenants (name) values ($1) returning id', [
    `tenant ${randomUUID()}`,
  ]);
  const id = rows[0]!.id;
  if (settings) {
    await db.query('select presence.configure_tenant($1, $2, $3, $4, $5)', [
      id,
      settings.heartbeat_interval_s ?? null,
      settings.offline_after_s ?? null,
      settings.away_after_s ?? null,
      settings.release_chats_after_s ?? null,
    ]);
  }
  return id;
}

export async function createAgent(
  db: pg.Pool,
  tenantId: string,
  fields: { name?: string; email?: string; maxChats?: number; activeChats?: number } = {},
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `insert into human_agents (tenant_id, name, email, max_chats, active_chats)
     values ($1, $2, $3, $4, $5) returning id`,
    [
      tenantId,
      fields.name ?? 'Test Agent',
      fields.email ?? `agent-${randomUUID()}@example.com`,
      fields.maxChats ?? 5,
      fields.activeChats ?? 0,
    ],
  );
  return rows[0]!.id;
}

/**
 * Makes an agent look silent for `seconds`: moves its last beat and those of its sessions into the past.
 * Tests age their own agents instead of moving the clock forward, so the sweeps pg_cron runs meanwhile
 * and the sweeps of other test files only ever see what is really stale.
 */
export async function silenceAgent(db: pg.Pool, agentId: string, seconds: number): Promise<void> {
  await db.query(
    `with a as (update human_agents set last_seen = last_seen - make_interval(secs => $2) where id = $1)
     update presence_private.sessions set last_seen = last_seen - make_interval(secs => $2) where agent_id = $1`,
    [agentId, seconds],
  );
}

export interface AgentRow {
  status: string;
  chosen_status: string;
  status_reason: string | null;
  last_seen: Date | null;
}

export async function agentRow(db: pg.Pool, agentId: string): Promise<AgentRow> {
  const { rows } = await db.query<AgentRow>(
    'select status, chosen_status, status_reason, last_seen from human_agents where id = $1',
    [agentId],
  );
  return rows[0]!;
}

export async function eventsOf(
  db: pg.Pool,
  agentId: string,
): Promise<Array<{ from_status: string; to_status: string; reason: string }>> {
  const { rows } = await db.query(
    'select from_status, to_status, reason from presence.status_events where agent_id = $1 order by at, id',
    [agentId],
  );
  return rows;
}

export interface Beat {
  status: string;
  last_seen: Date;
  heartbeat_interval_s: number;
}

/** One call of presence.heartbeat as the app would make it. */
export async function beat(
  db: pg.Pool | pg.PoolClient,
  tenantId: string,
  agentId: string,
  sessionId: string,
  activity = 'active',
): Promise<Beat> {
  const { rows } = await db.query<Beat>('select * from presence.heartbeat($1, $2, $3, $4)', [
    tenantId,
    agentId,
    sessionId,
    activity,
  ]);
  return rows[0]!;
}

/**
 * A database of the test's own in the test cluster (for migrations and platform shapes), dropped by `drop()`.
 * Its URL is the test database's with another database name.
 */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(inject('databaseUrl'));
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: base.toString() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: base.toString() });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
