// presence_accounts.lift_sign_in_lock (owner only): forgets failed sign-ins by e-mail as typed, by address, or both.
import type { Database } from '../../database/handle.ts';

/** Returns how many failed sign-ins it forgot. */
export async function liftSignInLock(db: Database, email: string | null, address: string | null): Promise<number> {
  const { rows } = await db.query<{ cleared: number }>('select presence_accounts.lift_sign_in_lock($1, $2) as cleared', [
    email,
    address,
  ]);
  return rows[0]!.cleared;
}
