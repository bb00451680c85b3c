// The request path's connection pool, logged in as a member of presence_app only (APP_DATABASE_URL, or the login
// role presence_server that npm start makes). A database that does not answer fails requests with a 503 instead of
// holding them: connecting gives up after 2 s, a statement after 5 s (in PostgreSQL and in the client, which also
// covers a server that stopped answering at all). A lock not granted in 2 s is a 503 too, and a transaction left
// idle is ended after 10 s, so that nothing on the request path holds what the sweep or the migrations need.
import pg from 'pg';
import { APP_TIMEOUTS, type AppTimeouts } from '../db/app-login.ts';

export function createAppPool(databaseUrl: string, max = 10, timeouts: Partial<AppTimeouts> = {}): pg.Pool {
  const t = { ...APP_TIMEOUTS, ...timeouts };
  return new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: 'presence-server',
    connectionTimeoutMillis: 2_000,
    statement_timeout: t.statementMs,
    lock_timeout: t.lockMs,
    idle_in_transaction_session_timeout: t.idleInTransactionMs,
    query_timeout: t.statementMs + 1_000,
  });
}

/**
 * The sign-ins' own pool, as the same login: bcrypt runs in PostgreSQL, and on the request path's pool a flood of
 * wrong passwords held every connection the beats need (server/accounts/sign-in-gate.ts bounds who waits for it).
 */
export function createSignInPool(databaseUrl: string, max = 2): pg.Pool {
  return new pg.Pool({
    connectionString: databaseUrl,
    max,
    application_name: 'presence-sign-in',
    connectionTimeoutMillis: 2_000,
    statement_timeout: 5_000,
    query_timeout: 6_000,
  });
}
