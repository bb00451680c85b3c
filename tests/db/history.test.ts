// History exact to the liveness rule: every reader sees an agent offline from last_seen + offline_after_s on, so the
// history records the timeout at that moment, whoever notices it first (a beat, a status change, a closed tab,
// the sweep), and the reports (time_in_status, agent_history) count the gap as offline.
import { afterAll, describe, expect, it } from 'vitest';
import {
  beat,
  beats,
  createAgent,
  createAgentWithPast,
  createTenant,
  endSignIn,
  inTransaction,
  testPool,
  type Queryable,
} from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

const OFFLINE_AFTER_MS = 90_000; // the default offline_after_s

interface Event {
  from_status: string;
  to_status: string;
  mechanism: string;
  at: Date;
}

async function timeline(client: Queryable, agent: string): Promise<Event[]> {
  const { rows } = await client.query<Event>(
    'select from_status, to_status, mechanism, at from presence.status_events where agent_id = $1 order by at, id',
    [agent],
  );
  return rows;
}

/** An agent that came online 1000 s ago and went silent 600 s ago: readers have seen it offline for 510 s. */
const SILENT = { onlineForS: 1000, silentForS: 600 };

describe('a beat that finds its agent silent', () => {
  it('records a timeout at last_seen + offline_after_s, then the heartbeat that brings the agent back', async () => {
    // Setup / Action: in one transaction, so that no sweep notices the agent first.
    const tenant = await createTenant(db);
    const { agentId, lastSeen, result } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, SILENT);
      return { ...past, result: await beat(client, tenant, past.agentId, 'tab') };
    });

    // Assertions
    expect(result.status).toBe('available');
    const events = await timeline(db, agentId);
    expect(events.map((e) => `${e.from_status}>${e.to_status}/${e.mechanism}`)).toEqual([
      'offline>available/heartbeat',
      'available>offline/timeout',
      'offline>available/heartbeat',
    ]);
    expect(events[1]!.at.getTime()).toBe(lastSeen.getTime() + OFFLINE_AFTER_MS);
    expect(events[2]!.at.getTime()).toBe(result.last_seen.getTime());
  });

  it('in a batch (presence.heartbeats) records the same timeout before the beat', async () => {
    // Setup / Action
    const tenant = await createTenant(db);
    const { agentId, lastSeen, result } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, { ...SILENT, signIn: 'sign-in-1' });
      const [row] = await beats(client, [{ tenantId: tenant, agentId: past.agentId, tabId: 'tab', signIn: 'sign-in-1' }]);
      return { ...past, result: row! };
    });

    // Assertions
    expect(result.status).toBe('available');
    const events = await timeline(db, agentId);
    expect(events.slice(1).map((e) => [e.mechanism, e.at.getTime()])).toEqual([
      ['timeout', lastSeen.getTime() + OFFLINE_AFTER_MS],
      ['heartbeat', result.last_seen.getTime()],
    ]);
  });

  it('makes presence.time_in_status and presence.agent_history count the silent gap as offline', async () => {
    // Setup: online 1000 s ago, silent for the last 600 s, back now.
    const tenant = await createTenant(db);
    const { agentId, lastSeen, back } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, SILENT);
      return { ...past, back: await beat(client, tenant, past.agentId, 'tab') };
    });

    // Action
    const { rows: totals } = await db.query<{ status: string; seconds: string; type: string; hours: string }>(
      `select status, sum(seconds)::text as seconds, min(pg_typeof(seconds)::text) as type,
              round(sum(seconds) / 3600.0, 1)::text as hours
         from presence.time_in_status where agent_id = $1 group by status order by status`,
      [agentId],
    );
    const { rows: history } = await db.query(
      `select status_at_start, events from presence.agent_history($1, $2, now() - interval '2000 seconds')`,
      [tenant, agentId],
    );

    // Assertions: offline from last_seen + 90 s to the beat: 510 s; available the rest (490 s and a few ms).
    expect(totals.map((t) => [t.status, t.type])).toEqual([
      ['available', 'numeric'],
      ['offline', 'numeric'],
    ]);
    const offline = totals.find((t) => t.status === 'offline')!;
    const available = totals.find((t) => t.status === 'available')!;
    expect(Number(offline.seconds)).toBe((back.last_seen.getTime() - lastSeen.getTime() - OFFLINE_AFTER_MS) / 1000);
    expect(Number(offline.seconds)).toBeCloseTo(510, 0);
    expect(Number(available.seconds)).toBeGreaterThanOrEqual(490);
    expect(Number(available.seconds)).toBeLessThan(500);
    expect(offline.hours).toBe('0.1');
    expect(history[0].status_at_start).toBe('offline');
    expect(history[0].events.map((e: { to: string; mechanism: string }) => `${e.to}/${e.mechanism}`)).toEqual([
      'available/heartbeat',
      'offline/timeout',
      'available/heartbeat',
    ]);
    expect(new Date(history[0].events[1].at).getTime()).toBe(lastSeen.getTime() + OFFLINE_AFTER_MS);
  });
});

describe('readers before anyone notices', () => {
  it('agent_history and time_in_status already show the timeout of a silent agent that nothing recorded yet', async () => {
    // Setup: inside a transaction that is rolled back, so no sweep or beat records anything.
    const tenant = await createTenant(db);
    const client = await db.connect();
    try {
      await client.query('begin');
      const { agentId, lastSeen } = await createAgentWithPast(client, tenant, SILENT);

      // Action
      const { rows: history } = await client.query(
        `select events from presence.agent_history($1, $2, now() - interval '2000 seconds')`,
        [tenant, agentId],
      );
      const { rows: totals } = await client.query<{ status: string; seconds: string }>(
        `select status, sum(seconds)::text as seconds from presence.time_in_status where agent_id = $1
          group by status order by status`,
        [agentId],
      );
      const recorded = await timeline(client, agentId);

      // Assertions
      expect(recorded).toHaveLength(1);
      expect(history[0].events.map((e: { to: string; mechanism: string }) => `${e.to}/${e.mechanism}`)).toEqual([
        'available/heartbeat',
        'offline/timeout',
      ]);
      expect(new Date(history[0].events[1].at).getTime()).toBe(lastSeen.getTime() + OFFLINE_AFTER_MS);
      expect(totals.map((t) => [t.status, Number(t.seconds)])).toEqual([
        ['available', 490],
        ['offline', 510],
      ]);
    } finally {
      await client.query('rollback');
      client.release();
    }
  });
});

describe('calls that find their agent silent record the gap first', () => {
  it('set_status on a silent agent records its timeout at last_seen + offline_after_s and keeps the choice for later', async () => {
    // Setup / Action
    const tenant = await createTenant(db);
    const { agentId, lastSeen, status } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, SILENT);
      const { rows } = await client.query('select presence.set_status($1, $2, $3) as status', [tenant, past.agentId, 'dnd']);
      return { ...past, status: rows[0].status as string };
    });

    // Assertions: no live tab, so the agent stays offline, timed out when it went silent, not by hand now.
    expect(status).toBe('offline');
    const events = await timeline(db, agentId);
    expect(events.slice(1).map((e) => [e.mechanism, e.to_status, e.at.getTime()])).toEqual([
      ['timeout', 'offline', lastSeen.getTime() + OFFLINE_AFTER_MS],
    ]);
    const { rows } = await db.query(
      `select s.status, s.chosen_status, h.status as platform_status
         from presence_private.agent_state s join human_agents h on h.id = s.agent_id where s.agent_id = $1`,
      [agentId],
    );
    expect(rows[0]).toEqual({ status: 'offline', chosen_status: 'dnd', platform_status: 'offline' });
  });

  it('end_session on a silent agent records its timeout at last_seen + offline_after_s, not a tab closed now', async () => {
    // Setup / Action
    const tenant = await createTenant(db);
    const { agentId, lastSeen, status } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, SILENT);
      const { rows } = await client.query('select presence.end_session($1, $2, $3) as status', [tenant, past.agentId, 'tab']);
      return { ...past, status: rows[0].status as string };
    });

    // Assertions
    expect(status).toBe('offline');
    const events = await timeline(db, agentId);
    expect(events.slice(1).map((e) => [e.mechanism, e.at.getTime()])).toEqual([['timeout', lastSeen.getTime() + OFFLINE_AFTER_MS]]);
  });

  it('end_sign_in on a silent agent records its timeout at last_seen + offline_after_s, not a logout now', async () => {
    // Setup / Action
    const tenant = await createTenant(db);
    const { agentId, lastSeen, status } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, { ...SILENT, signIn: 'sign-in-1' });
      return { ...past, status: await endSignIn(client, tenant, past.agentId, 'sign-in-1') };
    });

    // Assertions
    expect(status).toBe('offline');
    const events = await timeline(db, agentId);
    expect(events.slice(1).map((e) => [e.mechanism, e.at.getTime()])).toEqual([['timeout', lastSeen.getTime() + OFFLINE_AFTER_MS]]);
  });
});

/** Status events of an agent written as they would have been, `count` of them one second apart, ending now. */
async function writeEvents(client: Queryable, tenant: string, agent: string, count: number, reason = 'manual'): Promise<void> {
  await client.query(
    `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
     select $1, $2,
            case when n % 2 = 0 then 'away' else 'available' end,
            case when n % 2 = 0 then 'available' else 'away' end,
            $4, now() - make_interval(secs => $3 - n)
       from generate_series(1, $3) n`,
    [tenant, agent, count, reason],
  );
}

interface Page {
  events: Array<{ to: string; at: string }>;
  next_cursor: string | null;
}

async function historyPage(client: Queryable, tenant: string, agent: string, limit: number | null, cursor: string | null): Promise<Page> {
  const { rows } = await client.query<Page>(
    `select events, next_cursor from presence.agent_history($1, $2, now() - interval '1 hour', now() + interval '1 hour', $3, $4)`,
    [tenant, agent, limit, cursor],
  );
  return rows[0]!;
}

describe('agent_history a page at a time', () => {
  it('hands out at most the limit and a cursor that leads through every event once, in time order', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await writeEvents(db, tenant, agent, 25);

    // Action
    const pages: Page[] = [await historyPage(db, tenant, agent, 10, null)];
    while (pages.at(-1)!.next_cursor !== null) pages.push(await historyPage(db, tenant, agent, 10, pages.at(-1)!.next_cursor));

    // Assertions
    expect(pages.map((p) => p.events.length)).toEqual([10, 10, 5]);
    const times = pages.flatMap((p) => p.events.map((e) => Date.parse(e.at)));
    expect(new Set(times).size).toBe(25);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(pages[2]!.next_cursor).toBeNull();
  });

  it('answers 500 events by default', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await writeEvents(db, tenant, agent, 501);

    // Action
    const page = await historyPage(db, tenant, agent, null, null);

    // Assertions
    expect(page.events).toHaveLength(500);
    expect(page.next_cursor).not.toBeNull();
  });

  it('keeps its place when events are written between pages: the next page starts after the last event handed out', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await writeEvents(db, tenant, agent, 4);
    const first = await historyPage(db, tenant, agent, 2, null);

    // Action: two more events, now, after the first page was read.
    await writeEvents(db, tenant, agent, 2, 'admin');
    const second = await historyPage(db, tenant, agent, 10, first.next_cursor);

    // Assertions: the two events of the first page are not repeated; the rest and the new ones follow.
    const firstTimes = first.events.map((e) => Date.parse(e.at));
    const secondTimes = second.events.map((e) => Date.parse(e.at));
    expect(secondTimes.filter((t) => firstTimes.includes(t))).toEqual([]);
    expect(second.events).toHaveLength(4);
    expect(second.next_cursor).toBeNull();
  });

  it('refuses a range longer than 31 days, naming the limit', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    // Action
    const error = await db
      .query(`select * from presence.agent_history($1, $2, '0001-01-01T00:00:00Z', '9999-12-31T00:00:00Z')`, [tenant, agent])
      .catch((e: { code: string; message: string }) => e);

    // Assertions
    expect(error).toMatchObject({ code: 'PRUSR', message: expect.stringMatching(/at most 31 days/) });
  });

  it('refuses a limit out of 1 to 2000 and a cursor it did not hand out', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const refusal = (limit: number | null, cursor: string | null) =>
      historyPage(db, tenant, agent, limit, cursor).catch((e: { code: string; message: string }) => e);

    // Action
    const answers = await Promise.all([refusal(0, null), refusal(2001, null), refusal(10, 'not-a-cursor'), refusal(10, '!!')]);

    // Assertions
    expect(answers).toEqual([
      expect.objectContaining({ code: 'PRUSR', message: expect.stringMatching(/limit must be from 1 to 2000/) }),
      expect.objectContaining({ code: 'PRUSR', message: expect.stringMatching(/limit must be from 1 to 2000/) }),
      expect.objectContaining({ code: 'PRUSR', message: expect.stringMatching(/cursor 'not-a-cursor' is not one/) }),
      expect.objectContaining({ code: 'PRUSR', message: expect.stringMatching(/cursor '!!' is not one/) }),
    ]);
  });
});

describe('time_in_status for one agent and a few days', () => {
  it('time_in_status_for counts what the view counts for the same agent and days', async () => {
    // Setup: an agent with three days of transitions, and another agent of the same tenant.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const other = await createAgent(db, tenant);
    await db.query(
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
       select $1, a, case when n % 2 = 0 then 'away' else 'available' end,
              case when n % 2 = 0 then 'available' else 'away' end, 'manual',
              date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - interval '3 days' + n * interval '5 hours 7 minutes'
         from generate_series(1, 14) n cross join unnest(array[$2, $3]::uuid[]) a`,
      [tenant, agent, other],
    );

    // Action
    const { rows: fromView } = await db.query(
      `select day::text, status, seconds::text from presence.time_in_status
        where tenant_id = $1 and agent_id = $2 and day between current_date - 3 and current_date - 1 order by day, status`,
      [tenant, agent],
    );
    const { rows: fromFunction } = await db.query(
      `select day::text, status, seconds::text from presence.time_in_status_for($1, $2, current_date - 3, current_date - 1)`,
      [tenant, agent],
    );

    // Assertions
    expect(fromView.length).toBeGreaterThanOrEqual(5);
    expect(fromFunction).toEqual(fromView);
  });

  it('refuses more than 31 days and an agent of another tenant', async () => {
    // Setup
    const tenant = await createTenant(db);
    const stranger = await createAgent(db, await createTenant(db));
    const agent = await createAgent(db, tenant);
    const refusal = (who: string, from: string, to: string) =>
      db
        .query('select * from presence.time_in_status_for($1, $2, $3::date, $4::date)', [tenant, who, from, to])
        .catch((e: { code: string; message: string }) => e);

    // Action
    const answers = await Promise.all([refusal(agent, '2026-01-01', '2026-02-01'), refusal(stranger, '2026-01-01', '2026-01-01')]);

    // Assertions
    expect(answers).toEqual([
      expect.objectContaining({ code: 'PRUSR', message: expect.stringMatching(/at most 31 days/) }),
      expect.objectContaining({ code: 'PRAGT' }),
    ]);
  });
});

describe('set_status at a human rate', () => {
  it('accepts 20 changes by hand in a minute and refuses the 21st with PRSCR and a retry time, writing nothing', async () => {
    // Setup: a live agent that changed its status 20 times in the last 20 seconds.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    for (let i = 0; i < 20; i++) {
      await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, i % 2 === 0 ? 'away' : 'available']);
    }
    const before = await db.query('select count(*)::int as n from presence.status_events where agent_id = $1', [agent]);

    // Action
    const error = await db
      .query('select presence.set_status($1, $2, $3)', [tenant, agent, 'dnd'])
      .catch((e: { code: string; message: string; detail: string }) => e);

    // Assertions
    expect(error).toMatchObject({ code: 'PRSCR', message: expect.stringMatching(/at most 20 changes a minute/) });
    const retry = Number(/retry_after_s=(\d+)/.exec((error as { detail: string }).detail)?.[1]);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    const after = await db.query('select count(*)::int as n from presence.status_events where agent_id = $1', [agent]);
    expect(after.rows[0].n).toBe(before.rows[0].n);
    const { rows } = await db.query(
      `select s.status, s.chosen_status, h.status as platform_status
         from presence_private.agent_state s join human_agents h on h.id = s.agent_id where s.agent_id = $1`,
      [agent],
    );
    expect(rows[0]).toEqual({ status: 'available', chosen_status: 'available', platform_status: 'available' });
  });

  it('does not count changes by hand older than a minute', async () => {
    // Setup: 20 changes by hand 61 seconds ago and more.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await db.query(
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
       select $1, $2, 'available', 'away', 'manual', now() - interval '61 seconds' - make_interval(secs => n)
         from generate_series(1, 20) n`,
      [tenant, agent],
    );

    // Action
    const { rows } = await db.query('select presence.set_status($1, $2, $3) as status', [tenant, agent, 'dnd']);

    // Assertions
    expect(rows[0].status).toBe('dnd');
  });

  it('parallel changes cannot overshoot the limit', async () => {
    // Setup: a live agent with 19 changes by hand in the last minute; one more is allowed.
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    await db.query(
      `insert into presence.status_events (tenant_id, agent_id, from_status, to_status, mechanism, at)
       select $1, $2, 'available', 'available', 'manual', now() - make_interval(secs => n) from generate_series(1, 19) n`,
      [tenant, agent],
    );

    // Action: 10 changes at once, on separate connections.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db.query('select presence.set_status($1, $2, $3)', [tenant, agent, i % 2 === 0 ? 'away' : 'dnd']).then(
          () => 'ok',
          (e: { code: string }) => e.code,
        ),
      ),
    );

    // Assertions
    expect(answers.sort()).toEqual(['PRSCR', 'PRSCR', 'PRSCR', 'PRSCR', 'PRSCR', 'PRSCR', 'PRSCR', 'PRSCR', 'PRSCR', 'ok']);
    const { rows } = await db.query(
      `select count(*)::int as n from presence.status_events where agent_id = $1 and mechanism = 'manual'`,
      [agent],
    );
    expect(rows[0].n).toBe(20);
  });
});
