// The request path's login: presence_server, made by ensureAppLogin from the owner URL, or APP_DATABASE_URL,
// checked by it. Login roles belong to the whole cluster, so these tests run on a cluster of their own, in a
// scratch database with just what ensureAppLogin relies on: role presence_app, schema presence and
// presence_private.server_login.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAppLogin } from '../../db/app-login.ts';
import { withClient } from '../../db/client.ts';
import { startCluster, type Cluster } from '../../db/cluster.ts';
import { SetupError } from '../../db/database.ts';
import { createAppPool } from '../../server/pool.ts';

const hasPostgres = existsSync('/usr/lib/postgresql');

let folder: string;
let cluster: Cluster;

async function failure(work: Promise<unknown>): Promise<string> {
  return work.then(
    () => 'succeeded',
    (error: { code?: string; message: string }) => error.code ?? error.message,
  );
}

describe.skipIf(!hasPostgres)('ensureAppLogin', () => {
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'presence-app-login-'));
    cluster = await startCluster({ dataDir: join(folder, 'pg'), ephemeral: true });
    await withClient(cluster.url, (owner) =>
      owner.query(`
        create role presence_app nologin;
        create schema presence;
        create schema presence_private;
        create table presence_private.server_login (
          role_name text primary key,
          password text not null,
          created_at timestamptz not null default now()
        );`),
    );
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop({ remove: true });
    rmSync(folder, { recursive: true, force: true });
  });

  it('returns a URL that logs in as presence_server, a member of presence_app with no way back to the owner', async () => {
    // Setup
    const appUrl = await ensureAppLogin(cluster.url);

    // Action
    const seen = await withClient(appUrl, async (app) => {
      const who = (
        await app.query<{ login: string; superuser: boolean; app: boolean; owner: boolean }>(
          `select current_user as login, rolsuper as superuser,
                  pg_has_role(current_user, 'presence_app', 'USAGE') as app,
                  pg_has_role(current_user, 'postgres', 'MEMBER') as owner
             from pg_roles where rolname = current_user`,
        )
      ).rows[0]!;
      const setRolePostgres = await failure(app.query('set role postgres'));
      const setSessionAuthorization = await failure(app.query('set session authorization postgres'));
      await app.query('reset role');
      const afterReset = (await app.query<{ u: string }>('select current_user as u')).rows[0]!.u;
      const readPasswords = await failure(app.query('select password from presence_private.server_login'));
      const setRoleApp = await failure(app.query('set role presence_app'));
      return { who, setRolePostgres, setSessionAuthorization, afterReset, readPasswords, setRoleApp };
    });

    // Assertions
    expect(new URL(appUrl).username).toBe('presence_server');
    expect(seen.who).toEqual({ login: 'presence_server', superuser: false, app: true, owner: false });
    expect(seen.setRolePostgres).toBe('42501');
    expect(seen.setSessionAuthorization).toBe('42501');
    expect(seen.afterReset).toBe('presence_server');
    expect(seen.readPasswords).toBe('42501');
    expect(seen.setRoleApp).toBe('succeeded');
  });

  it('gives replicas starting at once the same password, stored once', async () => {
    // Setup
    await withClient(cluster.url, (owner) => owner.query('delete from presence_private.server_login'));

    // Action
    const urls = await Promise.all([ensureAppLogin(cluster.url), ensureAppLogin(cluster.url), ensureAppLogin(cluster.url)]);
    const later = await ensureAppLogin(cluster.url);
    const rows = await withClient(cluster.url, async (owner) => (await owner.query('select role_name from presence_private.server_login')).rows);

    // Assertions
    const passwords = new Set([...urls, later].map((url) => new URL(url).password));
    expect(passwords.size).toBe(1);
    expect(rows).toEqual([{ role_name: 'presence_server' }]);
    expect(await withClient(later, async (app) => (await app.query('select 1 as one')).rows[0].one)).toBe(1);
  });

  it('refuses an APP_DATABASE_URL that logs in as a superuser, in one line without its password', async () => {
    // Action
    const refused = await ensureAppLogin(cluster.url, cluster.url).catch((error: unknown) => error);

    // Assertions
    expect(refused).toBeInstanceOf(SetupError);
    const message = (refused as Error).message;
    expect(message).toMatch(/^APP_DATABASE_URL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/presence logs in as postgres, a superuser/);
    expect(message).not.toContain(decodeURIComponent(new URL(cluster.url).password));
    expect(message).not.toContain('\n');
  });

  it('refuses an APP_DATABASE_URL whose role is not a member of presence_app, and takes one that is', async () => {
    // Setup
    const password = randomUUID();
    await withClient(cluster.url, (owner) =>
      owner.query(`
        create role platform_outsider login password '${password}';
        create role platform_server login password '${password}' in role presence_app;`),
    );
    const as = (user: string, password: string) => {
      const url = new URL(cluster.url);
      url.username = user;
      url.password = password;
      return url.toString();
    };

    // Action
    const outsider = await ensureAppLogin(cluster.url, as('platform_outsider', password)).catch((e: Error) => e.message);
    const member = await ensureAppLogin(cluster.url, as('platform_server', password));

    // Assertions
    expect(outsider).toMatch(/logs in as platform_outsider, which is not a member of presence_app/);
    expect(member).toBe(as('platform_server', password));
  });

  it('sets the request path\'s timeouts on presence_server itself: a session of that login opened without options has them', async () => {
    // Setup
    const appUrl = await ensureAppLogin(cluster.url);

    // Action
    const settings = await withClient(appUrl, async (app) =>
      (
        await app.query(
          `select current_setting('statement_timeout') as statement, current_setting('lock_timeout') as lock,
                  current_setting('idle_in_transaction_session_timeout') as idle`,
        )
      ).rows[0],
    );

    // Assertions
    expect(settings).toEqual({ statement: '5s', lock: '2s', idle: '10s' });
  });

  it('has the app pool end a transaction left idle within its timeout, with the other timeouts in place', async () => {
    // Setup: a pool like the server's, with a short idle-in-transaction timeout.
    const pool = createAppPool(await ensureAppLogin(cluster.url), 1, { idleInTransactionMs: 200 });
    pool.on('error', () => {});
    const client = await pool.connect();
    client.on('error', () => {});
    try {
      const shown = (await client.query('show statement_timeout')).rows[0].statement_timeout;
      await client.query('begin');

      // Action: the transaction is left idle for longer than its timeout.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const after = await failure(client.query('select 1'));

      // Assertions
      expect(shown).toBe('5s');
      expect(after).not.toBe('succeeded');
      const ended = await withClient(cluster.url, async (owner) =>
        (await owner.query(`select count(*)::int as n from pg_stat_activity where usename = 'presence_server' and state like 'idle in transaction%'`)).rows[0].n,
      );
      expect(ended).toBe(0);
    } finally {
      client.release(true);
      await pool.end();
    }
  });
});
