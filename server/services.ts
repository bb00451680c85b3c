// Builds what the app needs around a database URL, and tears it down again in order.
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { AppContext } from './context.ts';
import { HeartbeatBatcher } from './db/heartbeat.ts';
import { createAppPool } from './db/pool.ts';
import { StatusListener } from './listener.ts';
import { createMetrics } from './metrics.ts';
import { StreamHub } from './streams.ts';

export interface Services extends AppContext {
  /** Ends the streams, the listener and the pool. */
  close(): Promise<void>;
}

export async function createServices(
  config: Config,
  databaseUrl: string,
  logger: Logger,
  options: { pool?: pg.Pool; clientDir?: string | null } = {},
): Promise<Services> {
  const db = options.pool ?? createAppPool(databaseUrl);
  // An idle connection that the server drops (restart, failover, shutdown) is replaced on the next query; without
  // a listener the pool's 'error' event would end the process.
  db.on('error', (error) => logger.warn({ err: error }, 'an idle database connection was lost'));
  const metrics = createMetrics(async () => {
    const { rows } = await db.query<{ runs: string | null }>('select presence.sweep_runs() as runs');
    return rows[0]!.runs === null ? null : Number(rows[0]!.runs);
  });
  const listener = new StatusListener(databaseUrl, logger);
  await listener.start();
  const streams = new StreamHub(db, listener, metrics, logger, config.streamKeepAliveMs);
  const heartbeats = new HeartbeatBatcher(db);
  return {
    config,
    db,
    logger,
    metrics,
    listener,
    streams,
    heartbeats,
    clientDir: options.clientDir ?? null,
    async close() {
      streams.close();
      await listener.close();
      await db.end();
    },
  };
}
