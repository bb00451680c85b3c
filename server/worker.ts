// graphile-worker, in the server process: the release_chats jobs that SQL enqueues, and the sweep's cron
// schedule when pg_cron is not there to run it.
import { Logger as WorkerLogger, run, type LogLevel, type Runner, type TaskList } from 'graphile-worker';
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

/** Starts the worker on the owner connection; `sweep` adds the every-minute sweep schedule. */
export async function startWorker(options: {
  connectionString: string;
  sweep: boolean;
  logger: Logger;
  metrics: Metrics | null;
}): Promise<Runner> {
  return run({
    connectionString: options.connectionString,
    concurrency: 2,
    pollInterval: 1_000,
    noHandleSignals: true,
    logger: workerLogger(options.logger.child({ component: 'worker' })),
    taskList: taskList(options.metrics),
    ...(options.sweep ? { crontab: SWEEP_CRONTAB } : { parsedCronItems: [] }),
  });
}
