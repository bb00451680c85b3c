// presence_accounts.sign_in: the password is verified in SQL, the sign-in limits are counted there, and a sign-in
// is stored only for the right password. An account hashed by an earlier version (argon2id) answers `legacy` with
// its argon2 parameters: the server computes the digest of the password under them and calls again, once.
import argon2 from 'argon2';
import type { Database } from '../../database/handle.ts';

export type SignInOutcome = { outcome: 'ok' } | { outcome: 'invalid' } | { outcome: 'rate_limited'; retryAfterS: number };

interface Row {
  outcome: 'ok' | 'invalid' | 'rate_limited' | 'legacy';
  retry_after_s: number | null;
  legacy_params: string | null;
}

export async function signIn(
  db: Database,
  attempt: { email: string; password: string; address: string; tokenHash: Buffer; ttlS: number },
): Promise<SignInOutcome> {
  const call = async (legacyDigest: string | null) =>
    (
      await db.query<Row>('select * from presence_accounts.sign_in($1, $2, $3, $4, $5, $6)', [
        attempt.email,
        attempt.password,
        attempt.address,
        attempt.tokenHash,
        attempt.ttlS,
        legacyDigest,
      ])
    ).rows[0]!;
  let row = await call(null);
  if (row.outcome === 'legacy') row = await call(await argon2Digest(attempt.password, row.legacy_params!));
  if (row.outcome === 'rate_limited') return { outcome: 'rate_limited', retryAfterS: row.retry_after_s ?? 60 };
  if (row.outcome === 'ok') return { outcome: 'ok' };
  return { outcome: 'invalid' };
}

/** The argon2 digest of a password under stored parameters ($argon2id$v=19$m=…,t=…,p=…$salt), in PHC base64. */
export async function argon2Digest(password: string, params: string): Promise<string> {
  const [, , version, costs, salt] = params.split('$');
  const cost = Object.fromEntries(costs!.split(',').map((kv) => kv.split('=') as [string, string]));
  const raw = await argon2.hash(password, {
    type: argon2.argon2id,
    version: Number(version!.slice(2)),
    memoryCost: Number(cost.m),
    timeCost: Number(cost.t),
    parallelism: Number(cost.p),
    salt: Buffer.from(salt!, 'base64'),
    raw: true,
  });
  return raw.toString('base64').replace(/=+$/, '');
}
