// npm start: the database (DATABASE_URL, the local cluster, or embedded PostgreSQL), migrations, the demo
// tenant on first run, the request path's login, graphile-worker's jobs, the API and the client, on HOST:PORT.
// SIGINT/SIGTERM (to this process or to npm's, which execs it) shut it all down in order and log "stopped" last.
//
// WEB_CONCURRENCY=N (N > 1) serves from N processes on one port (server/serve/processes.ts): this process (the
// primary) does every step but the serving, and hands connections out in turn. Each answer says which process
// served it (X-Presence-Process). Why: one Node process uses one core, and Node, not PostgreSQL, spends most of a
// beat's CPU (docs/scaling.md).
import { pino, type Logger } from 'pino';
import { ensureAppLogin } from '../db/app-login.ts';
import { openDatabase, SetupError, type Database } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { withClient } from '../db/client.ts';
import { Database as Handle } from './database/handle.ts';
import { sweepScheduler } from '../db/sql/sweep-scheduler.ts';
import { prepareClient } from './client-build.ts';
import { databaseOptions, loadConfig, type Config } from './config.ts';
import { startPresenceWorker, type PresenceWorker } from './presence/worker.ts';
import { seedDemo } from './seed.ts';
import { upBanner } from './serve/banner.ts';
import { serveHere, type Serving } from './serve/here.ts';
import { isServingProcess, runServingProcess, serveFromProcesses, type ServeOrder } from './serve/processes.ts';
import { stopOnceUp } from './stop-request.ts';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const stopRequests = stopOnceUp(logger);

  // Stops the local cluster or embedded PostgreSQL when this process owns it (null with DATABASE_URL, or when
  // another live npm start runs it).
  const database = await openDatabase(databaseOptions(config, 'run', logger));
  try {
    await migrateDatabase(database.url, logger);
    const demo = config.seedDemo ? await seedDemo(database.url) : null;
    // The request path logs in as a member of presence_app only: APP_DATABASE_URL, or login role presence_server
    // made here. Migrations, the seed and graphile-worker use the owner's URL (database.url).
    const appDatabaseUrl = await ensureAppLogin(database.url, config.appDatabaseUrl);
    const sweep = await withClient(database.url, (client) => sweepScheduler(new Handle(client)));
    const clientDir = await prepareClient(logger);
    const jobs = await startPresenceWorker({ connectionString: database.url, logger });
    const serving = await serve(config, { appDatabaseUrl, clientDir }, logger).catch(async (error: unknown) => {
      await jobs.stop().catch(() => {});
      throw error;
    });
    const stop = stopInOrder({ serving, jobs, database, processes: config.webConcurrency, logger });
    // Said once requests to stop are handled (kept until `up`), so that whoever reads it may stop the server at once.
    console.log(
      upBanner({
        address: serving.address,
        host: config.host,
        processes: config.webConcurrency,
        database: database.description,
        sweep,
        clientDir,
        demo,
      }),
    );
    stopRequests.up(stop);
  } catch (error) {
    await database.stop?.().catch(() => {});
    throw error;
  }
}

async function migrateDatabase(url: string, logger: Logger): Promise<void> {
  const applied = await migrate(url);
  if (applied.length) logger.info({ applied }, 'migrations applied');
}

/** HTTP from this process, or from WEB_CONCURRENCY serving processes. */
function serve(config: Config, order: ServeOrder, logger: Logger): Promise<Serving> {
  return config.webConcurrency === 1
    ? serveHere(config, order.appDatabaseUrl, logger, order.clientDir)
    : serveFromProcesses(config.webConcurrency, order, logger);
}

interface Running {
  serving: Serving;
  jobs: PresenceWorker;
  database: Database;
  processes: number;
  logger: Logger;
}

/**
 * The stop: the serving stops taking connections, graphile-worker's jobs end, the serving finishes what it had, the
 * database goes last; each step runs even if one before it failed, and the process exits 1 if one did. A second
 * request while stopping exits at once.
 */
function stopInOrder({ serving, jobs, database, processes, logger }: Running): (reason: string) => void {
  let stopping = false;
  const shutdown = async (reason: string): Promise<boolean> => {
    logger.info({ reason }, 'shutting down');
    let clean = true;
    const step = async (name: string, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        clean = false;
        logger.error({ err: error }, `shutdown: ${name} failed`);
      }
    };
    // Streams end and no connection is taken from here on; requests in flight are answered meanwhile.
    const closed = serving.close();
    await step('worker', () => jobs.stop());
    await step(processes === 1 ? 'http server, listener and pool' : 'serving processes', () => closed);
    if (database.stop) await step('database', database.stop);
    logger.info('stopped');
    return clean;
  };
  return (reason) => {
    if (stopping) process.exit(0);
    stopping = true;
    void shutdown(reason).then((clean) => process.exit(clean ? 0 : 1));
  };
}

(isServingProcess ? runServingProcess() : main()).catch((error: unknown) => {
  console.error(error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
