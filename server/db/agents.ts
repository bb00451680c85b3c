// The agents of one tenant, from the presence.agent_presence view (status derived at read time).
import type pg from 'pg';

export interface Agent {
  id: string;
  name: string;
  email: string;
  status: string;
  chosenStatus: string;
  lastSeen: string | null;
  secondsSinceSeen: number | null;
  activeChats: number;
  maxChats: number;
}

/** A row of presence.agent_presence as pg returns it. */
export interface AgentPresenceRow {
  tenant_id: string;
  agent_id: string;
  name: string;
  email: string;
  status: string;
  chosen_status: string;
  last_seen: Date | null;
  seconds_since_seen: number | null;
  active_chats: number;
  max_chats: number;
}

export async function agentsOfTenant(db: pg.Pool, tenantId: string): Promise<Agent[]> {
  const { rows } = await db.query<Omit<AgentPresenceRow, 'tenant_id'>>(
    `select agent_id, name, email, status, chosen_status, last_seen, seconds_since_seen, active_chats, max_chats
       from presence.agent_presence
      where tenant_id = $1::uuid
      order by name, email`,
    [tenantId],
  );
  return rows.map(toAgent);
}

/** The API's shape of a presence.agent_presence row. */
export function toAgent(r: Omit<AgentPresenceRow, 'tenant_id'>): Agent {
  return {
    id: r.agent_id,
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
