// presence.end_session: one browser tab said goodbye (sendBeacon on pagehide). The SQL function keeps its name.
import type { Database } from '../../database/handle.ts';

export async function endTab(db: Database, tenantId: string, agentId: string, tabId: string): Promise<void> {
  await db.query(`select presence.end_session($1, $2, $3, 'left')`, [tenantId, agentId, tabId]);
}
