// presence.timeouts_due: what a server's stream hub asks at a tenant's liveness deadline. The timeouts the liveness
// rule made since the tenant was last asked that no sweep has recorded (no event announces them), once each, and
// when the tenant should be asked again.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { beat, createAgent, createTenant, inTransaction, silenceAgent, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

interface Answer {
  tenant_id: string;
  checked_at: Date;
  next_check_at: Date | null;
  timeouts: Array<Record<string, unknown>>;
}

const ask = (q: { query: typeof db.query }, tenants: string[], after: Array<Date | null>) =>
  q.query<Answer>('select * from presence.timeouts_due($1, $2::timestamptz[])', [tenants, after]);

describe('presence.timeouts_due', () => {
  it('names a timeout readers see and no sweep recorded, once, with the tenant\'s next deadline', async () => {
    // Setup
    const tenant = await createTenant(db);
    const ada = await createAgent(db, tenant);
    const bob = await createAgent(db, tenant);
    await beat(db, tenant, ada, 'tab-1');
    await beat(db, tenant, bob, 'tab-1');

    const { first, again, expected } = await inTransaction(db, async (tx) => {
      // Ada fell silent ten minutes ago (in the same transaction as the questions, so no sweep records it between)
      await silenceAgent(tx as unknown as pg.Pool, ada, 600);

      // Action
      const first = (await ask(tx, [tenant], [null])).rows;
      const again = (await ask(tx, [tenant], [first[0]!.checked_at])).rows;
      const expected = (
        await tx.query(
          `select a.offline_at as ada_at, b.offline_at + interval '100 ms' as next
             from presence.agent_presence a, presence.agent_presence b where a.agent_id = $1 and b.agent_id = $2`,
          [ada, bob],
        )
      ).rows[0];
      return { first, again, expected };
    });

    // Assertions
    expect(first).toHaveLength(1);
    expect(first[0]!.timeouts).toEqual([
      { tenant, agent: ada, from: 'available', to: 'offline', chosen: 'available', mechanism: 'timeout', reason: null, actor: null, until: null, at: expect.any(String) },
    ]);
    // Dated as the sweep would record it: when she went offline.
    expect(new Date(first[0]!.timeouts[0]!.at as string).getTime()).toBe(expected.ada_at.getTime());
    expect(first[0]!.next_check_at).toEqual(expected.next);
    expect(again[0]!.timeouts).toEqual([]);
  });

  it('leaves out agents recorded offline, and tenants that do not exist', async () => {
    // Setup: Ada beat and left (recorded offline); her tab's beat is ten minutes old too
    const tenant = await createTenant(db);
    const ada = await createAgent(db, tenant);
    await beat(db, tenant, ada, 'tab-1');
    await db.query(`select presence.end_session($1, $2, 'tab-1', 'left')`, [tenant, ada]);
    await silenceAgent(db, ada, 600);

    // Action
    const { rows } = await ask(db, [tenant, randomUUID()], [null, null]);

    // Assertions: one row, no timeout, and no deadline (nobody reads live)
    expect(rows).toEqual([{ tenant_id: tenant, checked_at: expect.any(Date), next_check_at: null, timeouts: [] }]);
  });

  it('refuses arrays of different lengths, naming both', async () => {
    // Action
    const refused = ask(db, [randomUUID()], []);

    // Assertions
    await expect(refused).rejects.toMatchObject({ code: 'PRUSR', message: expect.stringMatching(/got 1 and 0/) });
  });
});
