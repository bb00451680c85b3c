import { afterAll, describe, expect, inject, it } from 'vitest';
import { DEMO_TENANT, seedDemo } from '../../server/seed.ts';
import { testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

describe('the demo seed', () => {
  it('creates the demo tenant once, with Jordan stuck available on a stale beat holding 2 of 5 chats', async () => {
    // Action
    const first = await seedDemo(inject('databaseUrl'));
    const second = await seedDemo(inject('databaseUrl'));

    // Assertions
    expect(second.created).toBe(false);
    expect(first.signIns.map((s) => s.email)).toContain('jordan.lee@example.com');
    const { rows: tenants } = await db.query('select id from tenants where name = $1', [DEMO_TENANT]);
    expect(tenants).toHaveLength(1);
    const { rows } = await db.query(
      `select a.status, p.status as derived, a.active_chats, a.max_chats, p.seconds_since_seen,
              (select count(*)::int from presence_private.chats c where c.agent_id = a.id and c.status = 'assigned') as chats
         from human_agents a join presence.agent_presence p on p.agent_id = a.id
        where a.tenant_id = $1 and a.email = 'jordan.lee@example.com'`,
      [tenants[0].id],
    );
    const jordan = rows[0];
    if (first.created) {
      expect(jordan).toMatchObject({ status: 'available', derived: 'offline', active_chats: 2, max_chats: 5, chats: 2 });
      expect(jordan.seconds_since_seen).toBeGreaterThanOrEqual(7200);
    }
    const { rows: users } = await db.query(
      'select count(*)::int as n from presence_accounts.users where tenant_id = $1',
      [tenants[0].id],
    );
    expect(users[0].n).toBe(6);
  });
});
