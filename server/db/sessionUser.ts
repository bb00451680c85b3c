// presence.session_user: who holds a sign-in session (and presence.start_session, which returns the same row).
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
  auth_session_id: string;
  user_id: string;
  email: string;
  name: string;
  role: SessionUser['role'];
  tenant_id: string;
  tenant_name: string;
  agent_id: string | null;
  agent_status: string | null;
  agent_chosen_status: string | null;
  heartbeat_interval_s: number;
  offline_after_s: number;
  away_after_s: number;
  expires_in_s: number;
}

export function toSessionUser(r: Row): SessionUser {
  return {
    authSessionId: r.auth_session_id,
    userId: r.user_id,
    email: r.email,
    name: r.name,
    role: r.role,
    tenantId: r.tenant_id,
    tenantName: r.tenant_name,
    agentId: r.agent_id,
    agentStatus: r.agent_status,
    agentChosenStatus: r.agent_chosen_status,
    heartbeatIntervalS: r.heartbeat_interval_s,
    offlineAfterS: r.offline_after_s,
    awayAfterS: r.away_after_s,
    expiresInS: r.expires_in_s,
  };
}

export async function sessionUser(db: pg.Pool, tokenHash: Buffer): Promise<SessionUser | null> {
  const { rows } = await db.query<Row>('select * from presence.session_user($1::bytea)', [tokenHash]);
  return rows[0] ? toSessionUser(rows[0]) : null;
}
