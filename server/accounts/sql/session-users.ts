// presence_accounts.session_users: who holds each sign-in session (by SHA-256 of the cookie token), for many
// requests in one call.
import type pg from 'pg';

export interface SessionUser {
  authSessionId: string;
  userId: string;
  email: string;
  name: string;
  role: 'support_staff' | 'client_admin' | 'supervisor';
  tenantId: string;
  tenantName: string;
  agentId: string | null;
  agentStatus: string | null;
  agentChosenStatus: string | null;
  heartbeatIntervalS: number;
  offlineAfterS: number;
  awayAfterS: number;
  /** Seconds until the sign-in session expires, by the database clock. */
  expiresInS: number;
}

interface Row {
  ord: number;
  auth_session_id: string;
  user_id: string;
  email: string;
  name: string;
  role: SessionUser['role'];
  tenant_id: string | number;
  tenant_name: string;
  agent_id: string | number | null;
  agent_status: string | null;
  agent_chosen_status: string | null;
  heartbeat_interval_s: number;
  offline_after_s: number;
  away_after_s: number;
  expires_in_s: number;
}

/** One answer per token hash, in order: the user, or null for an unknown, expired or revoked session. */
export async function sessionUsers(db: pg.Pool, tokenHashes: Buffer[]): Promise<Array<SessionUser | null>> {
  const { rows } = await db.query<Row>({
    name: 'presence-session-users',
    text: 'select * from presence_accounts.session_users($1)',
    values: [tokenHashes],
  });
  const users: Array<SessionUser | null> = tokenHashes.map(() => null);
  for (const r of rows) {
    users[r.ord - 1] = {
      authSessionId: r.auth_session_id,
      userId: r.user_id,
      email: r.email,
      name: r.name,
      role: r.role,
      tenantId: String(r.tenant_id),
      tenantName: r.tenant_name,
      agentId: r.agent_id === null ? null : String(r.agent_id),
      agentStatus: r.agent_status,
      agentChosenStatus: r.agent_chosen_status,
      heartbeatIntervalS: r.heartbeat_interval_s,
      offlineAfterS: r.offline_after_s,
      awayAfterS: r.away_after_s,
      expiresInS: r.expires_in_s,
    };
  }
  return users;
}
