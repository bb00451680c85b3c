// The soak's server, a child process of its own (bench/child.ts): npm start's serving pieces (the app login, the
// presence router behind this project's sign-in, the graphile-worker) on the run's cluster, with no migrations, seed
// or client build (the parent did those). Answers `ready` with its port; `stop` closes it as npm start does.
//   node --import tsx bench/soak/serve.ts   (SOAK_OWNER_URL, PORT)
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { ensureAppLogin } from '../../db/app-login.ts';
import { makeApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { startPresenceWorker } from '../../server/presence/worker.ts';
import { createServices } from '../../server/services.ts';
import { ready, serveRequests } from '../child.ts';

const ownerUrl = process.env.SOAK_OWNER_URL!;
const config = loadConfig({
  ...process.env,
  DATABASE_URL: ownerUrl,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  COOKIE_SECURE: 'false',
  // The driver's failed sign-ins name their own address (X-Forwarded-For), as a proxy would.
  TRUST_PROXY: 'loopback',
  LOG_LEVEL: 'warn',
});
// Written synchronously (pino's default stream writes asynchronously), so a line is in the log when it happens.
const logger = pino({ level: config.logLevel }, pino.destination({ dest: 1, sync: true }));
const appUrl = await ensureAppLogin(ownerUrl);
const services = createServices(config, appUrl, logger);
const worker = await startPresenceWorker({ connectionString: ownerUrl, logger });
const server = createServer(makeApp(services));
server.listen(config.port, '127.0.0.1');
await once(server, 'listening');

serveRequests(async (m) => {
  if (m.type !== 'stop') throw new Error(`the soak's server takes only 'stop', got '${m.type}'`);
  services.presence.streams.close();
  server.closeIdleConnections();
  server.close();
  void worker
    .stop()
    .then(() => services.close())
    .finally(() => process.exit(0));
  return {};
});
ready({ port: (server.address() as AddressInfo).port });
