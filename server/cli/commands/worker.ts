// `presence worker`: presence's graphile-worker tasks on their own (release_chats; the fallback sweep when pg_cron
// does not sweep) until asked to stop.
import type { Command } from 'commander';
import { pino } from 'pino';
import { loadConfig } from '../../config.ts';
import { startPresenceWorker } from '../../presence/worker.ts';
import { onStopRequest } from '../../stop-request.ts';
import { databaseUrl } from '../database.ts';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description("run presence's graphile-worker tasks (release_chats; the fallback sweep when pg_cron does not sweep) until Ctrl-C")
    .action(async () => {
      const url = await databaseUrl();
      const logger = pino({ level: loadConfig().logLevel });
      const worker = await startPresenceWorker({ connectionString: url, logger });
      console.log('presence worker running (release_chats, presence_sweep fallback); Ctrl-C or SIGTERM stops it');
      // SIGINT or SIGTERM to this process or to npx's (which leaves this one orphaned: server/stop-request.ts); a
      // second request exits at once.
      let stopping = false;
      const reason = await new Promise<string>((resolve) =>
        onStopRequest((why) => {
          if (stopping) process.exit(1);
          stopping = true;
          resolve(why);
        }),
      );
      logger.info({ reason }, 'shutting down');
      await worker.stop();
      logger.info('stopped');
    });
}
