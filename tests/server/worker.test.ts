import { runOnce } from 'graphile-worker';
import { pino } from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createMetrics } from '../../server/metrics.ts';
import { taskList, workerLogger } from '../../server/worker.ts';
import { agentRow, createAgent, createTenant, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

describe('the in-process worker', () => {
  it('its fallback sweep task takes a silent agent offline (reason timeout) and counts the sweep', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await db.query(`select presence.heartbeat($1, $2, 'tab-1')`, [tenant, agent]);
    await silenceAgent(db, agent, 600);
    await db.query(`select graphile_worker.add_job('presence_sweep', '{}'::json)`);
    const metrics = createMetrics(async () => null);

    // Action
    await runOnce({
      connectionString: inject('databaseUrl'),
      taskList: taskList(metrics),
      logger: workerLogger(pino({ level: 'silent' })),
    });

    // Assertions
    expect(await agentRow(db, agent)).toMatchObject({ status: 'offline', status_reason: 'timeout' });
    expect((await metrics.sweepsInProcess.get()).values[0]!.value).toBeGreaterThanOrEqual(1);
  });
});
