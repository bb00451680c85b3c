// An agent's earlier hours, written as the functions would have written them then (they take the database clock,
// so a past cannot be made by calling them): one status event per transition, each `agoS` seconds before now, each
// leaving from where the one before arrived (the first from offline), with what caused it, the tenant reason of
// the chosen status and who did it. The agent's state ends where the last event does (its status, its chosen status,
// what caused it and since when), so readers see the history and the present agree. The demo's day; owner only, in the seed's
// transaction.
import type { Database } from '../../server/database/handle.ts';
import type { AgentStatus, Mechanism } from '../../server/http/contract.ts';

export interface PastTransition {
  /** Seconds before now. */
  agoS: number;
  to: AgentStatus;
  /** The chosen status after it. */
  chosen: AgentStatus;
  mechanism: Mechanism;
  /** A tenant reason's id (presence.reasons), of the chosen status. */
  reasonId?: string | null;
  /** Who did it, as the platform knows them. */
  actor?: { id: string; name: string } | null;
}

/** Writes the transitions (in time order) and leaves the agent's row as the last one did. */
export async function writeAgentDay(db: Database, tenantId: string, agentId: string, day: readonly PastTransition[]): Promise<void> {
  const events = [...day].sort((a, b) => b.agoS - a.agoS);
  const last = events.at(-1);
  if (!last) return;
  const from = ['offline', ...events.slice(0, -1).map((e) => e.to)];
  await db.query(
    `with events as (
       insert into presence.status_events
         (tenant_id, agent_id, from_status, to_status, chosen_status, mechanism, reason_id, actor_id, actor_name, at)
       select $1, $2, e.from_status, e.to_status, e.chosen_status, e.mechanism, e.reason_id, e.actor_id, e.actor_name,
              now() - make_interval(secs => e.ago_s)
         from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::text[], $9::text[], $10::float8[])
              as e(from_status, to_status, chosen_status, mechanism, reason_id, actor_id, actor_name, ago_s)
        order by e.ago_s desc
     ), state as (
       -- Its last beat: when it last left (a day ends offline).
       insert into presence_private.agent_state as s
         (agent_id, tenant_id, status, chosen_status, status_mechanism, status_since, last_seen)
       values ($2, $1, $11, $12, $13, now() - make_interval(secs => $14), now() - make_interval(secs => $14))
       on conflict (agent_id) do update
         set status = excluded.status, chosen_status = excluded.chosen_status,
             status_mechanism = excluded.status_mechanism, status_since = excluded.status_since,
             last_seen = excluded.last_seen
     )
     -- The value presence mirrors into the platform's row.
     update public.human_agents h set status = $11 where h.id = $2 and h.tenant_id = $1`,
    [
      tenantId,
      agentId,
      from,
      events.map((e) => e.to),
      events.map((e) => e.chosen),
      events.map((e) => e.mechanism),
      events.map((e) => e.reasonId ?? null),
      events.map((e) => e.actor?.id ?? null),
      events.map((e) => e.actor?.name ?? null),
      events.map((e) => e.agoS),
      last.to,
      last.chosen,
      last.mechanism,
      last.agoS,
    ],
  );
}
