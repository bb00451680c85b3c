// presence_accounts.session_users: who holds each sign-in (by SHA-256 of the cookie token), for many requests in
// one call.
import type { Database } from '../../database/handle.ts';
import type { Role } from '../../http/contract.ts';

export interface SignedInUser {
  /** The sign-in's id (presence_accounts.auth_sessions.id), which its tabs beat under. */
  signInId: string;
  userId: string;
  email: string;
  name: string;
  role: Role;
  tenantId: string;
  tenantName: string;
  agentId: string | null;
  agentStatus: string | null;
  agentChosenStatus: string | null;
  heartbeatIntervalS: number;
  offlineAfterS: number;
  awayAfterS: number;
  /** The tenant's time zone (IANA name). */
  timeZone: string;
  /** Seconds until the sign-in expires, by the database clock. */
  expiresInS: number;
}

interface Row {
  ord: number;
  auth_session_id: string;
  user_id: string;
  email: string;
  name: string;
  role: Role;
  tenant_id: string | number;
  tenant_name: string;
  agent_id: string | number | null;
  agent_status: string | null;
  agent_chosen_status: string | null;
  heartbeat_interval_s: number;
  offline_after_s: number;
  away_after_s: number;
  expires_in_s: number;
  time_zone: string;
}

/** One answer per token hash, in order: the user, or null for an unknown, expired or revoked sign-in. */
export async function signedInUsers(db: Database, tokenHashes: Buffer[]): Promise<Array<SignedInUser | null>> {
  const { rows } = await db.query<Row>('select * from presence_accounts.session_users($1)', [tokenHashes], 'presence-session-users');
  const users: Array<SignedInUser | null> = tokenHashes.map(() => null);
  for (const r of rows) {
    users[r.ord - 1] = {
      signInId: r.auth_session_id,
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
      timeZone: r.time_zone,
      expiresInS: r.expires_in_s,
    };
  }
  return users;
}
