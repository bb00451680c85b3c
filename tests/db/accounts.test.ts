// presence_accounts: the standalone server's own accounts and sign-in. The password is verified in SQL, the
// sign-in limits are counted in SQL, and a session's lifetime is capped there. Every test signs in from client
// addresses of its own, so the limits of one test never reach another (the policy is the default one; the global
// setup lowers only the bcrypt cost).
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import argon2 from 'argon2';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { agentRow, beat, createTenant, eventsOf, scratchDatabase, testPool } from '../helpers/db.ts';
import { argon2Digest } from '../../server/accounts/sql/sign-in.ts';

const db = testPool();
afterAll(() => db.end());

const PASSWORD = 'correct horse battery';

/** main when the landed migrations were last as they landed (as tests/db/landed-rework.test.ts). */
const LANDED_COMMIT = '99aa527ef203b92c19acb293fbc485f9f8a57639';

async function landedMigrations(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-landed-'));
  const git = (...args: string[]) => promisify(execFile)('git', args, { cwd: projectRoot, maxBuffer: 16 << 20 });
  const { stdout } = await git('ls-tree', '--name-only', LANDED_COMMIT, 'db/migrations/');
  for (const file of stdout.split('\n').filter((f) => f.endsWith('.sql'))) {
    writeFileSync(join(dir, file.split('/').at(-1)!), (await git('show', `${LANDED_COMMIT}:${file}`)).stdout);
  }
  return dir;
}

function address(): string {
  return `test-${randomUUID()}`;
}

function tokenHash(): Buffer {
  return createHash('sha256').update(randomBytes(32)).digest();
}

async function createAccount(
  tenant: string,
  { role = 'support_staff', password = PASSWORD }: { role?: string; password?: string } = {},
): Promise<{ email: string; userId: string; agentId: string | null }> {
  const email = `user-${randomUUID()}@example.com`;
  const { rows } = await db.query('select * from presence_accounts.create_account($1, $2, $3, $4, $5)', [
    tenant,
    email,
    'Test User',
    role,
    password,
  ]);
  return { email, userId: rows[0].user_id, agentId: rows[0].agent_id };
}

interface SignIn {
  outcome: string;
  retry_after_s: number | null;
  legacy_params: string | null;
}

async function signIn(
  email: string,
  password: string,
  from: string,
  {
    token = tokenHash(),
    ttlS = 3600,
    legacyDigest = null,
    through = db,
  }: { token?: Buffer; ttlS?: number; legacyDigest?: string | null; through?: pg.Pool } = {},
): Promise<SignIn> {
  const { rows } = await through.query<SignIn>('select * from presence_accounts.sign_in($1, $2, $3, $4, $5, $6)', [
    email,
    password,
    from,
    token,
    ttlS,
    legacyDigest,
  ]);
  return rows[0]!;
}

async function failuresOf(email: string): Promise<Array<{ address: string; failures: number }>> {
  const { rows } = await db.query(
    'select address, failures from presence_accounts.sign_in_failures where account = lower($1) order by address',
    [email],
  );
  return rows;
}

function tally(results: SignIn[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return counts;
}

/** How many passwords sign_in verified (bcrypt runs) for an address or an account (the e-mail lower-cased). */
async function verificationsOf(kind: 'address' | 'account', key: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select verifications as n from presence_accounts.sign_in_verifications where kind = $1 and key = $2',
    [kind, key],
  );
  return rows[0]?.n ?? 0;
}

describe('presence_accounts.create_account', () => {
  it('hashes the password with bcrypt in SQL and makes an agent for an agent role, none for a supervisor', async () => {
    // Setup
    const tenant = await createTenant(db);

    // Action
    const agent = await createAccount(tenant);
    const supervisor = await createAccount(tenant, { role: 'supervisor' });

    // Assertions
    const { rows } = await db.query(
      `select u.password_hash ~ '^\\$2[abxy]\\$\\d\\d\\$' as bcrypt, u.password_hash like '%' || $2 || '%' as clear,
              a.id as agent_id
         from presence_accounts.users u left join human_agents a on a.id = u.agent_id where u.id = $1`,
      [agent.userId, PASSWORD],
    );
    expect(rows[0]).toEqual({ bcrypt: true, clear: false, agent_id: agent.agentId });
    expect(agent.agentId).toEqual(expect.any(String));
    expect(supervisor.agentId).toBeNull();
  });

  it('refuses a password under 8 characters with PRUSR and takes one of 8', async () => {
    // Setup
    const tenant = await createTenant(db);

    // Action / Assertions
    await expect(createAccount(tenant, { password: 'seven77' })).rejects.toMatchObject({
      code: 'PRUSR',
      message: 'a password must have between 8 and 1024 characters, got 7',
    });
    const account = await createAccount(tenant, { password: 'eight888' });
    expect((await signIn(account.email, 'eight888', address())).outcome).toBe('ok');
  });
});

describe('presence_accounts.sign_in', () => {
  it('the right password signs in and stores a session under the token hash; session_users knows it', async () => {
    // Setup
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const token = tokenHash();

    // Action
    const result = await signIn(account.email.toUpperCase(), PASSWORD, address(), { token, ttlS: 600 });

    // Assertions
    expect(result).toEqual({ outcome: 'ok', retry_after_s: null, legacy_params: null });
    const { rows } = await db.query('select * from presence_accounts.session_users($1)', [[tokenHash(), token]]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      ord: 2,
      user_id: account.userId,
      email: account.email,
      role: 'support_staff',
      tenant_id: tenant,
      agent_id: account.agentId,
      agent_status: 'offline',
      heartbeat_interval_s: 30,
    });
    expect(rows[0].expires_in_s).toBeGreaterThan(595);
    expect(rows[0].expires_in_s).toBeLessThanOrEqual(600);
  });

  it('a wrong password or an unknown e-mail is invalid, stores no session and counts a failure', async () => {
    // Setup
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const unknown = `nobody-${randomUUID()}@example.com`;
    const from = address();

    // Action
    const wrong = await signIn(account.email, 'not the password', from);
    const nobody = await signIn(unknown, PASSWORD, from);

    // Assertions
    expect([wrong.outcome, nobody.outcome]).toEqual(['invalid', 'invalid']);
    expect(await failuresOf(account.email)).toEqual([{ address: from, failures: 1 }]);
    expect(await failuresOf(unknown)).toEqual([{ address: from, failures: 1 }]);
    const { rows } = await db.query('select count(*)::int as n from presence_accounts.auth_sessions where user_id = $1', [
      account.userId,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('10 failures of an account from one address refuse even the right password from that address, not from another', async () => {
    // Setup
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const [attacker, colleague] = [address(), address()];
    for (let i = 0; i < 10; i++) expect((await signIn(account.email, `wrong ${i}`, attacker)).outcome).toBe('invalid');

    // Action
    const fromAttacker = await signIn(account.email, PASSWORD, attacker);
    const fromColleague = await signIn(account.email, PASSWORD, colleague);

    // Assertions
    expect(fromAttacker.outcome).toBe('rate_limited');
    expect(fromAttacker.retry_after_s).toBeGreaterThan(890);
    expect(fromAttacker.retry_after_s).toBeLessThanOrEqual(900);
    expect(fromColleague.outcome).toBe('ok');
  });

  it('20 failures of an account refuse the addresses that failed for it, and not an address that did not', async () => {
    // Setup: 5 addresses with 4 failures each (each under the per-address-and-account limit of 10).
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const guessers = Array.from({ length: 5 }, address);
    for (const from of guessers) {
      for (let i = 0; i < 4; i++) expect((await signIn(account.email, `wrong ${i}`, from)).outcome).toBe('invalid');
    }

    // Action
    const fromGuesser = await signIn(account.email, PASSWORD, guessers[0]!);
    const fromOwner = await signIn(account.email, PASSWORD, address());

    // Assertions
    expect(fromGuesser.outcome).toBe('rate_limited');
    expect(fromOwner.outcome).toBe('ok');
  });

  it('100 failures from one address refuse it for every account; another address signs in', async () => {
    // Setup: 100 failures for 20 e-mails (5 each, under every per-account limit) from one address.
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const source = address();
    for (let i = 0; i < 100; i++) {
      expect((await signIn(`guess-${i % 20}-${source}@example.com`, 'wrong', source)).outcome).toBe('invalid');
    }

    // Action
    const fromSource = await signIn(account.email, PASSWORD, source);
    const fromElsewhere = await signIn(account.email, PASSWORD, address());

    // Assertions
    expect(fromSource.outcome).toBe('rate_limited');
    expect(fromElsewhere.outcome).toBe('ok');
  });

  it('60 parallel wrong passwords for one account from one address verify 10 and refuse 50; the right one is refused after', async () => {
    // Setup: as many connections as the database lets a test take, so the attempts really overlap.
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const from = address();
    const parallel = testPool(30);

    // Action
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) => signIn(account.email, `wrong ${i}`, from, { through: parallel })),
    ).finally(() => parallel.end());
    const right = await signIn(account.email, PASSWORD, from);

    // Assertions: every invalid answer ran bcrypt; sign_in_verifications counts the runs.
    expect(tally(outcomes)).toEqual({ invalid: 10, rate_limited: 50 });
    expect(await verificationsOf('account', account.email.toLowerCase())).toBe(10);
    expect(await failuresOf(account.email)).toEqual([{ address: from, failures: 10 }]);
    expect(right.outcome).toBe('rate_limited');
  });

  it('150 parallel wrong passwords over 50 accounts from one address verify 100; the right one is refused after', async () => {
    // Setup: 3 attempts per account, under every per-account limit, so only the per-address limit (100) applies.
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const from = address();
    const parallel = testPool(30);

    // Action
    const outcomes = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        signIn(`guess-${i % 50}-${from}@example.com`, 'wrong', from, { through: parallel }),
      ),
    ).finally(() => parallel.end());
    const right = await signIn(account.email, PASSWORD, from);

    // Assertions
    expect(tally(outcomes)).toEqual({ invalid: 100, rate_limited: 50 });
    expect(await verificationsOf('address', from)).toBe(100);
    expect(right.outcome).toBe('rate_limited');
  });

  it('successful sign-ins never count: an office behind one address signs in again and again', async () => {
    // Setup
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const office = address();
    for (let i = 0; i < 9; i++) await signIn(account.email, 'wrong', office);

    // Action: a success clears the failures of that account from that address; many more successes follow.
    const outcomes = [];
    for (let i = 0; i < 12; i++) outcomes.push((await signIn(account.email, PASSWORD, office)).outcome);
    const afterAnotherFailure = await signIn(account.email, 'wrong', office);
    const stillOk = await signIn(account.email, PASSWORD, office);

    // Assertions
    expect(outcomes).toEqual(Array(12).fill('ok'));
    expect(afterAnotherFailure.outcome).toBe('invalid');
    expect(stillOk.outcome).toBe('ok');
    expect(await failuresOf(account.email)).toEqual([]);
  });

  it('refuses a session lifetime above max_session_ttl_s (or under a minute) with PRUSR', async () => {
    // Setup
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const { rows } = await db.query<{ max: number }>('select max_session_ttl_s as max from presence_accounts.sign_in_policy');
    const max = rows[0]!.max;

    // Action / Assertions
    await expect(signIn(account.email, PASSWORD, address(), { ttlS: max + 1 })).rejects.toMatchObject({
      code: 'PRUSR',
      message: `session lifetime must be between 60 and ${max} seconds, got ${max + 1}`,
    });
    await expect(signIn(account.email, PASSWORD, address(), { ttlS: 2147483647 })).rejects.toMatchObject({ code: 'PRUSR' });
    await expect(signIn(account.email, PASSWORD, address(), { ttlS: 59 })).rejects.toMatchObject({ code: 'PRUSR' });
    expect((await signIn(account.email, PASSWORD, address(), { ttlS: max })).outcome).toBe('ok');
  });

  it('an account hashed with argon2id answers legacy, signs in with the digest, and is upgraded to bcrypt', async () => {
    // Setup: a database made with the landed migrations and a user created as the landed server created users (an
    // argon2id hash from the npm package argon2), then migrated to today, which wraps the hash (migration 0220).
    const scratch = await scratchDatabase('legacy');
    const dir = await landedMigrations();
    const client = new pg.Client({ connectionString: scratch.url });
    try {
      await migrate(scratch.url, { dir });
      await client.connect();
      const email = `legacy-${randomUUID()}@example.com`;
      const argon2Hash = await argon2.hash(PASSWORD, { type: argon2.argon2id });
      await client.query(
        `select presence.create_account(presence.create_tenant('Landed'), $1, 'Legacy User', 'support_staff', $2)`,
        [email, argon2Hash],
      );
      await migrate(scratch.url);
      const legacySignIn = async (legacyDigest: string | null) =>
        (
          await client.query<SignIn>('select * from presence_accounts.sign_in($1, $2, $3, $4, $5, $6)', [
            email,
            PASSWORD,
            address(),
            tokenHash(),
            3600,
            legacyDigest,
          ])
        ).rows[0]!;

      // Action: the server's two calls (the second with the digest computed under the parameters it was given).
      const first = await legacySignIn(null);
      const wrongDigest = await legacySignIn('A'.repeat(43));
      const withDigest = await legacySignIn(await argon2Digest(PASSWORD, first.legacy_params!));
      const afterUpgrade = await legacySignIn(null);

      // Assertions
      expect(first).toEqual({ outcome: 'legacy', retry_after_s: null, legacy_params: argon2Hash.split('$').slice(0, 5).join('$') });
      expect(wrongDigest.outcome).toBe('invalid');
      expect(withDigest.outcome).toBe('ok');
      expect(afterUpgrade.outcome).toBe('ok');
      const { rows } = await client.query(
        `select legacy_argon2, password_hash ~ '^\\$2[abxy]\\$\\d\\d\\$' as bcrypt from presence_accounts.users where email = $1`,
        [email],
      );
      expect(rows[0]).toEqual({ legacy_argon2: null, bcrypt: true });
    } finally {
      await client.end();
      await scratch.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('presence_accounts.lift_sign_in_lock', () => {
  it('forgets the failures of an account from every address, returns how many, and the right password signs in again', async () => {
    // Setup: the account locked from two addresses, another account's failures beside it.
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const other = await createAccount(tenant);
    const [first, second] = [address(), address()];
    for (let i = 0; i < 10; i++) await signIn(account.email, 'wrong', first);
    for (let i = 0; i < 3; i++) await signIn(account.email, 'wrong', second);
    await signIn(other.email, 'wrong', first);
    expect((await signIn(account.email, PASSWORD, first)).outcome).toBe('rate_limited');

    // Action
    const { rows } = await db.query('select presence_accounts.lift_sign_in_lock($1) as cleared', [account.email.toUpperCase()]);

    // Assertions
    expect(rows[0].cleared).toBe(13);
    expect(await failuresOf(account.email)).toEqual([]);
    expect(await failuresOf(other.email)).toEqual([{ address: first, failures: 1 }]);
    expect((await signIn(account.email, PASSWORD, first)).outcome).toBe('ok');
  });

  it('with an address, lifts that address only: for one account, or (no e-mail) for every account', async () => {
    // Setup: the account locked from two addresses; a third address locked by 100 failures over 20 e-mails.
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const [office, elsewhere, sprayer] = [address(), address(), address()];
    for (let i = 0; i < 10; i++) await signIn(account.email, 'wrong', office);
    for (let i = 0; i < 10; i++) await signIn(account.email, 'wrong', elsewhere);
    for (let i = 0; i < 100; i++) await signIn(`guess-${i % 20}-${sprayer}@example.com`, 'wrong', sprayer);

    // Action
    const one = await db.query('select presence_accounts.lift_sign_in_lock($1, $2) as cleared', [account.email, office]);
    const all = await db.query('select presence_accounts.lift_sign_in_lock(null, $1) as cleared', [sprayer]);

    // Assertions
    expect([one.rows[0].cleared, all.rows[0].cleared]).toEqual([10, 100]);
    expect((await signIn(account.email, PASSWORD, office)).outcome).toBe('ok');
    expect((await signIn(account.email, PASSWORD, elsewhere)).outcome).toBe('rate_limited');
    expect((await signIn(account.email, PASSWORD, sprayer)).outcome).toBe('ok');
  });

  it('refuses a call naming neither an e-mail nor an address with PRUSR', async () => {
    // Action / Assertions
    await expect(db.query('select presence_accounts.lift_sign_in_lock(null, null)')).rejects.toMatchObject({
      code: 'PRUSR',
      message: 'name an e-mail, a client address or both',
    });
  });
});

describe('presence_accounts.logout and revoke_sessions', () => {
  it('logout revokes the session and ends the tabs it started (reason logout); a second logout answers false', async () => {
    // Setup: the agent beats in a tab under this sign-in (the server names the sign-in by its session id).
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const token = tokenHash();
    await signIn(account.email, PASSWORD, address(), { token });
    const { rows: session } = await db.query('select auth_session_id from presence_accounts.session_users($1)', [[token]]);
    await beat(db, tenant, account.agentId!, 'tab', 'active', session[0].auth_session_id);

    // Action
    const first = await db.query('select presence_accounts.logout($1) as ok', [token]);
    const second = await db.query('select presence_accounts.logout($1) as ok', [token]);

    // Assertions
    expect([first.rows[0].ok, second.rows[0].ok]).toEqual([true, false]);
    expect(await agentRow(db, account.agentId!)).toMatchObject({ status: 'offline', status_reason: 'logout' });
    const { rows } = await db.query('select * from presence_accounts.session_users($1)', [[token]]);
    expect(rows).toEqual([]);
  });

  it('revoke_sessions signs a user out everywhere, ending the tabs of every sign-in', async () => {
    // Setup: two sign-ins (two browsers), a tab in each.
    const tenant = await createTenant(db);
    const account = await createAccount(tenant);
    const tokens = [tokenHash(), tokenHash()];
    for (const token of tokens) {
      await signIn(account.email, PASSWORD, address(), { token });
      const { rows } = await db.query('select auth_session_id from presence_accounts.session_users($1)', [[token]]);
      await beat(db, tenant, account.agentId!, `tab-${rows[0].auth_session_id}`, 'active', rows[0].auth_session_id);
    }

    // Action
    const { rows } = await db.query('select presence_accounts.revoke_sessions($1) as n', [account.userId]);

    // Assertions
    expect(rows[0].n).toBe(2);
    expect((await agentRow(db, account.agentId!)).status).toBe('offline');
    expect((await eventsOf(db, account.agentId!)).map((e) => e.mechanism)).toEqual(['heartbeat', 'logout']);
    const { rows: left } = await db.query('select * from presence_accounts.session_users($1)', [tokens]);
    expect(left).toEqual([]);
  });
});

describe('presence_accounts.heartbeats (one call: the sign-ins verified, the beats of the valid ones)', () => {
  it('answers each beat in order: beat for an agent, not_agent for a supervisor, unauthenticated for an unknown, expired or revoked sign-in', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAccount(tenant);
    const supervisor = await createAccount(tenant, { role: 'supervisor' });
    const [live, watcher, unknown, expired, revoked] = [tokenHash(), tokenHash(), tokenHash(), tokenHash(), tokenHash()];
    await signIn(agent.email, PASSWORD, address(), { token: live });
    await signIn(supervisor.email, PASSWORD, address(), { token: watcher });
    await signIn(agent.email, PASSWORD, address(), { token: expired });
    await signIn(agent.email, PASSWORD, address(), { token: revoked });
    await db.query("update presence_accounts.auth_sessions set expires_at = now() - interval '1 second' where token_hash = $1", [expired]);
    await db.query('select presence_accounts.logout($1)', [revoked]);

    // Action
    const { rows } = await db.query(
      'select ord, outcome, status, heartbeat_interval_s from presence_accounts.heartbeats($1, $2, $3)',
      [[live, watcher, unknown, expired, revoked, live], ['tab-1', 'tab-1', 'tab-1', 'tab-2', 'tab-3', null], Array(6).fill('active')],
    );

    // Assertions
    expect(rows).toEqual([
      { ord: 1, outcome: 'beat', status: 'available', heartbeat_interval_s: 30 },
      { ord: 2, outcome: 'not_agent', status: null, heartbeat_interval_s: null },
      { ord: 3, outcome: 'unauthenticated', status: null, heartbeat_interval_s: null },
      { ord: 4, outcome: 'unauthenticated', status: null, heartbeat_interval_s: null },
      { ord: 5, outcome: 'unauthenticated', status: null, heartbeat_interval_s: null },
      { ord: 6, outcome: 'beat', status: 'available', heartbeat_interval_s: 30 },
    ]);
    const { rows: session } = await db.query('select auth_session_id from presence_accounts.session_users($1)', [[live]]);
    const { rows: tabs } = await db.query('select session_id, sign_in from presence_private.sessions where agent_id = $1 order by session_id', [
      agent.agentId,
    ]);
    const signInId = session[0].auth_session_id;
    expect(tabs).toEqual([
      { session_id: 'tab-1', sign_in: signInId },
      { session_id: `unnamed:${signInId}`, sign_in: signInId },
    ]);
  });

  it('refuses arrays of different lengths with PRUSR naming the counts, and writes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAccount(tenant);
    const token = tokenHash();
    await signIn(agent.email, PASSWORD, address(), { token });

    // Action
    const call = db.query('select * from presence_accounts.heartbeats($1, $2, $3)', [[token], ['tab-1', 'tab-2'], ['active']]);

    // Assertions
    await expect(call).rejects.toMatchObject({ code: 'PRUSR', message: expect.stringMatching(/1 token hashes, 2 tabs, 1 activities/) });
    expect((await agentRow(db, agent.agentId!)).last_seen).toBeNull();
  });
});
