// `presence cron`: which scheduler runs the sweep, its schedule and its recent runs (wherever pg_cron lives); its
// subcommands install and uninstall a pg_cron job in another database.
import type { Command } from 'commander';
import type { Database } from '../../database/handle.ts';
import { sweepScheduler } from '../../../db/sql/sweep-scheduler.ts';
import { databaseUrl, withCronDatabase, withDatabase } from '../database.ts';
import { jsonOption, positiveInt, print, type Output } from '../output.ts';
import { recentRuns } from '../sql/pg-cron.ts';
import { remoteCronJob } from '../sql/remote-cron-job.ts';
import { registerCronInstall } from './cron-install.ts';
import { registerCronUninstall } from './cron-uninstall.ts';

export function registerCron(program: Command): void {
  const cron = program
    .command('cron')
    .description('which scheduler runs the sweep, its schedule and its recent runs (wherever pg_cron lives)')
    .option('--runs <n>', 'how many recent runs to show', positiveInt, 10)
    .addOption(jsonOption())
    .action(async (opts: { runs: number } & Output) => {
      const url = await databaseUrl();
      const result = await withDatabase(async (db) => {
        const s = await sweepScheduler(db);
        const base = {
          scheduler: s.scheduler,
          schedule: s.schedule,
          active: s.active,
          database: s.database_name,
          lastRun: s.last_run_at?.toISOString() ?? null,
        };
        if (s.scheduler !== 'pg_cron') {
          return { ...base, job: 'presence_sweep (graphile-worker cron: npm start, or npx presence worker)', runs: [] };
        }
        const job = s.here ? 'presence-sweep' : ((await remoteCronJob(db))?.job_name ?? '');
        const read = (c: Database) => recentRuns(c, job, opts.runs);
        const rows = s.here ? await read(db) : await withCronDatabase(url, s.database_name, read);
        return {
          ...base,
          job,
          runs: rows.map((r) => ({
            start: r.start_time?.toISOString() ?? null,
            end: r.end_time?.toISOString() ?? null,
            status: r.status,
            message: r.return_message,
          })),
        };
      });
      const lines = [
        `scheduler: ${result.scheduler}${result.scheduler === 'pg_cron' ? ` (database ${result.database})` : ''}`,
        `job:       ${result.job}`,
        `schedule:  '${result.schedule}'${result.active ? '' : ' (paused)'}`,
        `last run:  ${result.lastRun ?? 'never'}`,
      ];
      if (result.scheduler === 'pg_cron') {
        lines.push(result.runs.length ? 'recent runs:' : 'no runs yet');
        for (const r of result.runs) lines.push(`  ${r.start ?? '?'}  ${r.status.padEnd(9)} ${r.message ?? ''}`);
      }
      print(opts, result, lines.join('\n'));
    });
  registerCronInstall(cron);
  registerCronUninstall(cron);
}
