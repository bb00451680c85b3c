// What the routes share: configuration, the presence_app pool, logging, metrics and the live parts.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { HeartbeatBatcher } from './db/heartbeat.ts';
import type { StatusListener } from './listener.ts';
import type { Metrics } from './metrics.ts';
import type { StreamHub } from './streams.ts';

export interface AppContext {
  config: Config;
  /** Connections as role presence_app. */
  db: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  listener: StatusListener;
  streams: StreamHub;
  heartbeats: HeartbeatBatcher;
  /** The built client (client/dist) to serve, if any. */
  clientDir: string | null;
}
