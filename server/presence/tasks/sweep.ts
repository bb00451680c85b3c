// graphile-worker task presence_sweep, every minute: the fallback schedule of presence.sweep_stale_agents() where
// pg_cron does not sweep this database. It asks presence.sweep_scheduler() first, in the same statement, so it stands
// down the moment a pg_cron job exists (here, or in another database after `npx presence cron install`): never both.
import type { Task } from 'graphile-worker';

export function sweepTask(onSwept: (agents: number) => void): Task {
  return async (_payload, helpers) => {
    const { rows } = await helpers.query<{ swept: number | null }>(
      `select case when (select s.scheduler from presence.sweep_scheduler() s) = 'graphile-worker'
                   then presence.sweep_stale_agents() end as swept`,
    );
    const swept = rows[0]!.swept;
    if (swept === null) return;
    if (swept > 0) helpers.logger.info(`fallback sweep took ${swept} agents offline`);
    onSwept(swept);
  };
}
