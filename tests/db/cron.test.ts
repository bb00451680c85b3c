import { afterAll, describe, expect, it } from 'vitest';
import { agentRow, beat, createAgent, createTenant, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

describe('the presence-sweep pg_cron job', () => {
  it('is scheduled every minute with pg_cron 1.4 (every 10 seconds from 1.5 on) to run the sweep', async () => {
    const { rows } = await db.query(
      `select j.schedule, j.command, j.active, j.database, e.extversion
         from cron.job j, pg_extension e where j.jobname = 'presence-sweep' and e.extname = 'pg_cron'`,
    );
    expect(rows).toHaveLength(1);
    const [major, minor] = (rows[0].extversion as string).split(/[.-]/).map(Number);
    expect(rows[0]).toMatchObject({
      schedule: major! > 1 || minor! >= 5 ? '10 seconds' : '* * * * *',
      command: 'select presence.sweep_stale_agents()',
      active: true,
      database: 'presence',
    });
    const scheduler = await db.query('select scheduler, schedule, active, database_name from presence.sweep_scheduler()');
    expect(scheduler.rows).toEqual([{ scheduler: 'pg_cron', schedule: rows[0].schedule, active: true, database_name: 'presence' }]);
  });

  it('really runs: a stale agent is swept offline by pg_cron and the run is recorded as succeeded', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await silenceAgent(db, agent, 600);
    const { rows: started } = await db.query<{ now: Date }>('select clock_timestamp() as now');

    // Action: wait for the next run (at most a minute with pg_cron 1.4).
    let run: { status: string; return_message: string } | undefined;
    for (let waited = 0; waited < 80_000 && !run; waited += 1_000) {
      await new Promise((r) => setTimeout(r, 1_000));
      const { rows } = await db.query(
        `select d.status, d.return_message from cron.job_run_details d join cron.job j using (jobid)
          where j.jobname = 'presence-sweep' and d.start_time > $1 and d.status in ('succeeded', 'failed')
          order by d.start_time limit 1`,
        [started[0]!.now],
      );
      run = rows[0];
    }

    // Assertions
    expect(run).toMatchObject({ status: 'succeeded' });
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'timeout' });
    const { rows: facts } = await db.query<{ last_run_at: Date; runs: string }>(
      'select s.last_run_at, presence.sweep_runs() as runs from presence.sweep_scheduler() s',
    );
    expect(facts[0]!.last_run_at.getTime()).toBeGreaterThanOrEqual(started[0]!.now.getTime());
    expect(Number(facts[0]!.runs)).toBeGreaterThan(0);
  }, 90_000);
});
