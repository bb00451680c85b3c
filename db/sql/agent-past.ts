// An agent's past, written as the functions would have written it then (they take the database clock, so a past
// cannot be made by calling them): it came online (one heartbeat event) `onlineForS` seconds ago, took the tenant's
// `chats` oldest chats halfway since, and its one tab last beat `silentForS` seconds ago. The demo's ghost and the
// tests' agents with a past. Run it in a transaction with whatever must see it before a sweep does (it also sets the
// transaction's TimeZone for a moment).
import type { Database } from '../../server/database/handle.ts';

export interface AgentPast {
  tenantId: string;
  agentId: string;
  onlineForS: number;
  silentForS: number;
  /** The status it came online with: available, away (idle) or dnd (chosen). */
  status: string;
  tab: string;
  signIn: string | null;
  /** Chats of the tenant's queue assigned to it (the oldest first). */
  chats: number;
}

/** Returns the last beat it now has. */
export async function writeAgentPast(db: Database, p: AgentPast): Promise<Date> {
  const { rows } = await db.query<{ last_seen: Date }>(
    `with agent as (
       insert into presence_private.agent_state as s
         (agent_id, tenant_id, status, chosen_status, status_mechanism, status_since, last_seen, active_chats)
       select a.id, a.tenant_id, $3, case when $3 = 'dnd' then 'dnd' else 'available' end, 'heartbeat',
              now() - make_interval(secs => $4), now() - make_interval(secs => $5), a.active_chats + $8
         from public.human_agents a
        where a.id = $2 and a.tenant_id = $1
       on conflict (agent_id) do update
         set status = excluded.status, chosen_status = excluded.chosen_status,
             status_mechanism = excluded.status_mechanism, status_since = excluded.status_since,
             last_seen = excluded.last_seen, active_chats = s.active_chats + $8
       returning s.last_seen, s.active_chats
     ), platform as (
       -- The values presence mirrors into the platform's row; its last_seen below.
       update public.human_agents h set status = $3, active_chats = (select g.active_chats from agent g) where h.id = $2
     ), event as (
       insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
       values ($1, $2, 'offline', $3, 'heartbeat', now() - make_interval(secs => $4))
     ), tab as (
       insert into presence_private.sessions (agent_id, session_id, tenant_id, activity, sign_in, started_at, last_seen)
       values ($2, $6, $1, 'active', $7, now() - make_interval(secs => $4), now() - make_interval(secs => $5))
     ), chats as (
       update presence_private.chats c
          set status = 'assigned', agent_id = $2, created_at = now() - make_interval(secs => $4),
              assigned_at = now() - make_interval(secs => ($4 + $5) / 2.0)
        where c.id in (select o.id from presence_private.chats o where o.tenant_id = $1 order by o.created_at, o.id limit $8)
     )
     select last_seen from agent`,
    [p.tenantId, p.agentId, p.status, p.onlineForS, p.silentForS, p.tab, p.signIn, p.chats],
  );
  const lastSeen = rows[0]!.last_seen;
  // The platform's last_seen in its own type: written in UTC, so that a timestamp column holds UTC wall time (as
  // presence.heartbeat writes it), then the transaction's TimeZone as it was.
  const { rows: zone } = await db.query<{ tz: string }>(`select current_setting('TimeZone') as tz`);
  await db.query(`select set_config('TimeZone', 'UTC', true)`);
  await db.query(
    `update public.human_agents h set last_seen = s.last_seen
       from presence_private.agent_state s where s.agent_id = h.id and h.id = $1`,
    [p.agentId],
  );
  await db.query(`select set_config('TimeZone', $1, true)`, [zone[0]!.tz]);
  return lastSeen;
}
