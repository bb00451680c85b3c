// Notifications are doorbells: presence_status and presence_sign_in_ended ring with an empty payload, and what a
// server shows comes from presence.status_changes_after (and presence.sign_ins_ended), which read rows only
// presence's functions write. A late commit (an event id taken before another's, committed after it) is read once,
// a rolled-back one never.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  beat,
  createAgent,
  createAgentWithPast,
  createTenant,
  endSignIn,
  inTransaction,
  listenTo,
  newestEventId,
  statusChangesSince,
  testPool,
} from '../helpers/db.ts';

const db = testPool();
const NOBODY = `presence_listener_${randomBytes(4).toString('hex')}`;
const password = randomBytes(18).toString('base64url');

beforeAll(async () => {
  await db.query(`create role ${NOBODY} login password '${password}'`);
});
afterAll(async () => {
  await db.query(`drop role if exists ${NOBODY}`);
  await db.end();
});

/** A connection over TCP of a login role that was granted nothing at all. */
async function loginWithNoGrants(): Promise<pg.Client> {
  const url = new URL(inject('databaseUrl'));
  url.username = NOBODY;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  return client;
}

interface Page {
  changes: Array<{ id: number; tenant: string; agent: string; mechanism: string; to: string }>;
  next_after: string;
  more: boolean;
  pending_ids: string[];
  pending_xids: string[];
  reasons: string[];
  reason_counts: number[];
}

async function read(after: string, tenants: string[], pending: { ids: string[]; xids: string[] } = { ids: [], xids: [] }, limit = 10_000): Promise<Page> {
  const { rows } = await db.query<Page>(
    'select * from presence.status_changes_after($1, $2, $3::bigint[], $4::bigint[], $5)',
    [after, tenants, pending.ids, pending.xids, limit],
  );
  return rows[0]!;
}

const pendingOf = (page: Page) => ({ ids: page.pending_ids, xids: page.pending_xids });

describe('status changes, read after a ring', () => {
  it('every transition is read back with tenant, agent (as strings), from, to, chosen, mechanism, reason, actor, until and at, and rings presence_status with nothing in it', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const rings = await listenTo('presence_status');
    const start = await newestEventId(db);

    // Action
    const first = await beat(db, tenant, agent, 'tab');
    await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'dnd']);
    await beat(db, tenant, agent, 'tab', 'idle');
    await db.query('select presence.end_session($1, $2, $3)', [tenant, agent, 'tab']);
    await rings.until((received) => received.length >= 3);
    await rings.stop();

    // Assertions
    const changes = await statusChangesSince(db, start, [tenant]);
    expect(changes).toHaveLength(3);
    expect(changes[0]).toEqual({
      id: expect.any(Number),
      tenant,
      agent,
      from: 'offline',
      to: 'available',
      chosen: 'available',
      mechanism: 'heartbeat',
      reason: null,
      actor: null,
      until: null,
      at: expect.any(String),
    });
    expect(new Date(changes[0]!.at).getTime()).toBe(first.last_seen.getTime());
    expect(changes[1]).toMatchObject({ from: 'available', to: 'dnd', chosen: 'dnd', mechanism: 'manual' });
    expect(changes[2]).toMatchObject({ from: 'dnd', to: 'offline', chosen: 'dnd', mechanism: 'left' });
    expect(new Set(rings.received)).toEqual(new Set(['']));
  });

  it('a timeout a beat records is read at the moment the agent went silent, with its chosen status', async () => {
    // Setup / Action: the agent came online 1000 s ago, went silent 600 s ago, and beats now (no sweep in between).
    const tenant = await createTenant(db);
    const start = await newestEventId(db);
    const { agentId, lastSeen } = await inTransaction(db, async (client) => {
      const past = await createAgentWithPast(client, tenant, { onlineForS: 1000, silentForS: 600, status: 'dnd' });
      await beat(client, tenant, past.agentId, 'tab');
      return past;
    });

    // Assertions
    const changes = (await statusChangesSince(db, start, [tenant])).filter((c) => c.agent === agentId);
    expect(changes.slice(-2).map((c) => [c.from, c.to, c.chosen, c.mechanism])).toEqual([
      ['dnd', 'offline', 'dnd', 'timeout'],
      ['offline', 'dnd', 'dnd', 'heartbeat'],
    ]);
    const timeout = changes.find((c) => c.mechanism === 'timeout')!;
    expect(new Date(timeout.at).getTime()).toBe(lastSeen.getTime() + 90_000);
  });

  it('reads only the tenants it is asked for, and counts every tenant\'s events by reason', async () => {
    // Setup
    const mine = await createTenant(db);
    const theirs = await createTenant(db);
    const me = await createAgent(db, mine);
    const them = await createAgent(db, theirs);
    const start = await newestEventId(db);

    // Action
    await beat(db, mine, me, 'tab');
    await beat(db, theirs, them, 'tab');
    const page = await read(start, [mine]);

    // Assertions
    expect(page.changes.map((c) => c.agent)).toEqual([me]);
    const heartbeats = page.reason_counts[page.reasons.indexOf('heartbeat')];
    expect(heartbeats).toBeGreaterThanOrEqual(2);
  });

  it('an event committed after a later one is still read, once', async () => {
    // Setup: A takes its event id first and commits last; B commits in between.
    const tenant = await createTenant(db);
    const early = await createAgent(db, tenant);
    const late = await createAgent(db, tenant);
    const start = await newestEventId(db);
    const a = await db.connect();
    try {
      await a.query('begin');
      await beat(a, tenant, early, 'tab');
      await beat(db, tenant, late, 'tab');

      // Action
      const first = await read(start, [tenant]);
      await a.query('commit');
      const second = await read(first.next_after, [tenant], pendingOf(first));
      const third = await read(second.next_after, [tenant], pendingOf(second));

      // Assertions
      expect(first.changes.map((c) => c.agent)).toEqual([late]);
      expect(first.pending_ids.length).toBeGreaterThanOrEqual(1);
      expect(second.changes.map((c) => c.agent)).toEqual([early]);
      expect(third.changes).toEqual([]);
    } finally {
      a.release();
    }
  });

  it('an event rolled back is never read, and its id is given up once its transaction is over', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const start = await newestEventId(db);
    const a = await db.connect();
    try {
      await a.query('begin');
      await beat(a, tenant, agent, 'tab');
      const { rows } = await a.query<{ id: string }>('select max(id)::text as id from presence.status_events where agent_id = $1', [agent]);
      const taken = rows[0]!.id;

      // Action
      const during = await read(start, [tenant]);
      await a.query('rollback');
      const after = await read(during.next_after, [tenant], pendingOf(during));

      // Assertions
      expect(during.changes).toEqual([]);
      expect(during.pending_ids).toContain(taken);
      expect(after.changes).toEqual([]);
      expect(after.pending_ids).not.toContain(taken);
    } finally {
      a.release();
    }
  });

  it('reads a backlog a page at a time and says when more is waiting', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const start = await newestEventId(db);
    for (const status of ['dnd', 'away', 'available', 'dnd', 'available']) {
      await beat(db, tenant, agent, 'tab');
      await db.query('select presence.set_status($1, $2, $3)', [tenant, agent, status]);
    }
    const total = (await statusChangesSince(db, start, [tenant])).length;

    // Action
    const seen: number[] = [];
    let page = await read(start, [tenant], undefined, 2);
    let pages = 1;
    seen.push(...page.changes.map((c) => c.id));
    while (page.more) {
      page = await read(page.next_after, [tenant], pendingOf(page), 2);
      seen.push(...page.changes.map((c) => c.id));
      pages += 1;
    }

    // Assertions
    expect(total).toBe(6);
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('a heartbeat that changes no status writes no event', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const start = await newestEventId(db);
    await beat(db, tenant, agent, 'tab');

    // Action
    await beat(db, tenant, agent, 'tab');
    await beat(db, tenant, agent, 'tab');

    // Assertions
    expect(await statusChangesSince(db, start, [tenant])).toHaveLength(1);
  });

  it('refuses a bad page size or pending lists of different lengths, naming them', async () => {
    // Action (settled together, so neither rejection is left unhandled while the other is awaited)
    const [zero, mismatched] = await Promise.allSettled([
      db.query('select * from presence.status_changes_after(0, null, null, null, 0)'),
      db.query(`select * from presence.status_changes_after(0, null, '{1,2}', '{1}', 10)`),
    ]);

    // Assertions
    expect(zero).toMatchObject({ status: 'rejected', reason: { code: 'PRUSR', message: expect.stringContaining('limit must be between 1 and 10000, got 0') } });
    expect(mismatched).toMatchObject({ status: 'rejected', reason: { code: 'PRUSR', message: expect.stringContaining('got 2 and 1') } });
  });
});

describe('a login role granted nothing', () => {
  it('listening on both channels hears rings with nothing in them: no tenant, agent or sign-in id', async () => {
    // Setup
    const spy = await loginWithNoGrants();
    const heard: Array<{ channel: string; payload: string | undefined }> = [];
    spy.on('notification', (n) => heard.push({ channel: n.channel, payload: n.payload }));
    await spy.query('listen presence_status');
    await spy.query('listen presence_sign_in_ended');
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);

    try {
      // Action
      await beat(db, tenant, agent, 'tab', 'active', 'secret-sign-in');
      await endSignIn(db, tenant, agent, 'secret-sign-in');
      for (let waited = 0; waited < 3_000 && !heard.some((h) => h.channel === 'presence_sign_in_ended'); waited += 50) {
        await new Promise((r) => setTimeout(r, 50));
      }

      // Assertions
      expect(heard.map((h) => h.channel)).toEqual(expect.arrayContaining(['presence_status', 'presence_sign_in_ended']));
      expect(heard.filter((h) => h.payload !== '')).toEqual([]);
    } finally {
      await spy.end();
    }
  });

  it('cannot read the status changes or the ended sign-ins', async () => {
    // Setup
    const spy = await loginWithNoGrants();

    try {
      // Action
      const [changes, signIns] = await Promise.allSettled([
        spy.query('select * from presence.status_changes_after(0, null, null, null, 10)'),
        spy.query(`select * from presence.sign_ins_ended('{}', '{}')`),
      ]);

      // Assertions
      expect(changes).toMatchObject({ status: 'rejected', reason: { code: '42501' } });
      expect(signIns).toMatchObject({ status: 'rejected', reason: { code: '42501' } });
    } finally {
      await spy.end();
    }
  });
});

describe('presence.status_events', () => {
  it('is append-only: an update is refused', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action
    const attempt = db.query(`update presence.status_events set mechanism = 'admin' where agent_id = $1`, [agent]);

    // Assertions
    await expect(attempt).rejects.toMatchObject({ code: 'PRAPP', message: expect.stringContaining('append-only') });
  });
});
