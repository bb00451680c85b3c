// The analysts' daily views, each figure checked against a hand sum: seconds per agent, day of the tenant's time
// zone, status and reason (presence.daily_status_seconds); occupancy per agent and day (presence.daily_occupancy)
// from the chats each agent held (presence_private.chat_holds, kept by a trigger on the chats).
import { afterAll, describe, expect, it } from 'vitest';
import { beat, createAgent, createTenant, testPool, type Queryable } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

type Event = [from: string, to: string, mechanism: string, at: string, reasonId?: string];

/** Writes an agent's past as status events (the owner's fixture; the table is append-only). */
async function writePast(client: Queryable, tenant: string, agent: string, events: Event[]): Promise<void> {
  for (const [from, to, mechanism, at, reasonId] of events) {
    await client.query(
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at, reason_id)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [tenant, agent, from, to, mechanism, at, reasonId ?? null],
    );
  }
}

describe('presence.daily_status_seconds', () => {
  it('sums each status and reason per day of the tenant\'s time zone, a span across midnight split there', async () => {
    // Setup: New York (UTC-5 in January). Local times: 08:00 available, 10:00 away (Lunch), 11:00 available,
    // 23:30 dnd, 01:00 the next day offline.
    const tenant = await createTenant(db, { time_zone: 'America/New_York' });
    const agent = await createAgent(db, tenant);
    const { rows } = await db.query<{ id: string }>('select id from presence.add_reason($1, $2, $3)', [tenant, 'away', 'Lunch']);
    const lunch = rows[0]!.id;
    await writePast(db, tenant, agent, [
      ['offline', 'available', 'heartbeat', '2026-01-10T13:00:00Z'],
      ['available', 'away', 'manual', '2026-01-10T15:00:00Z', lunch],
      ['away', 'available', 'manual', '2026-01-10T16:00:00Z'],
      ['available', 'dnd', 'manual', '2026-01-11T04:30:00Z'],
      ['dnd', 'offline', 'timeout', '2026-01-11T06:00:00Z'],
    ]);

    // Action
    const { rows: days } = await db.query<{ day: string; status: string; reason_label: string | null; seconds: string }>(
      `select to_char(day, 'YYYY-MM-DD') as day, status, reason_label, seconds
         from presence.daily_status_seconds
        where tenant_id = $1 and agent_id = $2 and day between '2026-01-10' and '2026-01-11'
        order by day, status, reason_label nulls first`,
      [tenant, agent],
    );

    // Assertions
    expect(days.map((d) => [d.day, d.status, d.reason_label, Number(d.seconds)])).toEqual([
      ['2026-01-10', 'available', null, 2 * 3600 + 12.5 * 3600], // 08:00-10:00 and 11:00-23:30
      ['2026-01-10', 'away', 'Lunch', 3600], // 10:00-11:00
      ['2026-01-10', 'dnd', null, 1800], // 23:30-24:00
      ['2026-01-11', 'dnd', null, 3600], // 00:00-01:00
      ['2026-01-11', 'offline', null, 23 * 3600], // 01:00-24:00
    ]);
  });
});

describe('presence.agent_day', () => {
  it('gives the status at midnight, the day\'s events with their reason and the totals of the tenant\'s day', async () => {
    // Setup: the same day as above, in New York.
    const tenant = await createTenant(db, { time_zone: 'America/New_York' });
    const agent = await createAgent(db, tenant);
    const { rows } = await db.query<{ id: string }>('select id from presence.add_reason($1, $2, $3)', [tenant, 'away', 'Lunch']);
    const lunch = rows[0]!.id;
    await writePast(db, tenant, agent, [
      ['offline', 'available', 'heartbeat', '2026-01-10T13:00:00Z'],
      ['available', 'away', 'manual', '2026-01-10T15:00:00Z', lunch],
      ['away', 'available', 'manual', '2026-01-10T16:00:00Z'],
      ['available', 'dnd', 'manual', '2026-01-11T04:30:00Z'],
      ['dnd', 'offline', 'timeout', '2026-01-11T06:00:00Z'],
    ]);

    // Action
    const { rows: days } = await db.query('select * from presence.agent_day($1, $2, $3)', [tenant, agent, '2026-01-11']);
    const { rows: first } = await db.query('select * from presence.agent_day($1, $2, $3)', [tenant, agent, '2026-01-10']);

    // Assertions
    expect(days[0]).toMatchObject({
      time_zone: 'America/New_York',
      range_from: new Date('2026-01-11T05:00:00Z'),
      range_to: new Date('2026-01-12T05:00:00Z'),
      status_at_start: 'dnd',
      events: [{ from: 'dnd', to: 'offline', mechanism: 'timeout', reason: null, actor: null }],
      totals: [
        { status: 'dnd', reason: null, seconds: 3600 },
        { status: 'offline', reason: null, seconds: 23 * 3600 },
      ],
    });
    expect(first[0].status_at_start).toBe('offline');
    expect(first[0].events.map((e: { to: string; reason: { label: string } | null }) => [e.to, e.reason?.label ?? null])).toEqual([
      ['available', null],
      ['away', 'Lunch'],
      ['available', null],
      ['dnd', null],
    ]);
    expect(first[0].totals).toEqual([
      { status: 'available', reason: null, seconds: 14.5 * 3600 },
      { status: 'away', reason: { id: lunch, label: 'Lunch' }, seconds: 3600 },
      { status: 'dnd', reason: null, seconds: 1800 },
    ]);
  });
});

describe('presence.daily_occupancy', () => {
  it('counts seconds available, available with no free capacity and the average chats held while available', async () => {
    // Setup: available 09:00-17:00 UTC with room for 2 chats; chat A held 10:00-12:00, B 11:00-13:00, C 16:00-18:00.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant, { maxChats: 2 });
    await writePast(db, tenant, agent, [
      ['offline', 'available', 'heartbeat', '2026-01-12T09:00:00Z'],
      ['available', 'offline', 'logout', '2026-01-12T17:00:00Z'],
    ]);
    await db.query(
      `insert into presence_private.chat_holds (chat_id, tenant_id, agent_id, held_from, held_until)
       values (gen_random_uuid(), $1, $2, '2026-01-12T10:00:00Z', '2026-01-12T12:00:00Z'),
              (gen_random_uuid(), $1, $2, '2026-01-12T11:00:00Z', '2026-01-12T13:00:00Z'),
              (gen_random_uuid(), $1, $2, '2026-01-12T16:00:00Z', '2026-01-12T18:00:00Z')`,
      [tenant, agent],
    );

    // Action
    const { rows } = await db.query<{ available_seconds: string; available_full_seconds: string; average_chats_available: string }>(
      `select available_seconds, available_full_seconds, average_chats_available
         from presence.daily_occupancy where tenant_id = $1 and agent_id = $2 and day = '2026-01-12'`,
      [tenant, agent],
    );

    // Assertions: held while available: 1 chat 10-11, 2 chats 11-12, 1 chat 12-13, 1 chat 16-17: 5 chat-hours in 8 hours.
    expect(rows.map((r) => [Number(r.available_seconds), Number(r.available_full_seconds), Number(r.average_chats_available)])).toEqual([
      [8 * 3600, 3600, 5 / 8],
    ]);
  });

  it('holds are recorded from assignment to close by the chats\' own writers', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant, { maxChats: 1 });
    await beat(db, tenant, agent, 'tab-1');
    const { rows: opened } = await db.query<{ id: string }>('select presence.open_chat($1) as id', [tenant]);
    const chat = opened[0]!.id;

    // Action
    await db.query('select * from presence.assign_chat($1)', [tenant]);
    const { rows: during } = await db.query('select held_until from presence_private.chat_holds where chat_id = $1', [chat]);
    await db.query('select presence.close_chat($1, $2)', [tenant, chat]);
    const { rows: after } = await db.query<{ agent_id: string; closed: boolean }>(
      `select h.agent_id, h.held_until is not null and h.held_from = c.assigned_at as closed
         from presence_private.chat_holds h, presence_private.chats c where h.chat_id = $1 and c.id = $1`,
      [chat],
    );

    // Assertions
    expect(during).toEqual([{ held_until: null }]);
    expect(after).toEqual([{ agent_id: agent, closed: true }]);
  });
});
