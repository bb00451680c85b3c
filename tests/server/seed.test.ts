// The demo tenant npm start seeds on first run, in a database of its own (so this test always sees the first seed):
// Jordan's ghost story as the README tells it, in the history and in the analyst's hours query.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TENANT, seedDemo } from '../../server/seed.ts';
import { migratedScratchDatabase } from '../helpers/db.ts';

let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
let db: pg.Pool;

beforeAll(async () => {
  scratch = await migratedScratchDatabase('seed');
  db = scratch.db;
}, 60_000);
afterAll(() => scratch.drop());

/** The README's "hours available per agent per day, last 7 days", as an analyst runs it. */
const HOURS_QUERY = `select a.name, t.day, round(t.seconds / 3600.0, 1) as hours
  from presence.time_in_status t join human_agents a on a.id = t.agent_id
 where t.status = 'available' and t.day > current_date - 7 order by a.name, t.day`;

describe('the demo seed', () => {
  it('creates the demo tenant once, with Jordan stuck available on a stale beat holding 2 of 5 chats', async () => {
    // Action
    const first = await seedDemo(scratch.url);
    const second = await seedDemo(scratch.url);

    // Assertions
    expect([first.created, second.created]).toEqual([true, false]);
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
    expect(rows[0]).toMatchObject({ status: 'available', derived: 'offline', active_chats: 2, max_chats: 5, chats: 2 });
    expect(rows[0].seconds_since_seen).toBeGreaterThanOrEqual(7200);
    const { rows: users } = await db.query('select count(*)::int as n from presence_accounts.users where tenant_id = $1', [
      tenants[0].id,
    ]);
    expect(users[0].n).toBe(6);
  });

  it('tells Jordan\'s ghost story in the history: available from 2 h 2 min ago, offline at last seen + offline_after_s, chats back in the queue', async () => {
    // Setup: the seed above, then the first sweep as pg_cron runs it.
    const { rows: agents } = await db.query(
      `select a.id, a.last_seen from human_agents a join tenants t on t.id = a.tenant_id
        where t.name = $1 and a.email = 'jordan.lee@example.com'`,
      [DEMO_TENANT],
    );
    const jordan = agents[0] as { id: string; last_seen: Date };

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    const { rows: events } = await db.query(
      `select from_status, to_status, mechanism, extract(epoch from $2::timestamptz - at)::int as seconds_before_last_seen
         from presence.status_events where agent_id = $1 order by at, id`,
      [jordan.id, jordan.last_seen],
    );
    expect(events).toEqual([
      // Jordan's morning, from the seed's day: in at 8 h 40 min ago, lunch, out at 4 h 10 min ago.
      { from_status: 'offline', to_status: 'available', mechanism: 'heartbeat', seconds_before_last_seen: 24_000 },
      { from_status: 'available', to_status: 'away', mechanism: 'manual', seconds_before_last_seen: 16_800 },
      { from_status: 'away', to_status: 'available', mechanism: 'expiry', seconds_before_last_seen: 15_000 },
      { from_status: 'available', to_status: 'offline', mechanism: 'logout', seconds_before_last_seen: 7_800 },
      { from_status: 'offline', to_status: 'available', mechanism: 'heartbeat', seconds_before_last_seen: 120 },
      { from_status: 'available', to_status: 'offline', mechanism: 'timeout', seconds_before_last_seen: -90 },
    ]);
    const { rows: chats } = await db.query(
      `select (select active_chats from human_agents where id = $1) as active_chats,
              (select count(*)::int from presence_private.chats where agent_id = $1) as held`,
      [jordan.id],
    );
    expect(chats[0]).toEqual({ active_chats: 0, held: 0 });
    const { rows: seconds } = await db.query(
      `select sum(seconds)::int as available from presence.time_in_status where agent_id = $1 and status = 'available'`,
      [jordan.id],
    );
    // Two hours before lunch, two after it, and 210 s on the vanished browser.
    expect(seconds[0].available).toBe(4 * 3600 + 210);
    const { rows: hours } = await db.query(HOURS_QUERY);
    expect(hours.map((h) => h.name)).toContain('Jordan Lee');
  });

  it('gives the demo team its reasons and a working day on the record: reasons, lunches that ended, Morgan\'s overrides', async () => {
    // Setup
    const { rows: tenants } = await db.query('select id from tenants where name = $1', [DEMO_TENANT]);
    const tenantId = tenants[0].id as string;

    // Action
    const { rows: reasons } = await db.query(
      'select status, label, default_duration_s from presence.reasons where tenant_id = $1 order by status, position',
      [tenantId],
    );
    const { rows: events } = await db.query(
      `select a.email, e.from_status, e.to_status, e.mechanism, r.label, e.actor_name,
              lag(e.to_status) over (partition by e.agent_id order by e.at, e.id) as before
         from presence.status_events e join human_agents a on a.id = e.agent_id
         left join presence.reasons r on r.id = e.reason_id
        where e.tenant_id = $1 order by e.agent_id, e.at, e.id`,
      [tenantId],
    );

    // Assertions
    expect(reasons).toEqual([
      { status: 'away', label: 'Lunch', default_duration_s: 1800 },
      { status: 'away', label: 'Meeting', default_duration_s: null },
      { status: 'away', label: 'Training', default_duration_s: null },
      { status: 'dnd', label: 'Focus', default_duration_s: 3600 },
      { status: 'offline', label: 'End of shift', default_duration_s: null },
    ]);
    // Every event leaves from where the one before it arrived (the first from offline).
    for (const e of events) expect(e.from_status).toBe(e.before ?? 'offline');
    const overrides = events.filter((e) => e.mechanism === 'supervisor');
    expect(overrides).toHaveLength(2);
    expect(overrides).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ email: 'priya.patel@example.com', to_status: 'away', label: 'Training', actor_name: 'Morgan Supervisor' }),
        expect.objectContaining({ email: 'chen.wu@example.com', from_status: 'dnd', to_status: 'available', actor_name: 'Morgan Supervisor' }),
      ]),
    );
    expect(events.filter((e) => e.mechanism === 'expiry').length).toBeGreaterThanOrEqual(5);
    expect(new Set(events.map((e) => e.email)).size).toBe(5);
  });
});
