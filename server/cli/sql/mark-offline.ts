// `mark-offline`: the agents with an e-mail (any case, in one tenant or all), and presence.mark_offline for one.
import type { Database } from '../../database/handle.ts';

export interface AgentByEmail {
  id: string;
  tenant_id: string;
  status: string;
}

export async function agentsWithEmail(db: Database, email: string, tenant: string | null): Promise<AgentByEmail[]> {
  const { rows } = await db.query<AgentByEmail>(
    `select id::text, tenant_id::text, status::text from public.human_agents
      where lower(email) = lower($1) and ($2::text is null or tenant_id::text = $2::text)`,
    [email, tenant],
  );
  return rows;
}

/** Ends the agent's tabs and records it offline now, reason admin. */
export async function markOffline(db: Database, tenantId: string, agentId: string): Promise<void> {
  await db.query('select presence.mark_offline($1, $2)', [tenantId, agentId]);
}
