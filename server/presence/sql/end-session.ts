// presence.end_session: one browser tab said goodbye (sendBeacon on pagehide).
import type { PresenceDb } from '../database.ts';

export async function endSession(db: PresenceDb, tenantId: string, agentId: string, sessionId: string): Promise<void> {
  await db.query(`select presence.end_session($1, $2, $3, 'left')`, [tenantId, agentId, sessionId]);
}
