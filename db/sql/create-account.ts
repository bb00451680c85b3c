// presence_accounts.create_account: a user who signs in with a password, and for an agent role its agent.
import type { Database } from '../../server/database/handle.ts';
import type { Role } from '../../server/http/contract.ts';

export interface NewAccount {
  tenantId: string;
  email: string;
  name: string;
  role: Role;
  password: string;
  maxChats: number;
}

/** The user's id, and its agent's (null for a supervisor). */
export async function createAccount(db: Database, a: NewAccount): Promise<{ userId: string; agentId: string | null }> {
  const { rows } = await db.query<{ user_id: string; agent_id: string | null }>(
    'select user_id, agent_id::text from presence_accounts.create_account($1, $2, $3, $4, $5, $6)',
    [a.tenantId, a.email, a.name, a.role, a.password, a.maxChats],
  );
  return { userId: rows[0]!.user_id, agentId: rows[0]!.agent_id };
}
