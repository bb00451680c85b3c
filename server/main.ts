// npm start: the database (DATABASE_URL, the local cluster, or embedded PostgreSQL), migrations, the demo
// tenant on first run, the worker, the API and the client, on HOST:PORT. SIGINT/SIGTERM (to this process or to npm's,
// which execs it) shut it all down in order and log "stopped" last.
//
// WEB_CONCURRENCY=N (N > 1) serves from N processes on one port (node:cluster): this process (the primary) does the
// database, the migrations, the demo seed, the app login and the graphile-worker, and hands connections out in
// turn; each serving process builds its own services (pool, batchers, one LISTEN connection) and app, so a beat
// through one reaches the live streams of all of them through PostgreSQL's NOTIFY, and sign-in limits, counted in
// SQL, hold across them. Each answer says which process served it (X-Presence-Process). Why: one Node process uses
// one core, and Node, not PostgreSQL, spends most of a beat's CPU (docs/scaling.md).
import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { ensureAppLogin } from '../db/app-login.ts';
import { openDatabase, SetupError } from '../db/database.ts';
import { migrate } from '../db/migrate.ts';
import { makeApp } from './app.ts';
import { databaseOptions, loadConfig, type Config } from './config.ts';
import { DEMO_PASSWORD, seedDemo } from './seed.ts';
import { prepareClient } from './client-build.ts';
import { startPresenceWorker } from './presence/worker.ts';
import { createServices } from './services.ts';
import { onStopRequest } from './stop-request.ts';

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

/** The answer header that names the serving process (1..N, as node:cluster numbers them) when there are several. */
const PROCESS_HEADER = 'X-Presence-Process';

/** The HTTP side of npm start: this process, or the serving processes. */
interface Serving {
  address: AddressInfo;
  /**
   * Ends the live streams (browsers reconnect) and stops taking connections at once; resolves when every serving
   * process has answered what it had, and closed its LISTEN connection and pool.
   */
  close(): Promise<void>;
}

/** The app in this process; `processId` names it in every answer (a serving process of several). */
async function serveHere(
  config: Config,
  appDatabaseUrl: string,
  logger: Logger,
  clientDir: string | null,
  processId?: string,
): Promise<Serving> {
  const services = createServices(config, appDatabaseUrl, logger, { clientDir });
  const app = makeApp(services);
  const server: Server = createServer(
    processId === undefined
      ? app
      : (req, res) => {
          res.setHeader(PROCESS_HEADER, processId);
          app(req, res);
        },
  );
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await services.close().catch(() => {});
    throw error;
  }
  return {
    address: server.address() as AddressInfo,
    async close() {
      services.presence.streams.close();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await services.close();
    },
  };
}

/** What the primary tells each serving process. */
interface ServeOrder {
  appDatabaseUrl: string;
  clientDir: string | null;
}

type ServingReport = { ready: true } | { listening: true } | { failed: string; setup: boolean };

/**
 * WEB_CONCURRENCY > 1: n serving processes on config's port. Resolves once all listen; a process that cannot (a busy
 * port) fails the start. One that dies later is replaced, and said so.
 */
async function serveFromProcesses(n: number, order: ServeOrder, logger: Logger): Promise<Serving> {
  let stopping = false;
  const start = (): Promise<{ worker: Worker; address: AddressInfo }> => {
    const worker = cluster.fork();
    return new Promise((resolve, reject) => {
      worker.on('message', (report: ServingReport) => {
        if ('ready' in report) worker.send(order);
        if ('failed' in report) reject(report.setup ? new SetupError(report.failed) : new Error(report.failed));
      });
      worker.once('listening', (address: { address: string; port: number; addressType: number | string }) => {
        const family = address.addressType === 6 || address.addressType === 'udp6' ? 'IPv6' : 'IPv4';
        resolve({ worker, address: { address: address.address, port: address.port, family } });
      });
      worker.once('exit', (code, signal) => reject(new Error(`serving process ${worker.id} exited (${signal ?? code}) before listening`)));
    });
  };
  const keep = (worker: Worker) => {
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ process: worker.id, code, signal }, 'a serving process died; starting another');
      void start().then(({ worker: next }) => keep(next), (error: unknown) => logger.error({ err: error }, 'could not replace a serving process'));
    });
  };

  const started = await Promise.allSettled(Array.from({ length: n }, start));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    stopping = true;
    await stopAll();
    throw failed.reason;
  }
  const first = (started[0] as PromiseFulfilledResult<{ worker: Worker; address: AddressInfo }>).value;
  for (const s of started) keep((s as PromiseFulfilledResult<{ worker: Worker }>).value.worker);
  return {
    address: first.address,
    async close() {
      stopping = true;
      await stopAll();
    },
  };

  async function stopAll(): Promise<void> {
    await Promise.all(
      Object.values(cluster.workers ?? {}).map(async (worker) => {
        if (!worker || worker.isDead()) return;
        const exited = once(worker, 'exit');
        if (worker.isConnected()) worker.send('shutdown');
        else worker.kill();
        await exited;
      }),
    );
  }
}

/**
 * A serving process (WEB_CONCURRENCY > 1): the app on the primary's port and nothing else. It stops when the primary
 * says so (the primary handles Ctrl-C and stops everything in order), or with it.
 */
async function servingProcess(): Promise<void> {
  // Ctrl-C reaches every process of the terminal's group: the primary orders the shutdown.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {});
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const report = (r: ServingReport) => new Promise<void>((resolve) => process.send!(r, () => resolve()));
  const ordered = once(process, 'message') as Promise<[ServeOrder]>;
  await report({ ready: true });
  const [order] = await ordered;
  let serving: Serving;
  try {
    serving = await serveHere(config, order.appDatabaseUrl, logger, order.clientDir, String(cluster.worker!.id));
  } catch (error) {
    await report({ failed: error instanceof Error ? error.message : String(error), setup: error instanceof SetupError });
    process.exit(1);
  }
  await report({ listening: true });
  process.on('message', (m: unknown) => {
    if (m !== 'shutdown') return;
    serving.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown of a serving process failed');
        process.exit(1);
      },
    );
  });
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel });
  const processes = config.webConcurrency;

  // A request to stop that comes while starting (a supervisor stopping a container that is still migrating) is kept
  // until everything is up, then stops it all in order: dying of the signal would leave the cluster running. A
  // second one exits at once.
  let stopRequested: string | null = null;
  let stop: ((reason: string) => void) | null = null;
  onStopRequest((reason) => {
    if (stop) return stop(reason);
    if (stopRequested) process.exit(1);
    stopRequested = reason;
    logger.info({ reason }, 'stopping once started');
  });

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
    const worker = await startPresenceWorker({ connectionString: database.url, logger });
    let serving: Serving;
    try {
      serving =
        processes === 1
          ? await serveHere(config, appDatabaseUrl, logger, clientDir)
          : await serveFromProcesses(processes, { appDatabaseUrl, clientDir }, logger);
    } catch (error) {
      await worker.stop().catch(() => {});
      throw error;
    }

    let stopping = false;
    const shutdown = async (reason: string): Promise<boolean> => {
      if (stopping) return true;
      stopping = true;
      logger.info({ reason }, 'shutting down');
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
      // Streams end and no connection is taken from here on; requests in flight are answered meanwhile.
      const closed = serving.close();
      await step('worker', () => worker.stop());
      await step(processes === 1 ? 'http server, listener and pool' : 'serving processes', () => closed);
      if (stopDatabase) await step('database', stopDatabase);
      logger.info('stopped');
      return clean;
    };
    stop = (reason) => {
      void shutdown(reason).then((clean) => process.exit(clean ? 0 : 1));
    };

    // Said once Ctrl-C is handled, so that whoever reads it may stop the server at once.
    console.log(
      [
        '',
        `agent-presence is up at ${serverUrl(serving.address, config.host)}`,
        ...(processes > 1 ? [`  serving:   ${processes} processes (WEB_CONCURRENCY), each answer names its own in ${PROCESS_HEADER}`] : []),
        `  database:  ${database.description}`,
        `  sweep:     ${sweepInWorker ? 'graphile-worker cron in this process, every minute' : `pg_cron job presence-sweep, schedule '${scheduler.schedule}'${scheduler.here ? '' : ` (in database ${scheduler.database_name})`}`}`,
        `  client:    ${clientDir ? clientDir : 'none (no client/index.html)'}`,
        ...(demo
          ? [
              `  demo sign-ins (password "${DEMO_PASSWORD}")${demo.created ? ', created now' : ''}:`,
              ...demo.signIns.map((s) => `    ${s.email.padEnd(32)} ${s.name} (${s.role})`),
              // The ghost story is true only of a demo seeded now: the first sweep ends it.
              ...(demo.created
                ? [
                    '  Jordan Lee is stuck "available" from a browser gone for two hours, holding 2 of 5 chats: the first',
                    '  sweep records Jordan offline since two hours ago and returns both chats to the queue.',
                  ]
                : []),
            ]
          : ['  demo:      not seeded on DATABASE_URL (PRESENCE_DEMO=true seeds it); add people with npx presence']),
        '',
      ].join('\n'),
    );
    const pending = stopRequested as string | null;
    if (pending) stop(pending);
  } catch (error) {
    await stopDatabase?.().catch(() => {});
    throw error;
  }
}

(cluster.isWorker ? servingProcess() : main()).catch((error: unknown) => {
  console.error(error instanceof SetupError ? error.message : error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
