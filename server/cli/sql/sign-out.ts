// `sign-out`: a standalone-server user by e-mail (any case), and presence_accounts.revoke_sessions for it.
import type { Database } from '../../database/handle.ts';

export async function userIdWithEmail(db: Database, email: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>('select u.id from presence_accounts.users u where lower(u.email) = lower($1)', [
    email,
  ]);
  return rows[0]?.id ?? null;
}

/** Revokes every live sign-in of the user; returns how many. */
export async function revokeSignIns(db: Database, userId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('select presence_accounts.revoke_sessions($1) as n', [userId]);
  return rows[0]!.n;
}
