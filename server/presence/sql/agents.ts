// The agents of one tenant, from the presence.agent_presence view (status derived at read time), with what a live
// stream needs to follow them without reading them again: the database's now() of the read and the tenant's next
// liveness deadline (when one of its live agents reads offline unless it beats again, or its chosen status ends).
import type { Agent, AgentStatus, Mechanism } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

/** A row of presence.agent_presence as pg returns it (ids of integer types come as numbers). */
export interface AgentPresenceRow {
  tenant_id: string | number;
  agent_id: string | number;
  name: string;
  email: string;
  status: AgentStatus;
  chosen_status: AgentStatus;
  last_seen: Date | null;
  seconds_since_seen: number | null;
  active_chats: number;
  max_chats: number;
  reason_id: string | null;
  reason_label: string | null;
  mechanism: Mechanism | null;
  since: Date | null;
  until: Date | null;
  set_by_id: string | null;
  set_by_name: string | null;
}

/** The columns of presence.agent_presence that make an Agent. */
const AGENT_COLUMNS = `p.agent_id, p.name, p.email, p.status, p.chosen_status, p.last_seen, p.seconds_since_seen, p.active_chats,
       p.max_chats, p.reason_id, p.reason_label, p.mechanism, p.since, p.until, p.set_by_id, p.set_by_name`;

export interface TenantAgents {
  agents: Agent[];
  /** The database's now() when the agents were read; null for an unknown tenant. */
  checkedAt: Date | null;
  /** The same to the microsecond (ISO 8601, UTC): the `after` of the tenant's first presence.timeouts_due. */
  after: string | null;
  /** The earliest offline_at among the agents reading live, by the database clock; null when none is. */
  nextCheckAt: Date | null;
  /** The tenant's offline_after_s: an agent that comes online at t reads offline at t + this unless it beats. */
  offlineAfterS: number | null;
}

export async function agentsOfTenant(db: Database, tenantId: string): Promise<TenantAgents> {
  const { rows } = await db.query<
    Partial<AgentPresenceRow> & { checked_at: Date; after: string; next_check_at: Date | null; offline_after_s: number }
  >(
    `select now() as checked_at, to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as after,
            s.offline_after_s,
            -- the next moment a live agent reads otherwise: offline unless it beats, or its chosen status ends
            least(min(p.offline_at) filter (where p.status <> 'offline') over (),
                  min(p.until) filter (where p.status <> 'offline') over ()) as next_check_at,
            ${AGENT_COLUMNS}
       from presence.settings s
       left join presence.agent_presence p on p.tenant_id = s.tenant_id
      where s.tenant_id = $1
      order by p.name, p.email, p.agent_id`,
    [tenantId],
  );
  const first = rows[0];
  return {
    agents: rows.filter((r) => r.agent_id !== null && r.agent_id !== undefined).map((r) => toAgent(r as AgentPresenceRow)),
    checkedAt: first?.checked_at ?? null,
    after: first?.after ?? null,
    nextCheckAt: first?.next_check_at ?? null,
    offlineAfterS: first?.offline_after_s ?? null,
  };
}

/** The API's shape of a presence.agent_presence row. */
export function toAgent(r: Omit<AgentPresenceRow, 'tenant_id'>): Agent {
  return {
    id: String(r.agent_id),
    name: r.name,
    email: r.email,
    status: r.status,
    chosenStatus: r.chosen_status,
    lastSeen: r.last_seen?.toISOString() ?? null,
    secondsSinceSeen: r.seconds_since_seen,
    activeChats: r.active_chats,
    maxChats: r.max_chats,
    reason: r.reason_id === null ? null : { id: r.reason_id, label: r.reason_label ?? '' },
    mechanism: r.mechanism,
    since: r.since?.toISOString() ?? null,
    until: r.until?.toISOString() ?? null,
    setBy: r.set_by_id === null ? null : { id: r.set_by_id, name: r.set_by_name },
  };
}

/** One agent of a tenant as GET agents shows it, or null when the tenant has no such agent. */
export async function agentOfTenant(db: Database, tenantId: string, agentId: string): Promise<Agent | null> {
  const { rows } = await db.query<AgentPresenceRow>(
    `select ${AGENT_COLUMNS}
       from presence.agent_presence p
      where p.tenant_id = $1 and p.agent_id = $2`,
    [tenantId, agentId],
  );
  return rows[0] ? toAgent(rows[0]) : null;
}
