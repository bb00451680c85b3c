// npm start: the database (DATABASE_URL, the local cluster, or embedded PostgreSQL), migrations, the demo
// tenant on first run, the worker, the API and the client, on HOST:PORT. SIGINT/SIGTERM shut it all down in order.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { ensureAppLogin } from '../db/app-login.ts';
import { openDatabase, SetupError } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { makeApp } from './app.ts';
import { databaseOptions, loadConfig } from './config.ts';
import { DEMO_PASSWORD, seedDemo } from './seed.ts';
import { prepareClient } from './client-build.ts';
import { startPresenceWorker } from './presence/worker.ts';
import { createServices } from './services.ts';

/** Listens on host:port; a port in use (or a host not of this machine) is one line for the operator. */
async function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new SetupError(`port ${port} is in use: set PORT to a free port`);
    if (code === 'EADDRNOTAVAIL') throw new SetupError(`HOST ${host} is not an address of this machine: set HOST to one`);
    if (code === 'EACCES') throw new SetupError(`port ${port} needs privileges this user lacks: set PORT above 1023`);
    throw error;
  }
}

function serverUrl(address: AddressInfo, host: string | undefined): string {
  const shown = host === undefined ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });

  // Stops the local cluster or embedded PostgreSQL when this process owns it (null with DATABASE_URL, or when
  // another live npm start runs it).
  const database = await openDatabase(databaseOptions(config, 'run', logger));
  const stopDatabase = database.stop;
  try {
    const applied = await migrate(database.url);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    const demo = config.seedDemo ? await seedDemo(database.url) : null;
    // The request path logs in as a member of presence_app only: APP_DATABASE_URL, or login role presence_server
    // made here. Migrations, the seed and the worker use the owner's URL (database.url).
    const appDatabaseUrl = await ensureAppLogin(database.url, config.appDatabaseUrl);

    const owner = new pg.Client({ connectionString: database.url });
    await owner.connect();
    const { rows } = await owner.query<{ scheduler: string; schedule: string; database_name: string; here: boolean }>(
      'select s.*, s.database_name = current_database() as here from presence.sweep_scheduler() s',
    );
    await owner.end();
    const scheduler = rows[0]!;
    const sweepInWorker = scheduler.scheduler === 'graphile-worker';

    const clientDir = await prepareClient(logger);
    const services = createServices(config, appDatabaseUrl, logger, { clientDir });
    const worker = await startPresenceWorker({ connectionString: database.url, logger });
    const server: Server = createServer(makeApp(services));
    try {
      await listen(server, config.port, config.host);
    } catch (error) {
      await worker.stop().catch(() => {});
      await services.close().catch(() => {});
      throw error;
    }

    let stopping = false;
    const shutdown = async (signal: string): Promise<boolean> => {
      if (stopping) return true;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      // Each step runs even if one before it failed; the database goes last.
      let clean = true;
      const step = async (name: string, work: () => Promise<unknown>) => {
        try {
          await work();
        } catch (error) {
          clean = false;
          logger.error({ err: error }, `shutdown: ${name} failed`);
        }
      };
      services.presence.streams.close();
      server.closeIdleConnections();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await step('worker', () => worker.stop());
      await step('http server', () => closed);
      await step('listener and pool', () => services.close());
      if (stopDatabase) await step('database', stopDatabase);
      logger.info('stopped');
      return clean;
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        void shutdown(signal).then((clean) => process.exit(clean ? 0 : 1));
      });
    }

    // Said once Ctrl-C is handled, so that whoever reads it may stop the server at once.
    console.log(
      [
        '',
        `agent-presence is up at ${serverUrl(server.address() as AddressInfo, config.host)}`,
        `  database:  ${database.description}`,
        `  sweep:     ${sweepInWorker ? 'graphile-worker cron in this process, every minute' : `pg_cron job presence-sweep, schedule '${scheduler.schedule}'${scheduler.here ? '' : ` (in database ${scheduler.database_name})`}`}`,
        `  client:    ${clientDir ? clientDir : 'none (no client/index.html)'}`,
        ...(demo
          ? [
              `  demo sign-ins (password "${DEMO_PASSWORD}")${demo.created ? ', created now' : ''}:`,
              ...demo.signIns.map((s) => `    ${s.email.padEnd(32)} ${s.name} (${s.role})`),
              '  Jordan Lee is stuck "available" from a browser gone for two hours, holding 2 of 5 chats: the first',
              '  sweep takes Jordan offline and the release job returns both chats to the queue a minute later.',
            ]
          : ['  demo:      not seeded on DATABASE_URL (PRESENCE_DEMO=true seeds it); add people with npx presence']),
        '',
      ].join('\n'),
    );
  } catch (error) {
    await stopDatabase?.().catch(() => {});
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
