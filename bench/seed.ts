// Bench data straight into the tables, fast: tenants of AGENTS_PER_TENANT agents, one live browser session
// each, with ids that are plain numbers so that a run can grow 10k -> 100k -> 1M agents by adding the missing
// ones. Every 100th agent is stale (its last beat an hour before `at`): 1 % of the agents.
import type pg from 'pg';

export const AGENTS_PER_TENANT = 100;
export const STALE_EVERY = 100;

export const tenantUuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
export const agentUuid = (n: number): string => `00000000-0000-4000-9000-${n.toString(16).padStart(12, '0')}`;

/** The SQL of tenantUuid / agentUuid. */
const uuidSql = (group: string, n: string): string => `('00000000-0000-4000-${group}-' || lpad(to_hex(${n}), 12, '0'))::uuid`;

/** Agents `from`..`to` (1-based, inclusive) with their tenants and sessions. `at` is the beat time of the live ones. */
export async function seedAgents(client: pg.Client, from: number, to: number, at: Date): Promise<void> {
  await client.query('begin');
  // Generated rows are valid by construction: skip the per-row foreign-key triggers (owner connection only).
  await client.query('set local session_replication_role = replica');
  await client.query(
    `insert into public.tenants (id, name)
     select ${uuidSql('8000', 't')}, 'bench tenant ' || t
       from generate_series(($1::integer - 1) / $3 + 1, ($2::integer - 1) / $3 + 1) t
     on conflict do nothing`,
    [from, to, AGENTS_PER_TENANT],
  );
  await client.query(
    `insert into public.human_agents (id, tenant_id, name, email, status, status_since, last_seen)
     select ${uuidSql('9000', 'i')},
            ${uuidSql('8000', '(i - 1) / $3 + 1')},
            'Agent ' || i, 'agent' || i || '@bench.example', 'available', $4::timestamptz,
            case when i % $5 = 0 then $4::timestamptz - interval '1 hour' else $4::timestamptz end
       from generate_series($1::integer, $2::integer) i`,
    [from, to, AGENTS_PER_TENANT, at, STALE_EVERY],
  );
  await client.query(
    `insert into presence_private.sessions (agent_id, session_id, tenant_id, activity, started_at, last_seen)
     select a.id, 'tab-1', a.tenant_id, 'active', a.status_since, a.last_seen
       from public.human_agents a
      where a.id between ${uuidSql('9000', '$1::integer')} and ${uuidSql('9000', '$2::integer')}`,
    [from, to],
  );
  await client.query('commit');
}

/** Brings every stale agent back to the state before a sweep: available, with its (stale) session. */
export async function restoreStale(client: pg.Client, at: Date): Promise<number> {
  const { rowCount } = await client.query(
    `update public.human_agents set status = 'available', status_reason = null
      where last_seen = $1::timestamptz - interval '1 hour' and status <> 'available'`,
    [at],
  );
  await client.query(
    `insert into presence_private.sessions (agent_id, session_id, tenant_id, activity, started_at, last_seen)
     select a.id, 'tab-1', a.tenant_id, 'active', a.last_seen, a.last_seen
       from public.human_agents a
      where a.last_seen = $1::timestamptz - interval '1 hour'
     on conflict do nothing`,
    [at],
  );
  return rowCount ?? 0;
}
