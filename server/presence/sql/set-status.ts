// presence.set_status: the agent's own choice; returns the effective status.
import type { AgentStatus } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

export async function setStatus(db: Database, tenantId: string, agentId: string, status: AgentStatus): Promise<AgentStatus> {
  const { rows } = await db.query<{ status: AgentStatus }>('select presence.set_status($1, $2, $3) as status', [
    tenantId,
    agentId,
    status,
  ]);
  return rows[0]!.status;
}
