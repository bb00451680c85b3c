// The agents of one tenant, from the presence.agent_presence view (status derived at read time), with the tenant's
// heartbeat interval (how often a stream's snapshot is worth refreshing).
import type { Agent, AgentStatus } from '../../http/contract.ts';
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
}

export async function agentsOfTenant(
  db: Database,
  tenantId: string,
): Promise<{ agents: Agent[]; heartbeatIntervalS: number | null }> {
  const { rows } = await db.query<Partial<AgentPresenceRow> & { heartbeat_interval_s: number }>(
    `select s.heartbeat_interval_s, p.agent_id, p.name, p.email, p.status, p.chosen_status, p.last_seen,
            p.seconds_since_seen, p.active_chats, p.max_chats
       from presence.settings s
       left join presence.agent_presence p on p.tenant_id = s.tenant_id
      where s.tenant_id = $1
      order by p.name, p.email, p.agent_id`,
    [tenantId],
  );
  return {
    agents: rows.filter((r) => r.agent_id !== null && r.agent_id !== undefined).map((r) => toAgent(r as AgentPresenceRow)),
    heartbeatIntervalS: rows[0]?.heartbeat_interval_s ?? null,
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
  };
}
