// The server's connection pool. Every connection acts as role presence_app (least privilege: it may execute the
// presence functions and read the presence views, nothing else), whoever the login user of the URL is.
import pg from 'pg';

export const APP_ROLE = 'presence_app';

export function createAppPool(databaseUrl: string, max = 10): pg.Pool {
  return new pg.Pool({
    connectionString: databaseUrl,
    max,
    options: `-c role=${APP_ROLE}`,
    application_name: 'presence-server',
    // A database that does not answer fails requests (and /healthz) after 5 s instead of holding them forever.
    connectionTimeoutMillis: 5_000,
  });
}
