// The server of one HTTP variant (bench/variants.ts), served as npm start serves with WEB_CONCURRENCY: a node:cluster
// primary that only hands out connections, and `processes` serving processes on one port, each with its own pool,
// batcher and LISTEN connection. Started by bench/http.ts, which it tells its port and pids.
//   node --import tsx bench/server.ts <variant> <processes> <appDatabaseUrl> <ownerUrl> <redisUrl>
import cluster from 'node:cluster';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { makeApp } from '../server/app.ts';
import { loadConfig } from '../server/config.ts';
import { createAppPool } from '../server/pool.ts';
import { createServices, type Services } from '../server/services.ts';
import { ready, serveRequests } from './child.ts';
import { bareApp, interceptBeats, noopBeats, redisBeats, seedBeats, type Variant } from './variants.ts';

const [variant, processes, appUrl, ownerUrl, redisUrl] = process.argv.slice(2) as [Variant, string, string, string, string];

if (cluster.isPrimary) {
  const workers = Array.from({ length: Number(processes) }, () => cluster.fork());
  const ports = await Promise.all(
    workers.map(
      (worker) =>
        new Promise<number>((resolve, reject) => {
          worker.once('listening', (address: AddressInfo) => resolve(address.port));
          worker.once('exit', (code) => reject(new Error(`serving process exited with ${code} before listening`)));
        }),
    ),
  );
  serveRequests(async (m) => {
    if (m.type === 'stop') {
      await Promise.all(
        workers.map(async (worker) => {
          const exited = once(worker, 'exit');
          worker.send('stop');
          await exited;
        }),
      );
      setImmediate(() => process.exit(0));
    }
    return {};
  });
  ready({ port: ports[0], pids: [process.pid, ...workers.map((w) => w.process.pid!)] });
} else {
  const logger = pino({ level: 'silent' });
  let services: Services | null = null;
  let owner: pg.Pool | null = null;
  let redis: Redis | null = null;
  let server: Server;
  if (variant === 'bare') {
    server = bareApp().listen(0, '127.0.0.1');
  } else {
    const config = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'silent', DATABASE_URL: ownerUrl });
    const pool = createAppPool(appUrl);
    if (variant === 'noop') interceptBeats(pool, noopBeats());
    if (variant === 'redis') {
      redis = new Redis(redisUrl, { enableAutoPipelining: true });
      interceptBeats(pool, redisBeats(redis));
    }
    if (variant === 'seed') {
      owner = new pg.Pool({ connectionString: ownerUrl, max: 10 });
      interceptBeats(pool, seedBeats(owner));
    }
    services = createServices(config, appUrl, logger, { pool });
    await services.presence.listener.ready();
    server = makeApp(services).listen(0, '127.0.0.1');
  }
  process.on('message', async (m: string) => {
    if (m !== 'stop') return;
    services?.presence.streams.close();
    server.closeAllConnections();
    server.close();
    await services?.close();
    await owner?.end();
    redis?.disconnect();
    process.exit(0);
  });
}
