// History exact to the liveness rule: every reader sees an agent offline from last_seen + offline_after_s on, so the
// history records the timeout at that moment, whoever notices it first (a beat, a status change, a closed tab,
// the sweep), and the reports (time_in_status, agent_history) count the gap as offline.
import { afterAll, describe, expect, it } from 'vitest';
import {
  beat,
  beats,
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
  reason: string;
  at: Date;
}

async function timeline(client: Queryable, agent: string): Promise<Event[]> {
  const { rows } = await client.query<Event>(
    'select from_status, to_status, reason, at from presence.status_events where agent_id = $1 order by at, id',
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
    expect(events.map((e) => `${e.from_status}>${e.to_status}/${e.reason}`)).toEqual([
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
      const [row] = await beats(client, [{ tenantId: tenant, agentId: past.agentId, sessionId: 'tab', signIn: 'sign-in-1' }]);
      return { ...past, result: row! };
    });

    // Assertions
    expect(result.status).toBe('available');
    const events = await timeline(db, agentId);
    expect(events.slice(1).map((e) => [e.reason, e.at.getTime()])).toEqual([
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
    expect(history[0].events.map((e: { to: string; reason: string }) => `${e.to}/${e.reason}`)).toEqual([
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
      expect(history[0].events.map((e: { to: string; reason: string }) => `${e.to}/${e.reason}`)).toEqual([
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
    expect(events.slice(1).map((e) => [e.reason, e.to_status, e.at.getTime()])).toEqual([
      ['timeout', 'offline', lastSeen.getTime() + OFFLINE_AFTER_MS],
    ]);
    const { rows } = await db.query('select status, chosen_status from human_agents where id = $1', [agentId]);
    expect(rows[0]).toEqual({ status: 'offline', chosen_status: 'dnd' });
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
    expect(events.slice(1).map((e) => [e.reason, e.at.getTime()])).toEqual([['timeout', lastSeen.getTime() + OFFLINE_AFTER_MS]]);
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
    expect(events.slice(1).map((e) => [e.reason, e.at.getTime()])).toEqual([['timeout', lastSeen.getTime() + OFFLINE_AFTER_MS]]);
  });
});
