// The background part of presence, on graphile-worker: the release_chats jobs that SQL enqueues, and the sweep's
// every-minute fallback where pg_cron does not sweep. Runs in the host's process (startPresenceWorker) or alone
// (`npx presence worker`). It connects as the database owner: release_chats and the sweep are owner-only.
import { Logger as WorkerLogger, run, type LogLevel, type TaskList } from 'graphile-worker';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { releaseChats } from './tasks/release-chats.ts';
import { sweepTask } from './tasks/sweep.ts';

export const SWEEP_CRONTAB = '* * * * * presence_sweep ?max=1';

/** The graphile-worker tasks of presence, for a platform that runs graphile-worker already. */
export function presenceTaskList(onSwept: (agents: number) => void = () => {}): TaskList {
  return { release_chats: releaseChats, presence_sweep: sweepTask(onSwept) };
}

function workerLogger(logger: Logger): WorkerLogger {
  const levels: Partial<Record<LogLevel, 'error' | 'warn' | 'info' | 'debug'>> = {
    error: 'error',
    warning: 'warn',
    info: 'info',
    debug: 'debug',
  };
  // A job that succeeded is a debug line: graphile-worker writes one at info per job, and the fallback sweep's job runs
  // every minute in every worker even while pg_cron sweeps (1,440 lines a day of "Completed task ... presence_sweep").
  // The tasks log what they did themselves; failures stay at error.
  return new WorkerLogger((scope) => (level, message, meta) => {
    const pinoLevel = level === 'info' && meta?.success === true ? 'debug' : (levels[level] ?? 'info');
    logger[pinoLevel]({ worker: scope, ...meta }, message);
  });
}

export interface PresenceWorker {
  /** Stops taking jobs, waits for running ones, then closes the worker's pool. */
  stop(): Promise<void>;
}

export interface PresenceWorkerOptions {
  /** The database owner's URL (the role that ran the migrations). */
  connectionString: string;
  logger?: Logger;
  /** Called after each fallback sweep with how many agents it took offline. */
  onSwept?: (agents: number) => void;
  concurrency?: number;
}

/** Starts the presence worker; its fallback sweep runs only while presence.sweep_scheduler() names graphile-worker. */
export async function startPresenceWorker(options: PresenceWorkerOptions): Promise<PresenceWorker> {
  const logger = (options.logger ?? pino({ level: 'info' })).child({ component: 'worker' });
  // The worker's pool is ours, not one graphile-worker makes: graphile-worker removes its error listener from a
  // pool of its own while stopping, and a connection the database drops in that moment (a shutdown that reaches
  // the database too, as Ctrl-C does with embedded PostgreSQL) would then crash the process.
  const pgPool = new pg.Pool({ connectionString: options.connectionString, max: 4, application_name: 'presence-worker' });
  const lost = (error: Error) => logger.warn({ reason: error.message }, 'a worker database connection was lost');
  pgPool.on('error', lost);
  pgPool.on('connect', (client) => client.on('error', lost));
  const runner = await run({
    pgPool,
    concurrency: options.concurrency ?? 2,
    pollInterval: 1_000,
    noHandleSignals: true,
    logger: workerLogger(logger),
    taskList: presenceTaskList(options.onSwept),
    crontab: SWEEP_CRONTAB,
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
