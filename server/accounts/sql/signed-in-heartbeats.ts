// presence_accounts.heartbeats: the standalone server's beats in one call each batch. The sign-in behind each cookie
// is verified there (as session_users does it) and the valid ones beat through presence.heartbeats.
import type { Activity, AgentStatus } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';
import type { BeatOutcome } from '../../presence/identity.ts';

export interface SignedInBeat {
  /** The SHA-256 of the request's sign-in cookie. */
  tokenHash: Buffer;
  /** The tab's id (the wire's sessionId); null for the sign-in's unnamed tab. */
  tabId: string | null;
  activity: Activity;
}

interface Row {
  outcome: 'beat' | 'not_agent' | 'unauthenticated';
  status: AgentStatus | null;
  last_seen: Date | null;
  heartbeat_interval_s: number | null;
}

/** One outcome per beat, in order. */
export async function signedInHeartbeats(db: Database, beats: SignedInBeat[]): Promise<BeatOutcome[]> {
  const { rows } = await db.query<Row>(
    'select outcome, status, last_seen, heartbeat_interval_s from presence_accounts.heartbeats($1, $2, $3)',
    [beats.map((b) => b.tokenHash), beats.map((b) => b.tabId), beats.map((b) => b.activity)],
    'presence-accounts-heartbeats',
  );
  return rows.map((r): BeatOutcome =>
    r.outcome === 'beat'
      ? {
          outcome: 'beat',
          result: { status: r.status!, lastSeen: r.last_seen!, heartbeatIntervalS: r.heartbeat_interval_s! },
        }
      : { outcome: r.outcome },
  );
}
