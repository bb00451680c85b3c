// Test fixtures: a pool on the test database (as its owner) and tenants/agents of each test's own.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { inTransaction as inTransactionOn, withClient } from '../../db/client.ts';
import { migrate } from '../../db/migrate.ts';
import { writeAgentPast } from '../../db/sql/agent-past.ts';
import { Database } from '../../server/database/handle.ts';
import { heartbeats } from '../../server/presence/sql/heartbeats.ts';
import { statusChangesAfter, type StatusChangeRow } from '../../server/presence/sql/status-changes-after.ts';
import type { Activity } from '../../server/http/contract.ts';

/** Anything a test can query through: the pool, or one client of it holding a transaction. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export function testPool(max = 10): pg.Pool {
  return new pg.Pool({ connectionString: inject('databaseUrl'), max });
}

export interface TenantSettings {
  heartbeat_interval_s?: number;
  offline_after_s?: number;
  away_after_s?: number;
  release_chats_after_s?: number;
  time_zone?: string;
}

export async function createTenant(db: Queryable, settings?: TenantSettings): Promise<string> {
  const { rows } = await db.query<{ id: string }>('insert into tenants (name) values ($1) returning id', [
    `tenant ${randomUUID()}`,
  ]);
  const id = rows[0]!.id;
  if (settings) {
    await db.query('select presence.configure_tenant($1, $2, $3, $4, $5, $6)', [
      id,
      settings.heartbeat_interval_s ?? null,
      settings.offline_after_s ?? null,
      settings.away_after_s ?? null,
      settings.release_chats_after_s ?? null,
      settings.time_zone ?? null,
    ]);
  }
  return id;
}

export async function createAgent(
  db: Queryable,
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
 * Makes an agent look silent for `seconds`: moves its last beat, its last transition (status_since) and the beats
 * of its tabs into the past, so that its timeout is recorded `seconds` - offline_after_s ago. Tests age their
 * own agents instead of moving the clock forward, so the sweeps pg_cron runs meanwhile and the sweeps of other test
 * files only ever see what is really stale. Its status events stay where they are (the table is append-only), so
 * the timeout can be dated before the event it follows: eventsOf lists events in the order they were written; a
 * test of the dates themselves uses createAgentWithPast.
 */
export async function silenceAgent(db: pg.Pool, agentId: string, seconds: number): Promise<void> {
  await db.query(
    `with a as (update presence_private.agent_state set last_seen = last_seen - make_interval(secs => $2),
                                                     status_since = status_since - make_interval(secs => $2)
                 where agent_id = $1)
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
    `select coalesce(s.status, h.status::text) as status, coalesce(s.chosen_status, 'available') as chosen_status,
            s.status_mechanism as status_reason, s.last_seen
       from public.human_agents h left join presence_private.agent_state s on s.agent_id = h.id
      where h.id = $1`,
    [agentId],
  );
  return rows[0]!;
}

/** An agent's transitions in the order they were written (its row lock serializes them). */
export async function eventsOf(
  db: Queryable,
  agentId: string,
): Promise<Array<{ from_status: string; to_status: string; mechanism: string }>> {
  const { rows } = await db.query(
    'select from_status, to_status, mechanism from presence.status_events where agent_id = $1 order by id',
    [agentId],
  );
  return rows;
}

export interface Beat {
  status: string;
  last_seen: Date;
  heartbeat_interval_s: number;
}

/** One call of presence.heartbeat as the app would make it (optionally naming the sign-in the tab beats under). */
export async function beat(
  db: Queryable,
  tenantId: string,
  agentId: string,
  tabId: string,
  activity = 'active',
  signIn: string | null = null,
): Promise<Beat> {
  const { rows } = await db.query<Beat>('select * from presence.heartbeat($1, $2, $3, $4, $5)', [
    tenantId,
    agentId,
    tabId,
    activity,
    signIn,
  ]);
  return rows[0]!;
}

export interface BatchBeat {
  tenantId: string;
  agentId: string;
  tabId: string;
  activity?: string;
  signIn?: string | null;
}

/** One call of presence.heartbeats (the batch the router sends, through its module): one answer per beat, in order. */
export async function beats(db: Queryable, batch: BatchBeat[]): Promise<Beat[]> {
  const results = await heartbeats(
    new Database(db),
    batch.map((b) => ({ ...b, activity: (b.activity ?? 'active') as Activity, signIn: b.signIn ?? null })),
  );
  return results.map((r) => ({ status: r.status, last_seen: r.lastSeen, heartbeat_interval_s: r.heartbeatIntervalS }));
}

/** presence.end_sign_in: sign-out of one sign-in (agent null for a supervisor); returns the agent's status. */
export async function endSignIn(db: Queryable, tenantId: string, agentId: string | null, signIn: string): Promise<string | null> {
  const { rows } = await db.query<{ status: string | null }>('select presence.end_sign_in($1, $2, $3) as status', [
    tenantId,
    agentId,
    signIn,
  ]);
  return rows[0]!.status;
}

/** Runs `work` in one transaction on one client of the pool and commits it (rolls back if it throws). */
export async function inTransaction<T>(db: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    return await inTransactionOn(client, () => work(client));
  } finally {
    client.release();
  }
}

/**
 * An agent with a past: it came online (one heartbeat event) `onlineForS` seconds ago, its one tab last beat
 * `silentForS` seconds ago, and no sweep or call has looked at it since (status away stands for idle, dnd for a
 * chosen dnd). silenceAgent cannot give that past (its
 * status event stays at the real time and status_events is append-only), so the rows are written as they would
 * have been. Write it inside a transaction (inTransaction) that also runs the call under test, so that no sweep
 * (pg_cron's, another file's) sees it in between.
 */
export async function createAgentWithPast(
  db: Queryable,
  tenantId: string,
  {
    onlineForS,
    silentForS,
    status = 'available',
    tab = 'tab',
    signIn = null,
  }: { onlineForS: number; silentForS: number; status?: string; tab?: string; signIn?: string | null },
): Promise<{ agentId: string; lastSeen: Date }> {
  const agentId = await createAgent(db, tenantId);
  const lastSeen = await writeAgentPast(new Database(db), {
    tenantId,
    agentId,
    onlineForS,
    silentForS,
    status,
    tab,
    signIn,
    chats: 0,
  });
  return { agentId, lastSeen };
}

/**
 * A connection listening on a channel, keeping each notification's payload as sent (the presence channels ring with
 * an empty one); `until` waits (up to 3 s) for the messages a test expects.
 */
export async function listenTo(
  channel: string,
  url: string = inject('databaseUrl'),
): Promise<{
  received: string[];
  until: (enough: (received: string[]) => boolean, ms?: number) => Promise<void>;
  stop: () => Promise<void>;
}> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const received: string[] = [];
  client.on('notification', (n) => {
    if (n.channel === channel) received.push(n.payload ?? '');
  });
  await client.query(`listen ${pg.escapeIdentifier(channel)}`);
  return {
    received,
    async until(enough, ms = 3_000) {
      for (let waited = 0; waited < ms && !enough(received); waited += 50) await new Promise((r) => setTimeout(r, 50));
    },
    stop: () => client.end(),
  };
}

/** presence.status_changes_after from `after` to the newest event, for `tenants`: what a server's stream hub reads. */
export async function statusChangesSince(
  db: Queryable,
  after: string,
  tenants: string[],
): Promise<StatusChangeRow[]> {
  return (await statusChangesAfter(new Database(db), after, tenants, NOTHING_PENDING, 10_000)).changes;
}

/** The newest event id now: where a reader that starts now begins. */
export async function newestEventId(db: Queryable): Promise<string> {
  return (await statusChangesAfter(new Database(db), null, [], NOTHING_PENDING, 1)).nextAfter;
}

const NOTHING_PENDING = { ids: [], xids: [] };

/**
 * A database of the test's own in the test cluster (for migrations and platform shapes), dropped by `drop()`.
 * Its URL is the test database's with another database name.
 */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(inject('databaseUrl'));
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await withClient(base.toString(), (c) => c.query(`create database ${name}`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await withClient(base.toString(), (c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** A scratch database migrated as presence's migrations leave it, with a small owner pool; `drop()` ends both. */
export async function migratedScratchDatabase(prefix: string): Promise<{ url: string; db: pg.Pool; drop: () => Promise<void> }> {
  const scratch = await scratchDatabase(prefix);
  await migrate(scratch.url);
  const db = new pg.Pool({ connectionString: scratch.url, max: 2 });
  return {
    url: scratch.url,
    db,
    async drop() {
      await db.end();
      await scratch.drop();
    },
  };
}
