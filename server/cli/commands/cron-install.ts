// `presence cron install`: the sweep scheduled with pg_cron, in the server's pg_cron database, for this database.
import type { Command } from 'commander';
import { databaseUrl, withCronDatabase, withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import { cronDatabase, pgCronCreated, scheduleSweepHere, scheduleSweepIn } from '../sql/pg-cron.ts';
import { recordRemoteCronJob } from '../sql/remote-cron-job.ts';

export function registerCronInstall(cron: Command): void {
  cron
    .command('install')
    .description("schedule the sweep with pg_cron in the server's pg_cron database (cron.database_name), for this database")
    .option('--schedule <cron>', "pg_cron schedule ('* * * * *', or '10 seconds' with pg_cron >= 1.5)", '* * * * *')
    .addOption(jsonOption())
    .action(async (opts: { schedule: string } & Output) => {
      const url = await databaseUrl();
      const result = await withDatabase(async (db) => {
        const { cronDb, here } = await cronDatabase(db);
        if (!cronDb) {
          throw new Error(
            'pg_cron is not loaded on this server (shared_preload_libraries), or lives in a database this role cannot name ' +
              '(cron.database_name is readable with pg_read_all_settings only); the server process sweeps with graphile-worker instead',
          );
        }
        const job = cronDb === here ? 'presence-sweep' : `presence-sweep:${here}`;
        if (cronDb === here) {
          await scheduleSweepHere(db, opts.schedule);
        } else {
          await withCronDatabase(url, cronDb, async (c) => {
            if (!(await pgCronCreated(c))) throw new Error(`pg_cron is not created in database ${cronDb}: create extension pg_cron there first`);
            await scheduleSweepIn(c, job, opts.schedule, here);
          });
          await recordRemoteCronJob(db, cronDb, job, opts.schedule);
        }
        return { job, database: cronDb, schedule: opts.schedule, sweeps: here };
      });
      print(opts, result, `pg_cron job ${result.job} in database ${result.database} sweeps database ${result.sweeps}, schedule '${result.schedule}'`);
    });
}
