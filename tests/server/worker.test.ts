// The presence worker's fallback sweep: it sweeps where no pg_cron job does, and stands down the moment one exists
// (here or in another database), so the two never both sweep.
import { Logger, runOnce } from 'graphile-worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { presenceTaskList, startPresenceWorker } from '../../server/presence/worker.ts';
import { migratedScratchDatabase } from '../helpers/db.ts';
import { signalStarted, startCommand } from '../helpers/npm.ts';

const silent = new Logger(() => () => {});
let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
let db: pg.Pool;

beforeAll(async () => {
  // A database of its own, where pg_cron cannot be created (cron.database_name names the test database): the
  // worker's schedule is the one that sweeps it.
  scratch = await migratedScratchDatabase('worker');
  db = scratch.db;
}, 60_000);
afterAll(() => scratch.drop());

async function silentAgent(): Promise<string> {
  const tenant = (await db.query<{ id: string }>(`insert into tenants (name) values ('t') returning id`)).rows[0]!.id;
  const agent = (
    await db.query<{ id: string }>(`insert into human_agents (tenant_id, name, email) values ($1, 'A', 'a@example.com') returning id`, [tenant])
  ).rows[0]!.id;
  await db.query(`select presence.heartbeat($1, $2, 'tab-1')`, [tenant, agent]);
  await db.query(`update presence_private.agent_state set last_seen = last_seen - interval '10 minutes' where agent_id = $1`, [
    agent,
  ]);
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
    const { rows } = await db.query(
      `select h.status, s.status_mechanism from human_agents h join presence_private.agent_state s on s.agent_id = h.id
        where h.id = $1`,
      [agent],
    );
    expect(rows[0]).toEqual({ status: 'offline', status_mechanism: 'timeout' });
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

  it('logs a sweep that took agents offline at info, and a job that only succeeded at debug', async () => {
    // Setup: the worker as a host runs it, logging to a capture; one job that sweeps a silent agent, then one that
    // stands down because a pg_cron job sweeps (what every worker does every minute beside pg_cron).
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const worker = await startPresenceWorker({ connectionString: scratch.url, logger });
    const jobDone = async (id: string) => {
      for (let i = 0; i < 200; i++) {
        if ((await db.query('select 1 from graphile_worker.jobs where id = $1', [id])).rowCount === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`job ${id} did not complete within 5 s`);
    };
    const addSweepJob = async () =>
      (await db.query<{ id: string }>(`select id from graphile_worker.add_job('presence_sweep', '{}'::json)`)).rows[0]!.id;
    try {
      await db.query('select presence.sweep_stale_agents()'); // agents the tests above left silent
      await silentAgent();

      // Action
      await jobDone(await addSweepJob());
      await db.query(
        `insert into presence_private.remote_cron_job (database_name, job_name, schedule) values ('postgres', 'presence-sweep:x', '* * * * *')`,
      );
      await jobDone(await addSweepJob());
      await db.query('delete from presence_private.remote_cron_job');
    } finally {
      await worker.stop();
    }

    // Assertions
    const info = lines.filter((l) => l.level >= 30).map((l) => l.msg);
    expect(info.filter((m) => m.startsWith('fallback sweep'))).toEqual(['fallback sweep took 1 agents offline']);
    expect(info.filter((m) => m.startsWith('Completed task'))).toEqual([]);
    const completed = lines.filter((l) => l.msg.startsWith('Completed task') && l.msg.includes('presence_sweep'));
    expect(completed.map((l) => l.level)).toEqual([20, 20]);
  });
});

describe('npx presence worker, signalled by the pid that was started', () => {
  it('stops on SIGTERM to npx\'s pid: the worker stops, logs "stopped" and leaves no process running', async () => {
    // Setup: npx runs `sh -c 'presence' worker` and the shell forks node: the signal ends the shell alone.
    const started = await startCommand('npx', ['presence', 'worker'], { DATABASE_URL: scratch.url }, /Worker connected/);

    // Action
    const { outputClosed, leftRunning } = await signalStarted(started, 'SIGTERM', 15_000);

    // Assertions
    expect(outputClosed, started.output()).toBe(true);
    expect(leftRunning).toEqual([]);
    expect(started.output()).toMatch(/"reason":"parent exited","msg":"shutting down"/);
    expect(started.output().trimEnd()).toMatch(/"msg":"stopped"}$/);
  }, 120_000);

  it('stops on SIGINT to its own pid (what `exec` in a supervisor\'s command gives): logs "stopped", exits 0', async () => {
    // Setup
    const started = await startCommand(process.execPath, ['server/cli/bin.js', 'worker'], { DATABASE_URL: scratch.url }, /Worker connected/);

    // Action
    const { code, outputClosed, leftRunning } = await signalStarted(started, 'SIGINT', 15_000);

    // Assertions
    expect(code, started.output()).toBe(0);
    expect(outputClosed).toBe(true);
    expect(leftRunning).toEqual([]);
    expect(started.output()).toMatch(/"reason":"SIGINT","msg":"shutting down"/);
    expect(started.output().trimEnd()).toMatch(/"msg":"stopped"}$/);
  }, 120_000);
});
