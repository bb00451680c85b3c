// presence_accounts.logout: revoke the sign-in; presence.end_sign_in ends its tabs and its live streams.
import type { Database } from '../../database/handle.ts';

export async function logout(db: Database, tokenHash: Buffer): Promise<boolean> {
  const { rows } = await db.query<{ ended: boolean }>('select presence_accounts.logout($1) as ended', [tokenHash]);
  return rows[0]!.ended;
}
