// `presence cron uninstall`: the pg_cron job that `cron install` made in another database removed, and its record.
import type { Command } from 'commander';
import { databaseUrl, withCronDatabase, withDatabase } from '../database.ts';
import { jsonOption, print, type Output } from '../output.ts';
import { unscheduleJob } from '../sql/pg-cron.ts';
import { forgetRemoteCronJob, remoteCronJob } from '../sql/remote-cron-job.ts';

export function registerCronUninstall(cron: Command): void {
  cron
    .command('uninstall')
    .description('remove the pg_cron job that sweeps this database from another database (the worker takes over)')
    .addOption(jsonOption())
    .action(async (opts: Output) => {
      const url = await databaseUrl();
      const result = await withDatabase(async (db) => {
        const remote = await remoteCronJob(db);
        if (!remote) throw new Error('no pg_cron job in another database sweeps this one');
        await withCronDatabase(url, remote.database_name, (c) => unscheduleJob(c, remote.job_name));
        await forgetRemoteCronJob(db);
        return { job: remote.job_name, database: remote.database_name };
      });
      print(opts, result, `removed pg_cron job ${result.job} from database ${result.database}`);
    });
}
