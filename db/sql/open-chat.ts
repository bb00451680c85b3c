// presence.open_chat: a new chat waiting in the tenant's queue.
import type { Database } from '../../server/database/handle.ts';

export async function openChat(db: Database, tenantId: string): Promise<void> {
  await db.query('select presence.open_chat($1)', [tenantId]);
}
