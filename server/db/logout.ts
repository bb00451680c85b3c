// presence.logout: revoke the sign-in session and end the presence sessions (tabs) it started.
import type pg from 'pg';

export async function logout(db: pg.Pool, tokenHash: Buffer, sessionId: string | null): Promise<boolean> {
  const { rows } = await db.query<{ ended: boolean }>('select presence.logout($1::bytea, $2::text) as ended', [
    tokenHash,
    sessionId,
  ]);
  return rows[0]!.ended;
}
