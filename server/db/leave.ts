// presence.leave_for_session: one browser tab said goodbye (sendBeacon on pagehide).
import type pg from 'pg';

export async function leave(db: pg.Pool, tokenHash: Buffer, sessionId: string): Promise<void> {
  await db.query('select presence.leave_for_session($1::bytea, $2::text)', [tokenHash, sessionId]);
}
