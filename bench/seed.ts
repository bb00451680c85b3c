// Bench data written straight into the tables as the owner, fast (generate_series, no per-row calls): tenants as
// bench/tenants.ts lays them out, agents with one live tab each, and, for the HTTP load, a real sign-in per agent
// and the tenants' supervisors. Ids are numbers in uuids, so a run grows 10k -> 100k -> 1M agents by adding the missing ones
// and the load generator knows every agent's cookie and tab without asking the database.
//
// A sign-in made here is as real as one made by POST /api/auth/login: a presence_accounts.auth_sessions row keyed by
// the SHA-256 of the agent's own token, which the server hashes from the cookie and looks up with
// presence_accounts.session_users. Only the password step is skipped: bcrypt in SQL at cost 10 would take hours for
// the accounts of a full run (docs/benchmarks.md, "How it measures", has its cost an account).
import type pg from 'pg';
import type { TenantLayout } from './tenants.ts';

export const tenantUuid = (n: number): string => `00000000-0000-4000-8000-${hex12(n)}`;
export const agentUuid = (n: number): string => `00000000-0000-4000-9000-${hex12(n)}`;
/** The sign-in (auth session id) of agent n, which its tab records as sign_in. */
export const agentSignInUuid = (n: number): string => `00000000-0000-4000-a000-${hex12(n)}`;
const hex12 = (n: number) => n.toString(16).padStart(12, '0');

/** The SQL of the uuids above. */
const uuidSql = (group: string, n: string): string => `('00000000-0000-4000-${group}-' || lpad(to_hex(${n}), 12, '0'))::uuid`;

/** Cookie tokens: the server sees nothing else. `secret` is per run, so a token of one run opens nothing in the next. */
export const agentToken = (secret: string, n: number): string => `bench.${secret}.a${n}`;
export const supervisorToken = (secret: string, supervisor: number): string => `bench.${secret}.s${supervisor}`;
export const tabId = (n: number, generation: number): string => `tab-${n}-${generation}`;

export interface SeedOptions {
  /** Beat time of the live agents (and of their tabs). */
  at: Date;
  /** Every k-th agent's last beat is an hour before `at` (the sweep's 1 %); 0: none. */
  staleEvery?: number;
  /** Sign-ins: each agent's user and session, and the tenants' supervisors, under this run's token secret. */
  signIns?: { secret: string };
}

/** Agents from..to (1-based, inclusive) with their tenants and tabs, and their sign-ins if asked. */
export async function seedAgents(client: pg.Client, layout: TenantLayout, from: number, to: number, options: SeedOptions): Promise<void> {
  const { at, staleEvery = 0, signIns } = options;
  const ranges = layout.tenantsOf(from, to);
  const tenants = [ranges.map((r) => r.tenant), ranges.map((r) => r.firstAgent), ranges.map((r) => r.lastAgent)];
  const agentsSql = `unnest($1::integer[], $2::integer[], $3::integer[]) r(t, first_agent, last_agent)
                     cross join lateral generate_series(greatest(r.first_agent, $4::integer), least(r.last_agent, $5::integer)) i`;
  await client.query('begin');
  // Generated rows are valid by construction: skip the per-row foreign-key triggers (owner connection only).
  await client.query('set local session_replication_role = replica');
  await client.query(
    `insert into public.tenants (id, name)
     select ${uuidSql('8000', 't')}, 'bench tenant ' || t from unnest($1::integer[]) t
     on conflict do nothing`,
    [tenants[0]],
  );
  await client.query(
    `insert into public.human_agents (id, tenant_id, name, email, status, last_seen)
     select ${uuidSql('9000', 'i')}, ${uuidSql('8000', 'r.t')},
            'Agent ' || i, 'agent' || i || '@bench.example', 'available',
            case when $7 > 0 and i % $7 = 0 then $6::timestamptz - interval '1 hour' else $6::timestamptz end
       from ${agentsSql}`,
    [...tenants, from, to, at, staleEvery],
  );
  // Presence's state of each agent (presence_private.agent_state), as its beats would have left it.
  await client.query(
    `insert into presence_private.agent_state (agent_id, tenant_id, status, chosen_status, status_mechanism, status_since, last_seen)
     select a.id, a.tenant_id, 'available', 'available', 'heartbeat', $3::timestamptz, a.last_seen
       from generate_series($1::integer, $2::integer) i
       join public.human_agents a on a.id = ${uuidSql('9000', 'i')}`,
    [from, to, at],
  );
  await client.query(
    `insert into presence_private.sessions (agent_id, session_id, tenant_id, activity, started_at, last_seen, sign_in)
     select a.agent_id, 'tab-' || i || '-0', a.tenant_id, 'active', a.status_since, a.last_seen,
            case when $3 then ${uuidSql('a000', 'i')}::text end
       from generate_series($1::integer, $2::integer) i
       join presence_private.agent_state a on a.agent_id = ${uuidSql('9000', 'i')}`,
    [from, to, !!signIns],
  );
  if (signIns) {
    // One bcrypt hash for everyone (nobody signs in with a password during the load), at the cheapest cost.
    const { rows } = await client.query<{ hash: string }>(
      "select presence_accounts.bcrypt(presence_accounts.password_secret('bench password, never used'), 4) as hash",
    );
    const hash = rows[0]!.hash;
    await client.query(
      `insert into presence_accounts.users (id, tenant_id, email, name, role, agent_id, password_hash)
       select ${uuidSql('b000', 'i')}, ${uuidSql('8000', 'r.t')}, 'agent' || i || '@bench.example',
              'Agent ' || i, 'support_staff', ${uuidSql('9000', 'i')}, $6
         from ${agentsSql}`,
      [...tenants, from, to, hash],
    );
    await client.query(
      `insert into presence_accounts.auth_sessions (token_hash, id, user_id, created_at, expires_at)
       select sha256(convert_to('bench.' || $3 || '.a' || i, 'UTF8')), ${uuidSql('a000', 'i')}, ${uuidSql('b000', 'i')},
              now(), now() + interval '1 day'
         from generate_series($1::integer, $2::integer) i`,
      [from, to, signIns.secret],
    );
    // The tenants' supervisors, made with the tenant's first agents seeded.
    const supervisorsSql = `unnest($1::integer[], $2::integer[], $3::integer[]) r(t, first_supervisor, supervisors)
                            cross join lateral generate_series(r.first_supervisor, r.first_supervisor + r.supervisors - 1) s`;
    const supervisors = [tenants[0], ranges.map((r) => r.firstSupervisor), ranges.map((r) => r.supervisors)];
    await client.query(
      `insert into presence_accounts.users (id, tenant_id, email, name, role, agent_id, password_hash)
       select ${uuidSql('c000', 's')}, ${uuidSql('8000', 'r.t')}, 'supervisor' || s || '@bench.example',
              'Supervisor ' || s, 'supervisor', null, $4
         from ${supervisorsSql}
       on conflict do nothing`,
      [...supervisors, hash],
    );
    await client.query(
      `insert into presence_accounts.auth_sessions (token_hash, id, user_id, created_at, expires_at)
       select sha256(convert_to('bench.' || $4 || '.s' || s, 'UTF8')), ${uuidSql('d000', 's')}, ${uuidSql('c000', 's')},
              now(), now() + interval '1 day'
         from ${supervisorsSql}
       on conflict do nothing`,
      [...supervisors, signIns.secret],
    );
  }
  await client.query('commit');
}

/** Agents from..to and their tabs: live again at `at` (their beats left the bench's clock behind). */
export async function refreshAgents(client: pg.Client, from: number, to: number, at: Date): Promise<void> {
  const range = [agentUuid(from), agentUuid(to), at];
  await client.query(
    `update presence_private.agent_state set last_seen = $3
      where agent_id between $1::uuid and $2::uuid and status <> 'offline'`,
    range,
  );
  await client.query(
    `update public.human_agents set last_seen = $3 where id between $1::uuid and $2::uuid and status <> 'offline'`,
    range,
  );
  await client.query(`update presence_private.sessions set last_seen = $3 where agent_id between $1::uuid and $2::uuid`, range);
}

/** Brings every stale agent back to the state before a sweep: available, with its (stale) tab. */
export async function restoreStale(client: pg.Client, at: Date): Promise<number> {
  const { rowCount } = await client.query(
    `with restored as (
       update presence_private.agent_state set status = 'available', status_mechanism = 'heartbeat'
        where last_seen = $1::timestamptz - interval '1 hour' and status <> 'available'
       returning agent_id
     )
     update public.human_agents h set status = 'available' from restored r where h.id = r.agent_id`,
    [at],
  );
  await client.query(
    `insert into presence_private.sessions (agent_id, session_id, tenant_id, activity, started_at, last_seen)
     select a.agent_id, 'tab-restored', a.tenant_id, 'active', a.last_seen, a.last_seen
       from presence_private.agent_state a
      where a.last_seen = $1::timestamptz - interval '1 hour'
     on conflict do nothing`,
    [at],
  );
  return rowCount ?? 0;
}
