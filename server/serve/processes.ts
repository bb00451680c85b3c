// WEB_CONCURRENCY > 1: the serving processes (node:cluster, which calls them "workers"; here they are serving
// processes, and "worker" is graphile-worker's). The primary forks them, hands each the app login's URL, learns that
// it listens or why it could not, replaces one that dies, and stops them all. Each builds its own services and app
// (server/serve/here.ts) on the primary's port: a beat through one reaches the live streams of all of them through
// PostgreSQL's NOTIFY, and sign-in limits, counted in SQL, hold across them.
import cluster, { type Worker as ServingProcess } from 'node:cluster';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { SetupError } from '../../db/database.ts';
import { loadConfig } from '../config.ts';
import { serveHere, type Serving } from './here.ts';

/** What the primary tells each serving process. */
export interface ServeOrder {
  appDatabaseUrl: string;
  clientDir: string | null;
}

/** What a serving process tells the primary: ready for its order, listening, or why it could not. */
type ServingReport = { ready: true } | { listening: true } | { failed: string; setup: boolean };

/** This process is a serving process that the primary forked. */
export const isServingProcess = cluster.isWorker;

/**
 * n serving processes on config's port. Resolves once all listen; a process that cannot (a busy port) fails the
 * start. One that dies later is replaced, and said so.
 */
export async function serveFromProcesses(n: number, order: ServeOrder, logger: Logger): Promise<Serving> {
  let stopping = false;
  const fork = (): Promise<{ servingProcess: ServingProcess; address: AddressInfo }> => {
    const servingProcess = cluster.fork();
    return new Promise((resolve, reject) => {
      servingProcess.on('message', (report: ServingReport) => {
        if ('ready' in report) servingProcess.send(order);
        if ('failed' in report) reject(report.setup ? new SetupError(report.failed) : new Error(report.failed));
      });
      servingProcess.once('listening', (address: { address: string; port: number; addressType: number | string }) => {
        const family = address.addressType === 6 || address.addressType === 'udp6' ? 'IPv6' : 'IPv4';
        resolve({ servingProcess, address: { address: address.address, port: address.port, family } });
      });
      servingProcess.once('exit', (code, signal) => reject(new Error(`serving process ${servingProcess.id} exited (${signal ?? code}) before listening`)));
    });
  };
  const replaceWhenDead = (servingProcess: ServingProcess) => {
    servingProcess.once('exit', (code, signal) => {
      if (stopping) return;
      logger.error({ process: servingProcess.id, code, signal }, 'a serving process died; starting another');
      void fork().then(
        ({ servingProcess: next }) => replaceWhenDead(next),
        (error: unknown) => logger.error({ err: error }, 'could not replace a serving process'),
      );
    });
  };

  const started = await Promise.allSettled(Array.from({ length: n }, fork));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    stopping = true;
    await stopAll();
    throw failed.reason;
  }
  const up = started.map((s) => (s as PromiseFulfilledResult<{ servingProcess: ServingProcess; address: AddressInfo }>).value);
  for (const { servingProcess } of up) replaceWhenDead(servingProcess);
  return {
    address: up[0]!.address,
    async close() {
      stopping = true;
      await stopAll();
    },
  };
}

/** Asks every live serving process to stop (or kills one that is no longer connected); resolves when all exited. */
async function stopAll(): Promise<void> {
  await Promise.all(
    Object.values(cluster.workers ?? {}).map(async (servingProcess) => {
      if (!servingProcess || servingProcess.isDead()) return;
      const exited = once(servingProcess, 'exit');
      if (servingProcess.isConnected()) servingProcess.send('shutdown');
      else servingProcess.kill();
      await exited;
    }),
  );
}

/**
 * The life of a serving process: the app on the primary's port and nothing else. It stops when the primary says so
 * (the primary handles Ctrl-C and stops everything in order), or with it.
 */
export async function runServingProcess(): Promise<void> {
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
