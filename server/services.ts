// Builds what the standalone app needs around the request path's database URL, and tears it down again in order.
import type pg from 'pg';
import type { Logger } from 'pino';
import type client from 'prom-client';
import { AccountSessions } from './accounts/sessions.ts';
import { SignInGate } from './accounts/sign-in-gate.ts';
import type { Config } from './config.ts';
import { createRegistry } from './health.ts';
import { createAppPool, createSignInPool } from './pool.ts';
import { presenceRouter, type PresenceRouter } from './presence/router.ts';

/** The standalone server keeps the paths it has always had (the original design's hook posts to the first). */
export const STANDALONE_PATHS = {
  heartbeat: '/auth/heartbeat',
  leave: '/auth/leave',
  status: '/agents/me/status',
  agents: '/agents',
  stream: '/agents/stream',
  history: '/agents/:id/history',
} as const;

export interface Services {
  config: Config;
  /** Connections as a member of presence_app. */
  db: pg.Pool;
  logger: Logger;
  registry: client.Registry;
  sessions: AccountSessions;
  /** Sign-ins verify passwords on a pool of their own, a few at a time (server/accounts/sign-in-gate.ts). */
  signIns: { db: pg.Pool; gate: SignInGate };
  /** The presence routes, mounted at /api with STANDALONE_PATHS. */
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
  const registry = createRegistry(db);
  const sessions = new AccountSessions(db);
  const presence = presenceRouter({
    pool: db,
    identify: sessions.identify,
    logger,
    registry,
    paths: STANDALONE_PATHS,
    streamKeepAliveMs: config.streamKeepAliveMs,
    maxStreamsPerSignIn: config.streamsPerSignIn,
    maxStreamsPerTenant: config.streamsPerTenant,
    maxStreams: config.streamsPerProcess,
  });
  return {
    config,
    db,
    logger,
    registry,
    sessions,
    signIns: { db: signInDb, gate: new SignInGate(config.signInConnections, config.signInQueue) },
    presence,
    clientDir: options.clientDir ?? null,
    async close() {
      await presence.close();
      await Promise.all([db.end(), signInDb.end()]);
    },
  };
}
