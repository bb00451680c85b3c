// Builds what the standalone app needs around the request path's database URL, and tears it down again in order.
import type pg from 'pg';
import type { Logger } from 'pino';
import type client from 'prom-client';
import { SignedInUsers } from './accounts/signed-in.ts';
import { SignInGate } from './accounts/sign-in-gate.ts';
import type { Config } from './config.ts';
import { DatabaseAvailability } from './database/availability.ts';
import { Database } from './database/handle.ts';
import { createRegistry } from './health.ts';
import { STANDALONE_ROUTES } from './http/contract.ts';
import { createAppPool, createSignInPool } from './pool.ts';
import { presenceRouter, type PresenceRouter } from './presence/router.ts';

export interface Services {
  config: Config;
  /** Connections as a member of presence_app. */
  db: pg.Pool;
  /** The same pool as the SQL modules take it, reporting to `availability`. */
  database: Database;
  /** Whether the database answers: every query of the request path and every 503 reports here. */
  availability: DatabaseAvailability;
  logger: Logger;
  registry: client.Registry;
  /** Who signed in, by cookie: the presence router's `identify` and `beat`. */
  signedIn: SignedInUsers;
  /** Sign-ins verify passwords on a pool of their own, a few at a time (server/accounts/sign-in-gate.ts). */
  signIns: { db: Database; gate: SignInGate };
  /** The presence routes, mounted at STANDALONE_MOUNT (/api) with STANDALONE_ROUTES. */
  presence: PresenceRouter;
  /** The built client (client/dist) to serve, if any. */
  clientDir: string | null;
  /** Ends the streams, the LISTEN connection and the pools. */
  close(): Promise<void>;
}

export function createServices(
  config: Config,
  appDatabaseUrl: string,
  logger: Logger,
  options: { pool?: pg.Pool; clientDir?: string | null } = {},
): Services {
  const db = options.pool ?? createAppPool(appDatabaseUrl);
  // An idle connection that the server drops (restart, failover, shutdown) is replaced on the next query; without
  // a listener the pool's 'error' event would end the process.
  db.on('error', (error) => logger.debug({ reason: error.message }, 'an idle database connection was lost'));
  const signInDb = createSignInPool(appDatabaseUrl, config.signInConnections);
  signInDb.on('error', (error) => logger.debug({ reason: error.message }, 'an idle sign-in connection was lost'));
  // The scrape's query reports to no tracker: a metrics scraper alone never starts or ends an outage.
  const registry = createRegistry(new Database(db));
  // One tracker for the sign-in lookups, the sign-ins, /healthz and the presence routes: an outage is logged once.
  const availability = new DatabaseAvailability(logger);
  const database = new Database(db, availability);
  const signedIn = new SignedInUsers(database);
  const presence = presenceRouter({
    pool: db,
    identify: signedIn.identify,
    beat: signedIn.beat,
    logger,
    availability,
    registry,
    paths: STANDALONE_ROUTES,
    streamKeepAliveMs: config.streamKeepAliveMs,
    maxStreamsPerSignIn: config.streamsPerSignIn,
    maxStreamsPerTenant: config.streamsPerTenant,
    maxStreams: config.streamsPerProcess,
  });
  return {
    config,
    db,
    database,
    availability,
    logger,
    registry,
    signedIn,
    signIns: { db: new Database(signInDb, availability), gate: new SignInGate(config.signInConnections, config.signInQueue) },
    presence,
    clientDir: options.clientDir ?? null,
    async close() {
      await presence.close();
      await Promise.all([db.end(), signInDb.end()]);
    },
  };
}
