// graphile-worker, in the server process: the release_chats jobs that SQL enqueues, and the sweep's cron
// schedule when pg_cron is not there to run it.
import { Logger as WorkerLogger, run, type LogLevel, type TaskList } from 'graphile-worker';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.ts';
import { releaseChats } from './tasks/releaseChats.ts';
import { sweepTask } from './tasks/sweep.ts';

export const SWEEP_CRONTAB = '* * * * * presence_sweep ?max=1';

export function taskList(metrics: Metrics | null): TaskList {
  return {
    release_chats: releaseChats,
    presence_sweep: sweepTask(() => metrics?.sweepsInProcess.inc()),
  };
}

export function workerLogger(logger: Logger): WorkerLogger {
  const levels: Record<LogLevel, 'error' | 'warn' | 'info' | 'debug'> = {
    error: 'error',
    warning: 'warn',
    info: 'info',
    debug: 'debug',
  } as Record<LogLevel, 'error' | 'warn' | 'info' | 'debug'>;
  return new WorkerLogger((scope) => (level, message, meta) => {
    logger[levels[level] ?? 'info']({ worker: scope, ...meta }, message);
  });
}

export interface Worker {
  /** Stops taking jobs, waits for running ones, then closes the worker's pool. */
  stop(): Promise<void>;
}

/** Starts the worker on the owner connection; `sweep` adds the every-minute sweep schedule. */
export async function startWorker(options: {
  connectionString: string;
  sweep: boolean;
  logger: Logger;
  metrics: Metrics | null;
}): Promise<Worker> {
  // The worker's pool is ours, not one graphile-worker makes: graphile-worker removes its error listener from a
  // pool of its own while stopping, and a connection the database drops in that moment (a shutdown that reaches
  // the database too, as Ctrl-C does with embedded PostgreSQL) would then crash the process.
  const pgPool = new pg.Pool({ connectionString: options.connectionString, max: 4 });
  const lost = (error: Error) => options.logger.warn({ err: error, component: 'worker' }, 'a worker database connection was lost');
  pgPool.on('error', lost);
  pgPool.on('connect', (client) => client.on('error', lost));
  const runner = await run({
    pgPool,
    concurrency: 2,
    pollInterval: 1_000,
    noHandleSignals: true,
    logger: workerLogger(options.logger.child({ component: 'worker' })),
    taskList: taskList(options.metrics),
    ...(options.sweep ? { crontab: SWEEP_CRONTAB } : { parsedCronItems: [] }),
  }).catch(async (error: unknown) => {
    await pgPool.end();
    throw error;
  });
  return {
    async stop() {
      try {
        await runner.stop();
      } finally {
        await pgPool.end();
      }
    },
  };
}
