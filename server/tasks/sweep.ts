// graphile-worker task presence_sweep: the fallback schedule of presence.sweep_stale_agents() where pg_cron is
// unavailable (presence.sweep_scheduler() says graphile-worker). Never scheduled beside pg_cron.
import type { Task } from 'graphile-worker';

export function sweepTask(onSwept: (agents: number) => void): Task {
  return async (_payload, helpers) => {
    const { rows } = await helpers.query<{ swept: number }>('select presence.sweep_stale_agents() as swept');
    onSwept(rows[0]!.swept);
  };
}
