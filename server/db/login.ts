// Sign-in: presence.login_candidate (the hash to verify) and presence.start_session (after argon2 said yes).
import type pg from 'pg';
import { toSessionUser, type SessionUser } from './sessionUser.ts';

export async function loginCandidate(
  db: pg.Pool,
  email: string,
): Promise<{ userId: string; passwordHash: string } | null> {
  const { rows } = await db.query<{ user_id: string; password_hash: string }>(
    'select * from presence.login_candidate($1::text)',
    [email],
  );
  return rows[0] ? { userId: rows[0].user_id, passwordHash: rows[0].password_hash } : null;
}

export async function startSession(
  db: pg.Pool,
  userId: string,
  tokenHash: Buffer,
  ttlS: number,
): Promise<SessionUser | null> {
  const { rows } = await db.query('select * from presence.start_session($1::uuid, $2::bytea, $3::integer)', [
    userId,
    tokenHash,
    ttlS,
  ]);
  return rows[0] ? toSessionUser(rows[0]) : null;
}
