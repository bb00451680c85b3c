// An agent's past, written as the functions would have written it then (they take the database clock, so a past
// cannot be made by calling them): it came online (one heartbeat event) `onlineForS` seconds ago, took the tenant's
// `chats` oldest chats halfway since, and its one tab last beat `silentForS` seconds ago. The demo's ghost and the
// tests' agents with a past. Run it in a transaction with whatever must see it before a sweep does.
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
       update public.human_agents
          set status = $3, chosen_status = case when $3 = 'dnd' then 'dnd' else 'available' end,
              status_reason = 'heartbeat', status_since = now() - make_interval(secs => $4),
              last_seen = now() - make_interval(secs => $5), active_chats = active_chats + $8
        where id = $2
       returning last_seen
     ), event as (
       insert into presence.status_events (tenant_id, agent_id, from_status, to_status, reason, at)
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
  return rows[0]!.last_seen;
}
