// Issue 14, finding 1, as an attacker does it: a login role granted nothing at all (PostgreSQL has no privilege on
// NOTIFY) sends notifications of every shape on presence's channels while real streams are open. A notification is a
// doorbell: the streams show only what presence.status_events holds, end only for a sign-in the database recorded
// as ended, and /metrics keeps its series.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { presenceRouter, type PresenceRouter } from '../../server/presence/router.ts';
import { createAgent, createTenant } from '../helpers/db.ts';
import { call, openStream, openStreamAt, signedInUser, startTestServer, type TestServer, type TestStream } from '../helpers/server.ts';

const ATTACKER = `presence_forger_${randomBytes(4).toString('hex')}`;
const password = randomBytes(18).toString('base64url');

let server: TestServer;
let attacker: pg.Client;

beforeAll(async () => {
  server = await startTestServer();
  await server.owner.query(`create role ${ATTACKER} login password '${password}'`);
  const url = new URL(inject('databaseUrl'));
  url.username = ATTACKER;
  url.password = password;
  attacker = new pg.Client({ connectionString: url.toString() });
  await attacker.connect();
});
afterAll(async () => {
  await attacker?.end();
  await server.owner.query(`drop role if exists ${ATTACKER}`);
  await server.close();
});

const beat = (cookie: string, sessionId = 'tab-1') => call(server, 'POST', '/api/auth/heartbeat', { cookie, body: { sessionId } });

/** What the attacker sends: forged transitions, a flood of distinct reasons, forged sign-outs and garbage. */
async function forgeEverything(tenantId: string, agentId: string, signIns: Array<string | null>): Promise<void> {
  const at = new Date().toISOString();
  const forged = { tenant: tenantId, agent: agentId, from: 'available', to: 'offline', chosen: 'available', mechanism: 'timeout', at };
  await attacker.query(`select pg_notify('presence_status', $1)`, [JSON.stringify(forged)]);
  await attacker.query(`select pg_notify('presence_status', $1)`, [JSON.stringify({ ...forged, id: 999999999 })]);
  // 2,000 distinct reasons (the finding's 100,000 made 80,005 series), in batches of separate transactions.
  for (let batch = 0; batch < 4; batch++) {
    await attacker.query(
      `select count(pg_notify('presence_status', json_build_object('tenant', $1::text, 'agent', $2::text, 'from', 'available',
              'to', 'dnd', 'chosen', 'dnd', 'reason', 'forged-' || $3 || '-' || g, 'at', now())::text))
         from generate_series(1, 500) g`,
      [tenantId, agentId, batch],
    );
  }
  for (const signIn of signIns) {
    await attacker.query(`select pg_notify('presence_sign_in_ended', $1)`, [JSON.stringify({ tenant: tenantId, signIn })]);
  }
  for (const garbage of ['', 'not json', '{"tenant":', '[]', 'null', '{"tenant":null}', 'x'.repeat(7_000)]) {
    await attacker.query(`select pg_notify('presence_status', $1)`, [garbage]);
    await attacker.query(`select pg_notify('presence_sign_in_ended', $1)`, [garbage]);
  }
}

function seriesOf(metrics: string): string[] {
  return metrics.split('\n').filter((line) => line.startsWith('presence_'));
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function trackOpen(stream: TestStream): () => boolean {
  let open = true;
  void stream.ended.then(() => (open = false));
  return () => open;
}

describe('forged notifications from a login role granted nothing', () => {
  it('change nothing a stream shows, end no stream and add no metric series, while a real transition still arrives', async () => {
    // Setup: Ada is available; her supervisor and she herself watch the team.
    const supervisor = await signedInUser(server, { role: 'supervisor' });
    const ada = await signedInUser(server, { tenantId: supervisor.tenantId });
    const bob = await signedInUser(server, { tenantId: supervisor.tenantId });
    const watching = await openStream(server, supervisor.cookie);
    const own = await openStream(server, ada.cookie);
    await Promise.all([watching.next('snapshot'), own.next('snapshot')]);
    await beat(ada.cookie);
    await watching.next('status', (d) => d.agentId === ada.agentId && d.to === 'available');
    const seen = watching.events.length;
    const watchingOpen = trackOpen(watching);
    const ownOpen = trackOpen(own);
    const { rows } = await server.owner.query<{ id: string }>(
      'select id::text from presence_accounts.auth_sessions where user_id = $1',
      [ada.userId],
    );
    const before = seriesOf((await call(server, 'GET', '/metrics')).body as string);

    // Action
    await forgeEverything(supervisor.tenantId, ada.agentId!, [null, rows[0]!.id, 'anything']);
    await beat(bob.cookie);
    const real = await watching.next('status', (d) => d.agentId === bob.agentId);
    const after = seriesOf((await call(server, 'GET', '/metrics')).body as string);
    const { rows: truth } = await server.owner.query('select status from human_agents where id = $1', [ada.agentId]);

    // Assertions
    expect(real).toMatchObject({ from: 'offline', to: 'available', mechanism: 'heartbeat' });
    expect(watching.events.slice(seen).filter((e) => e.event === 'status').map((e) => e.data.agentId)).toEqual([bob.agentId]);
    expect(truth).toEqual([{ status: 'available' }]);
    expect(watchingOpen()).toBe(true);
    expect(ownOpen()).toBe(true);
    expect(after.map((line) => line.replace(/ \S+$/, ''))).toEqual(before.map((line) => line.replace(/ \S+$/, '')));
    expect(after.join('\n')).not.toContain('forged');
    watching.close();
    own.close();
  });

  it('a flood of rings costs a few reads, not one per notification', async () => {
    // Setup
    const ada = await signedInUser(server);
    const stream = await openStream(server, ada.cookie);
    await stream.next('snapshot');
    const before = server.queryCount();

    // Action: 5,000 rings in 10 transactions, as fast as the attacker can send them
    for (let batch = 0; batch < 10; batch++) {
      await attacker.query(`select count(pg_notify('presence_status', g::text)) from generate_series(1, 500) g`);
    }
    await new Promise((r) => setTimeout(r, 500));
    const reads = server.queryCount() - before;
    stream.close();

    // Assertions: at most one read per 100 ms while they arrive, plus the snapshots of the stream's refresh
    expect(reads).toBeLessThan(30);
  });

  it('a sign-out the database recorded still ends exactly its stream', async () => {
    // Setup
    const ada = await signedInUser(server);
    const bob = await signedInUser(server, { tenantId: ada.tenantId });
    const adaStream = await openStream(server, ada.cookie);
    const bobStream = await openStream(server, bob.cookie);
    await Promise.all([adaStream.next('snapshot'), bobStream.next('snapshot')]);
    const adaOpen = trackOpen(adaStream);
    const bobOpen = trackOpen(bobStream);

    // Action
    await call(server, 'POST', '/api/auth/logout', { cookie: ada.cookie });
    await until(() => !adaOpen(), 2_000);

    // Assertions
    expect(bobOpen()).toBe(true);
    bobStream.close();
  });
});

describe('a host of its own (identify from headers: a sign-in only when x-sign-in names one)', () => {
  let host: Server;
  let router: PresenceRouter;
  let base: string;

  beforeAll(async () => {
    router = presenceRouter({
      pool: server.services.db,
      logger: pino({ level: 'silent' }),
      identify: (req) => {
        const tenantId = req.get('x-tenant');
        return tenantId ? { tenantId, agentId: null, signIn: req.get('x-sign-in') ?? null } : null;
      },
    });
    await router.listener.ready();
    const app = express();
    app.use('/presence', router);
    host = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => host.once('listening', resolve));
    base = `http://127.0.0.1:${(host.address() as AddressInfo).port}/presence`;
  });
  afterAll(async () => {
    await router.close();
    host.closeAllConnections();
    await new Promise<void>((resolve) => host.close(() => resolve()));
  });

  it('keeps every stream of the tenant open through a forged {"signIn": null} sign-out', async () => {
    // Setup
    const tenant = await createTenant(server.owner);
    const agent = await createAgent(server.owner, tenant);
    const streams = await Promise.all([1, 2].map(() => openStreamAt(`${base}/stream`, { 'x-tenant': tenant })));
    await Promise.all(streams.map((s) => s.next('snapshot')));
    const open = streams.map(trackOpen);

    // Action
    await attacker.query(`select pg_notify('presence_sign_in_ended', $1)`, [JSON.stringify({ tenant, signIn: null })]);
    await attacker.query(`select pg_notify('presence_sign_in_ended', $1)`, [JSON.stringify({ tenant })]);
    await server.owner.query(`select presence.heartbeat($1, $2, 'tab')`, [tenant, agent]);
    const real = await streams[0]!.next('status', (d) => d.agentId === agent);

    // Assertions
    expect(real).toMatchObject({ to: 'available' });
    expect(open.map((isOpen) => isOpen())).toEqual([true, true]);
    for (const s of streams) s.close();
  });

  it('ends at once a stream opened under a sign-in the database already recorded as ended, and only that one', async () => {
    // Setup: the platform's session store still accepts a sign-in its logout already ended in presence
    const tenant = await createTenant(server.owner);
    await server.owner.query(`select presence.end_sign_in($1, null, 'signed-out')`, [tenant]);

    // Action
    const stale = await openStreamAt(`${base}/stream`, { 'x-tenant': tenant, 'x-sign-in': 'signed-out' });
    const live = await openStreamAt(`${base}/stream`, { 'x-tenant': tenant, 'x-sign-in': 'signed-in' });
    await Promise.all([stale.next('snapshot'), live.next('snapshot')]);
    const staleOpen = trackOpen(stale);
    const liveOpen = trackOpen(live);
    await until(() => !staleOpen(), 2_000);
    await new Promise((r) => setTimeout(r, 300));

    // Assertions
    expect(liveOpen()).toBe(true);
    live.close();
  });
});
