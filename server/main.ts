// npm start: the database (DATABASE_URL, the local cluster, or embedded PostgreSQL), migrations, the demo
// tenant on first run, the worker, the API and the client, on PORT. SIGINT/SIGTERM shut it all down in order.
import type { Server } from 'node:http';
import pg from 'pg';
import { pino } from 'pino';
import { migrate } from '../db/migrate.ts';
import { redactUrl } from '../db/database.ts';
import { makeApp } from './app.ts';
import { loadConfig } from './config.ts';
import { DEMO_PASSWORD, seedDemo } from './seed.ts';
import { createServices } from './services.ts';
import { prepareClient } from './start/client.ts';
import { startDatabase } from './start/database.ts';
import { startWorker } from './worker.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });

  const database = await startDatabase(config, logger);
  const stopDatabase = database.stop;
  try {
    const applied = await migrate(database.url);
    if (applied.length) logger.info({ applied }, 'migrations applied');
    const demo = config.seedDemo ? await seedDemo(database.url) : null;

    const owner = new pg.Client({ connectionString: database.url });
    await owner.connect();
    const { rows } = await owner.query<{ scheduler: string; schedule: string }>('select * from presence.sweep_scheduler()');
    await owner.end();
    const scheduler = rows[0]!;
    const sweepInWorker = scheduler.scheduler === 'graphile-worker';

    const clientDir = await prepareClient(logger);
    const services = await createServices(config, database.url, logger, { clientDir });
    const worker = await startWorker({ connectionString: database.url, sweep: sweepInWorker, logger, metrics: services.metrics });
    const server: Server = makeApp(services).listen(config.port);
    await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));

    const port = (server.address() as { port: number }).port;
    console.log(
      [
        '',
        `agent-presence is up at http://localhost:${port}`,
        `  database:  ${database.description.replace(database.url, redactUrl(database.url))}`,
        `  sweep:     ${sweepInWorker ? 'graphile-worker cron in this process, every minute' : `pg_cron job presence-sweep, schedule '${scheduler.schedule}'`}`,
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
      services.streams.close();
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
  } catch (error) {
    await stopDatabase?.().catch(() => {});
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
