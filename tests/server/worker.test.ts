// The presence worker's fallback sweep: it sweeps where no pg_cron job does, and stands down the moment one exists
// (here or in another database), so the two never both sweep.
import { Logger, runOnce } from 'graphile-worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../db/migrate.ts';
import { presenceTaskList } from '../../server/presence/worker.ts';
import { scratchDatabase } from '../helpers/db.ts';

const silent = new Logger(() => () => {});
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let db: pg.Pool;

beforeAll(async () => {
  // A database of its own, where pg_cron cannot be created (cron.database_name names the test database): the
  // worker's schedule is the one that sweeps it.
  scratch = await scratchDatabase('worker');
  await migrate(scratch.url);
  db = new pg.Pool({ connectionString: scratch.url, max: 2 });
}, 60_000);
afterAll(async () => {
  await db.end();
  await scratch.drop();
});

async function silentAgent(): Promise<string> {
  const tenant = (await db.query<{ id: string }>(`insert into tenants (name) values ('t') returning id`)).rows[0]!.id;
  const agent = (
    await db.query<{ id: string }>(`insert into human_agents (tenant_id, name, email) values ($1, 'A', 'a@example.com') returning id`, [tenant])
  ).rows[0]!.id;
  await db.query(`select presence.heartbeat($1, $2, 'tab-1')`, [tenant, agent]);
  await db.query(`update human_agents set last_seen = last_seen - interval '10 minutes' where id = $1`, [agent]);
  return agent;
}

async function runSweepTask(): Promise<number[]> {
  const swept: number[] = [];
  await db.query(`select graphile_worker.add_job('presence_sweep', '{}'::json)`);
  await runOnce({ connectionString: scratch.url, taskList: presenceTaskList((n) => swept.push(n)), logger: silent });
  return swept;
}

describe('the worker fallback sweep', () => {
  it('takes a silent agent offline (reason timeout) where graphile-worker is the scheduler', async () => {
    // Setup
    const agent = await silentAgent();
    expect((await db.query('select scheduler from presence.sweep_scheduler()')).rows[0].scheduler).toBe('graphile-worker');

    // Action
    const swept = await runSweepTask();

    // Assertions
    expect(swept).toEqual([1]);
    const { rows } = await db.query('select status, status_reason from human_agents where id = $1', [agent]);
    expect(rows[0]).toEqual({ status: 'offline', status_reason: 'timeout' });
  });

  it('stands down once a pg_cron job in another database sweeps this one', async () => {
    // Setup
    const agent = await silentAgent();
    await db.query(
      `insert into presence_private.remote_cron_job (database_name, job_name, schedule) values ('postgres', 'presence-sweep:x', '* * * * *')`,
    );

    // Action
    const swept = await runSweepTask();
    await db.query('delete from presence_private.remote_cron_job');

    // Assertions
    expect(swept).toEqual([]);
    const { rows } = await db.query('select status from human_agents where id = $1', [agent]);
    expect(rows[0].status).toBe('available');
  });
});
