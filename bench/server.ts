// One benchmark server process: the real app (makeApp + createServices) on a free loopback port, with the
// heartbeat route backed by the real batcher or by one of the baselines. Run by bench/http.ts as a child
// process pinned to one core; it reports its port, and on request how many requests it served and how many
// statements its pools sent (the database round trips).
//   node --import tsx bench/server.ts <heartbeat|noop|redis|seed> <databaseUrl> [redisUrl]
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { makeApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import type { HeartbeatBatcher } from '../server/db/heartbeat.ts';
import { createAppPool } from '../server/db/pool.ts';
import { createServices } from '../server/services.ts';
import { noopBeater, originalBeater, REDIS_KEY_PREFIX, redisBeater, type Beater } from './baselines.ts';

export type Variant = 'heartbeat' | 'noop' | 'redis' | 'seed';

export interface ServerMessage {
  port?: number;
  requests?: number;
  queries?: number;
}

const [variant, databaseUrl, redisUrl] = process.argv.slice(2) as [Variant, string, string | undefined];

let queries = 0;
let requests = 0;
function countQueries(pool: pg.Pool): pg.Pool {
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries += 1;
      return query(...args);
    };
  });
  return pool;
}

const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl });
const pool = countQueries(createAppPool(databaseUrl));
const services = await createServices(config, databaseUrl, pino({ level: 'silent' }), { pool });
const owner = variant === 'seed' ? countQueries(new pg.Pool({ connectionString: databaseUrl, max: 10 })) : null;
const redis = variant === 'redis' ? new Redis(redisUrl!, { enableAutoPipelining: true }) : null;

const beaters: Record<Variant, () => Beater> = {
  heartbeat: () => services.heartbeats,
  noop: noopBeater,
  redis: () => redisBeater(pool, redis!, REDIS_KEY_PREFIX),
  seed: () => originalBeater(pool, owner!),
};
const app = makeApp({ ...services, heartbeats: beaters[variant]() as HeartbeatBatcher });
const server = app.listen(0, '127.0.0.1');
server.on('request', () => {
  requests += 1;
});
await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));

const send = (m: ServerMessage) => process.send!(m);
send({ port: (server.address() as AddressInfo).port });
process.on('message', async (m: string) => {
  if (m === 'count') send({ requests, queries });
  if (m === 'stop') {
    services.streams.close();
    server.closeAllConnections();
    server.close();
    await services.close();
    await owner?.end();
    redis?.disconnect();
    process.exit(0);
  }
});
