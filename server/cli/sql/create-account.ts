// presence_accounts.create_account: a user who signs in to the standalone server, and its agent unless a supervisor.
import type { Queryable } from '../../../db/sql/client.ts';

export interface NewAccount {
  tenant: string;
  email: string;
  name: string;
  role: string;
  password: string;
  maxChats: number;
}

/** The new user's id, and its agent's (null for a supervisor). */
export async function createAccount(db: Queryable, a: NewAccount): Promise<{ userId: string; agentId: string | null }> {
  const { rows } = await db.query<{ user_id: string; agent_id: string | null }>(
    'select user_id, agent_id::text from presence_accounts.create_account($1, $2, $3, $4, $5, $6)',
    [a.tenant, a.email, a.name, a.role, a.password, a.maxChats],
  );
  return { userId: rows[0]!.user_id, agentId: rows[0]!.agent_id };
}
