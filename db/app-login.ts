// The login of the server's request path: a role that is a member of presence_app only (not a superuser, not the
// owner, no SET ROLE back to either). Either APP_DATABASE_URL, which names a role the operator made (checked
// here), or login role presence_server, made from the owner URL with a password kept in
// presence_private.server_login (owner-only), so that every replica logs in with the same one, with the request
// path's timeouts set on it.
import type pg from 'pg';
import { Database } from '../server/database/handle.ts';
import { inTransaction, withClient } from './client.ts';
import { redactUrl, SetupError } from './database.ts';
import { generatePassword, scramVerifier } from './password.ts';
import { loginRights } from './sql/login-rights.ts';
import {
  applyRoleSettings,
  createServerLogin,
  lockServerLogin,
  resetServerLogin,
  serverLoginIsPlain,
  storedServerPassword,
  storeServerPassword,
} from './sql/server-login.ts';

const APP_ROLE = 'presence_app';
export const SERVER_LOGIN = 'presence_server';

export interface AppTimeouts {
  /** statement_timeout: a statement that runs longer is cancelled (57014; the server answers 503). */
  statementMs: number;
  /** lock_timeout: a lock not granted in this time is an error (55P03; 503) instead of a queue behind it. */
  lockMs: number;
  /** idle_in_transaction_session_timeout: a session left idle inside a transaction is ended. */
  idleInTransactionMs: number;
}

/**
 * The request path's timeouts: set by its pool on every connection (server/pool.ts) and on login role
 * presence_server, so that any session of that login has them. A NOLOGIN group role's settings (presence_app) are
 * not inherited by its members: a DBA sets them on each login role (README, "For DBAs").
 */
export const APP_TIMEOUTS: AppTimeouts = { statementMs: 5_000, lockMs: 2_000, idleInTransactionMs: 10_000 };

/** `alter role … set` for the timeouts, as SQL (the values in milliseconds). */
export function roleTimeoutSettings(role: string, t: AppTimeouts = APP_TIMEOUTS): string[] {
  return [
    `alter role ${role} set statement_timeout = ${t.statementMs}`,
    `alter role ${role} set lock_timeout = ${t.lockMs}`,
    `alter role ${role} set idle_in_transaction_session_timeout = ${t.idleInTransactionMs}`,
  ];
}

/**
 * Returns the URL the request path connects with. `appDatabaseUrl` (APP_DATABASE_URL) is checked and returned as
 * it is; without it, presence_server is created (or reused) through the owner URL, after the migrations.
 */
export async function ensureAppLogin(ownerUrl: string, appDatabaseUrl?: string): Promise<string> {
  if (appDatabaseUrl) {
    await checkAppLogin(appDatabaseUrl);
    return appDatabaseUrl;
  }
  const password = await ensureServerLogin(ownerUrl);
  const url = new URL(ownerUrl);
  url.searchParams.delete('user');
  url.searchParams.delete('password');
  url.username = SERVER_LOGIN;
  url.password = password;
  await connectAs(url.toString(), async () => {}).catch((error: unknown) => {
    throw new SetupError(`login role ${SERVER_LOGIN} cannot connect to ${redactUrl(url.toString())}: ${message(error)}`);
  });
  return url.toString();
}

/** Refuses an APP_DATABASE_URL whose role could do more than presence_app may. */
async function checkAppLogin(appDatabaseUrl: string): Promise<void> {
  const problem = await connectAs(appDatabaseUrl, async (client) => {
    const r = await loginRights(new Database(client), APP_ROLE);
    const instead = `name a login role that is a member of ${APP_ROLE} only`;
    if (r.superuser) return `logs in as ${r.role}, a superuser: ${instead}`;
    if (r.schema_owner === null) return 'reaches a database without schema presence: run the migrations on it (npm run db:migrate)';
    if (r.acts_as_owner) {
      return r.role === r.schema_owner
        ? `logs in as ${r.role}, which owns schema presence: ${instead}`
        : `logs in as ${r.role}, which can act as ${r.schema_owner}, the owner of schema presence: ${instead}`;
    }
    if (!r.app_role || !r.member) {
      return `logs in as ${r.role}, which is not a member of ${APP_ROLE}: grant ${APP_ROLE} to ${r.role} (an INHERIT role)`;
    }
    return null;
  }).catch((error: unknown) => {
    if (error instanceof SetupError) throw error;
    return `cannot connect: ${message(error)}`;
  });
  if (problem) throw new SetupError(`APP_DATABASE_URL ${redactUrl(appDatabaseUrl)} ${problem}`);
}

/**
 * Creates login role presence_server (member of presence_app, INHERIT, nothing more) or brings the existing one back
 * to the password every replica reads from presence_private.server_login; returns that password. Replicas starting
 * together serialize on an advisory lock, so the first creates the password and the others read it.
 */
async function ensureServerLogin(ownerUrl: string): Promise<string> {
  return connectAs(ownerUrl, (client) =>
    inTransaction(client, async () => {
      const db = new Database(client);
      await lockServerLogin(db);
      let password = await storedServerPassword(db, SERVER_LOGIN).catch((error: unknown) => {
        if ((error as { code?: string }).code === '42P01') {
          throw new SetupError('table presence_private.server_login is missing: run the migrations (npm run db:migrate)');
        }
        throw error;
      });
      if (!password) {
        password = generatePassword();
        await storeServerPassword(db, SERVER_LOGIN, password);
      }
      const plain = await serverLoginIsPlain(db, SERVER_LOGIN);
      const verifier = client.escapeLiteral(scramVerifier(password));
      if (plain === undefined) {
        await createServerLogin(db, SERVER_LOGIN, APP_ROLE, verifier);
      } else if (!plain) {
        throw new SetupError(
          `role ${SERVER_LOGIN} exists with more rights than a member of ${APP_ROLE} needs (superuser, createdb, ` +
            `createrole, replication, bypassrls or noinherit): drop it, or set APP_DATABASE_URL to a login role of yours`,
        );
      } else {
        await resetServerLogin(db, SERVER_LOGIN, APP_ROLE, verifier);
      }
      await applyRoleSettings(db, roleTimeoutSettings(SERVER_LOGIN));
      return password;
    }).catch((error: unknown) => {
      if (error instanceof SetupError) throw error;
      throw new SetupError(`cannot create or update login role ${SERVER_LOGIN} as the owner: ${message(error)}; or set APP_DATABASE_URL`);
    }),
  );
}

function connectAs<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  return withClient(url, work, { applicationName: 'presence-app-login' });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
