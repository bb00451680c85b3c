// presence.heartbeats: the beats of many tabs in one call (see Batcher). Every tab beats here, whoever signed it in.
import type { Activity, AgentStatus } from '../../http/contract.ts';
import type { Database } from '../../database/handle.ts';

export interface Beat {
  tenantId: string;
  agentId: string;
  /** The tab's id (the wire's sessionId). */
  tabId: string;
  activity: Activity;
  signIn: string | null;
}

export interface BeatResult {
  status: AgentStatus;
  lastSeen: Date;
  heartbeatIntervalS: number;
}

export async function heartbeats(db: Database, beats: Beat[]): Promise<BeatResult[]> {
  const { rows } = await db.query<{ status: AgentStatus; last_seen: Date; heartbeat_interval_s: number }>(
    'select status, last_seen, heartbeat_interval_s from presence.heartbeats($1, $2, $3, $4, $5)',
    [
      beats.map((b) => b.tenantId),
      beats.map((b) => b.agentId),
      beats.map((b) => b.tabId),
      beats.map((b) => b.activity),
      beats.map((b) => b.signIn),
    ],
    'presence-heartbeats',
  );
  return rows.map((r) => ({ status: r.status, lastSeen: r.last_seen, heartbeatIntervalS: r.heartbeat_interval_s }));
}
