// Choices with a reason, an end and an author; a manager's choice that beats never undo; statuses that end, read
// as ended at once and recorded at their end by the next beat or the sweep, whichever comes first.
import { afterAll, describe, expect, it } from 'vitest';
import { beat, createAgent, createTenant, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

async function reason(tenant: string, status: string, label: string, durationS: number | null = null): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select id from presence.add_reason($1, $2, $3, $4)', [tenant, status, label, durationS]);
  return rows[0]!.id;
}

async function liveAgent(): Promise<{ tenant: string; agent: string }> {
  const tenant = await createTenant(db);
  const agent = await createAgent(db, tenant);
  await beat(db, tenant, agent, 'tab-1');
  return { tenant, agent };
}

async function presenceOf(agent: string) {
  const { rows } = await db.query(
    `select status, chosen_status, reason_label, until, set_by_id, set_by_name, mechanism
       from presence.agent_presence where agent_id = $1`,
    [agent],
  );
  return rows[0];
}

async function events(agent: string) {
  const { rows } = await db.query(
    `select from_status, to_status, mechanism, reason_id, actor_id, actor_name, chosen_until, at
       from presence.status_events where agent_id = $1 order by at, id`,
    [agent],
  );
  return rows;
}

async function failure(sql: string, params: unknown[]): Promise<{ code: string; message: string }> {
  const error = await db.query(sql, params).then(
    () => null,
    (e: { code: string; message: string }) => e,
  );
  expect(error, `${sql} should fail`).not.toBeNull();
  return { code: error!.code, message: error!.message };
}

/**
 * Moves an agent's chosen end (and its last transition) into the past, as if that time had passed: owner fixture.
 * Its events stay where they are (the log is append-only), so the end is found by its mechanism, not its place.
 */
async function endPassed(agent: string, agoS: number): Promise<Date> {
  const { rows } = await db.query<{ until: Date }>(
    `update presence_private.agent_state
        set chosen_until = now() - make_interval(secs => $2), status_since = now() - make_interval(secs => $2 + 60)
      where agent_id = $1 returning chosen_until as until`,
    [agent, agoS],
  );
  return rows[0]!.until;
}

describe('a status chosen with a reason and an end', () => {
  it('is on the agent and on the record: reason, end, who chose it', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    const lunch = await reason(tenant, 'away', 'Lunch', 1800);

    // Action
    const { rows } = await db.query(`select presence.set_status($1, $2, 'away', $3, null, 'user-7', 'Ada') as status`, [tenant, agent, lunch]);

    // Assertions
    expect(rows[0].status).toBe('away');
    const now = await presenceOf(agent);
    expect(now).toMatchObject({ status: 'away', chosen_status: 'away', reason_label: 'Lunch', set_by_id: 'user-7', set_by_name: 'Ada', mechanism: 'manual' });
    expect((now.until as Date).getTime() - Date.now()).toBeGreaterThan(1790_000);
    expect((await events(agent)).at(-1)).toMatchObject({ to_status: 'away', mechanism: 'manual', reason_id: lunch, actor_id: 'user-7', actor_name: 'Ada' });
  });

  it('refuses a reason of another status, tenant or retired, and an end in the past or beyond 7 days, writing nothing', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    const other = await createTenant(db);
    const focus = await reason(tenant, 'dnd', 'Focus');
    const retired = await reason(tenant, 'away', 'Old');
    await db.query('select presence.update_reason($1, $2, p_retired => true)', [tenant, retired]);
    const theirs = await reason(other, 'away', 'Theirs');
    const before = await events(agent);

    // Action
    const set = (status: string, reasonId: string | null, until: string | null) =>
      failure('select presence.set_status($1, $2, $3, $4, $5::timestamptz)', [tenant, agent, status, reasonId, until]);
    const wrongStatus = await set('away', focus, null);
    const retiredOne = await set('away', retired, null);
    const foreign = await set('away', theirs, null);
    const past = await set('dnd', null, new Date(Date.now() - 60_000).toISOString());
    const far = await set('dnd', null, new Date(Date.now() + 8 * 86400_000).toISOString());
    const availableUntil = await set('available', null, new Date(Date.now() + 60_000).toISOString());

    // Assertions
    expect(wrongStatus).toEqual({ code: 'PRRCH', message: 'reason: "Focus" is a reason for dnd, not for away' });
    expect(retiredOne).toEqual({ code: 'PRRCH', message: 'reason: "Old" is retired' });
    expect(foreign.code).toBe('PRRCH');
    expect(foreign.message).toMatch(/^reason: no reason .* in this tenant$/);
    expect(past.code).toBe('PRUNT');
    expect(past.message).toMatch(/^until: must be later than now/);
    expect(far.message).toMatch(/^until: must be at most 7 days ahead/);
    expect(availableUntil.code).toBe('PRUNT');
    expect(await events(agent)).toEqual(before);
    expect(await presenceOf(agent)).toMatchObject({ status: 'available', chosen_status: 'available', reason_label: null });
  });

  it('a new reason on the same status is recorded, so the time per reason adds up', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    const lunch = await reason(tenant, 'away', 'Lunch');
    const meeting = await reason(tenant, 'away', 'Meeting');
    await db.query(`select presence.set_status($1, $2, 'away', $3)`, [tenant, agent, lunch]);

    // Action
    await db.query(`select presence.set_status($1, $2, 'away', $3)`, [tenant, agent, meeting]);

    // Assertions
    expect((await events(agent)).slice(-2).map((e) => [e.from_status, e.to_status, e.reason_id])).toEqual([
      ['available', 'away', lunch],
      ['away', 'away', meeting],
    ]);
  });
});

describe('a supervisor\'s choice', () => {
  it('is recorded as the supervisor\'s, beats never undo it, and the agent may choose again', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    const meeting = await reason(tenant, 'away', 'Meeting');

    // Action
    await db.query(`select presence.set_agent_status($1, $2, 'away', $3, now() + interval '15 minutes', 'boss-1', 'Morgan')`, [tenant, agent, meeting]);
    const afterBeat = await beat(db, tenant, agent, 'tab-1');
    const afterIdle = await beat(db, tenant, agent, 'tab-1', 'idle');
    await db.query(`select presence.set_status($1, $2, 'available', null, null, 'agent-user', 'Bea')`, [tenant, agent]);

    // Assertions
    expect([afterBeat.status, afterIdle.status]).toEqual(['away', 'away']);
    expect((await events(agent)).slice(1).map((e) => [e.to_status, e.mechanism, e.actor_name])).toEqual([
      ['away', 'supervisor', 'Morgan'],
      ['available', 'manual', 'Bea'],
    ]);
    expect(await presenceOf(agent)).toMatchObject({ status: 'available', set_by_name: 'Bea', until: null });
  });

  it('cannot reach an agent of another tenant: PRAGT, nothing written', async () => {
    // Setup
    const { agent } = await liveAgent();
    const other = await createTenant(db);

    // Action
    const error = await failure(`select presence.set_agent_status($1, $2, 'offline')`, [other, agent]);

    // Assertions
    expect(error.code).toBe('PRAGT');
    expect(await presenceOf(agent)).toMatchObject({ status: 'available' });
  });
});

describe('a status that ends', () => {
  it('reads available once its end has passed, before anything recorded it', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    await db.query(`select presence.set_status($1, $2, 'dnd', null, now() + interval '1 hour')`, [tenant, agent]);

    // Action
    await endPassed(agent, 5);

    // Assertions
    expect(await presenceOf(agent)).toMatchObject({ status: 'available', chosen_status: 'available', until: null });
    expect((await events(agent)).at(-1)).toMatchObject({ to_status: 'dnd' });
  });

  it('is recorded at its end by the agent\'s next beat (mechanism expiry)', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    await db.query(`select presence.set_status($1, $2, 'dnd', null, now() + interval '1 hour')`, [tenant, agent]);
    const until = await endPassed(agent, 5);

    // Action
    const after = await beat(db, tenant, agent, 'tab-1');

    // Assertions
    expect(after.status).toBe('available');
    expect((await events(agent)).filter((e) => e.mechanism === 'expiry')).toMatchObject([{ from_status: 'dnd', to_status: 'available', at: until }]);
    expect(await presenceOf(agent)).toMatchObject({ status: 'available', chosen_status: 'available', mechanism: 'expiry' });
  });

  it('is recorded at its end by the sweep when no beat came first', async () => {
    // Setup
    const { tenant, agent } = await liveAgent();
    const meeting = await reason(tenant, 'away', 'Meeting');
    await db.query(`select presence.set_agent_status($1, $2, 'away', $3, now() + interval '15 minutes', 'boss', 'Morgan')`, [tenant, agent, meeting]);
    const until = await endPassed(agent, 3);

    // Action
    await db.query('select presence.sweep_stale_agents()');

    // Assertions
    expect((await events(agent)).filter((e) => e.mechanism === 'expiry')).toMatchObject([{ from_status: 'away', to_status: 'available', at: until, reason_id: null }]);
    const { rows } = await db.query('select chosen_status, chosen_until, set_by_id from presence_private.agent_state where agent_id = $1', [agent]);
    expect(rows[0]).toEqual({ chosen_status: 'available', chosen_until: null, set_by_id: null });
  });
});
