// presence.set_status (the agent's own choice, mechanism manual) and presence.set_agent_status (a manager's,
// mechanism supervisor): a status with an optional tenant reason and end, and who chose it; returns the effective
// status.
import type { Actor, AgentStatus } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

export interface StatusChoice {
  status: AgentStatus;
  /** A tenant reason's id, of that status. */
  reason: string | null;
  /** ISO time; null: the reason's default duration, if any. */
  until: string | null;
  actor: Actor | null;
}

export async function setStatus(
  db: Database,
  tenantId: string,
  agentId: string,
  choice: StatusChoice,
  by: 'agent' | 'manager' = 'agent',
): Promise<AgentStatus> {
  const fn = by === 'agent' ? 'presence.set_status' : 'presence.set_agent_status';
  const { rows } = await db.query<{ status: AgentStatus }>(`select ${fn}($1, $2, $3, $4::uuid, $5::timestamptz, $6, $7) as status`, [
    tenantId,
    agentId,
    choice.status,
    choice.reason,
    choice.until,
    choice.actor?.id ?? null,
    choice.actor?.name ?? null,
  ]);
  return rows[0]!.status;
}
