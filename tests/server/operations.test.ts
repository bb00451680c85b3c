import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, signedInUser, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('GET /healthz', () => {
  it('answers 200 while the database answers', async () => {
    // Action
    const res = await call(server, 'GET', '/healthz');

    // Assertions
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('answers 503 when the database is gone, and unexpected failures are 500s that leak nothing', async () => {
    // Setup
    const broken = await startTestServer();
    const ada = await signedInUser(broken);
    // A pool that was ended by mistake: every query fails with an error that is not an outage.
    await broken.services.presence.close();
    await broken.services.db.end();

    // Action
    const health = await call(broken, 'GET', '/healthz');
    const agents = await call(broken, 'GET', '/api/agents', { cookie: ada.cookie });
    await broken.close().catch(() => {});

    // Assertions
    expect(health).toMatchObject({ status: 503, body: { code: 'unavailable' } });
    expect(agents).toEqual(expect.objectContaining({ status: 500, body: { error: 'internal error', code: 'internal' } }));
  });
});

describe('GET /metrics', () => {
  it('counts heartbeats with their latency, sweeps and agents swept', async () => {
    // Setup
    const ada = await signedInUser(server, { tenantSettings: { heartbeat_interval_s: 1, offline_after_s: 2 } });
    await call(server, 'POST', '/api/auth/heartbeat', { cookie: ada.cookie, body: { sessionId: 'tab-1' } });
    await server.owner.query(
      `update presence_private.agent_state set last_seen = now() - interval '1 minute' where agent_id = $1`,
      [ada.agentId],
    );
    await server.owner.query('select presence.sweep_stale_agents()');
    // The timeout reaches the process as a notification, after the sweep's commit.
    let res = await call(server, 'GET', '/metrics');
    for (let i = 0; i < 50 && !/^presence_agents_swept_total [1-9]/m.test(res.body as string); i++) {
      await new Promise((r) => setTimeout(r, 50));
      res = await call(server, 'GET', '/metrics');
    }

    // Action
    res = await call(server, 'GET', '/metrics');

    // Assertions
    expect(res.status).toBe(200);
    const text = res.body as string;
    expect(Number(/^presence_heartbeats_total\{outcome="beat"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^presence_heartbeat_duration_seconds_count (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/^presence_agents_swept_total (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^presence_sweeps \d+/m);
    expect(text).toMatch(/^presence_open_streams \d+/m);
  });
});

describe('errors', () => {
  it('answers malformed JSON with a 400', async () => {
    // Setup
    const ada = await signedInUser(server);

    // Action
    const res = await call(server, 'POST', '/api/auth/heartbeat', {
      cookie: ada.cookie,
      body: '{"sessionId": ',
      headers: { 'content-type': 'application/json' },
    });

    // Assertions
    expect(res).toMatchObject({ status: 400, body: { code: 'malformed_json' } });
  });

  it('answers an unknown API path with a JSON 404', async () => {
    // Action
    const res = await call(server, 'GET', '/api/nothing-here');

    // Assertions
    expect(res).toMatchObject({ status: 404, body: { code: 'not_found' } });
  });
});

describe('least privilege', () => {
  it('the server\'s connections log in as presence_server, a member of presence_app only, with no way back to more', async () => {
    // Action
    const who = await server.services.db.query<{ current_user: string; superuser: boolean; member: boolean }>(
      `select current_user, r.rolsuper as superuser, pg_has_role(current_user, 'presence_app', 'usage') as member
         from pg_roles r where r.rolname = current_user`,
    );
    const refusal = (sql: string) => server.services.db.query(sql).then(() => 'allowed', (error: Error) => error.message);
    const read = await refusal('select * from public.human_agents limit 1');
    const write = await refusal(`update presence_accounts.auth_sessions set revoked_at = now()`);
    const escalate = await refusal('set role postgres');

    // Assertions
    expect(who.rows[0]).toEqual({ current_user: 'presence_server', superuser: false, member: true });
    expect(read).toMatch(/permission denied/);
    expect(write).toMatch(/permission denied/);
    expect(escalate).toMatch(/permission denied/);
  });
});

describe('the built client', () => {
  it('is served with index.html for its page paths, while unknown API paths stay JSON', async () => {
    // Setup
    const dir = mkdtempSync(join(tmpdir(), 'presence-client-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>presence client</title>');
    writeFileSync(join(dir, 'app.js'), 'console.log("app")');
    const withClient = await startTestServer({ clientDir: dir });

    // Action
    const root = await call(withClient, 'GET', '/', { headers: { accept: 'text/html' } });
    const page = await call(withClient, 'GET', '/team/timeline', { headers: { accept: 'text/html' } });
    const asset = await call(withClient, 'GET', '/app.js');
    const api = await call(withClient, 'GET', '/api/nothing', { headers: { accept: 'text/html' } });
    await withClient.close();
    rmSync(dir, { recursive: true, force: true });

    // Assertions
    expect(root.body).toMatch(/presence client/);
    expect(page).toMatchObject({ status: 200, body: expect.stringMatching(/presence client/) });
    expect(asset.body).toMatch(/console\.log/);
    expect(api).toMatchObject({ status: 404, body: { code: 'not_found' } });
  });
});

describe('resilience', () => {
  it('survives the database dropping its idle connections and answers the next request', async () => {
    // Setup
    const own = await startTestServer();
    const ada = await signedInUser(own);
    const pids = await Promise.all(
      [1, 2, 3].map(async () => (await own.services.db.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid),
    );

    // Action
    await own.owner.query('select pg_terminate_backend(pid) from unnest($1::int[]) pid', [[...new Set(pids)]]);
    await new Promise((r) => setTimeout(r, 200));
    const res = await call(own, 'GET', '/api/agents', { cookie: ada.cookie });
    await own.close();

    // Assertions
    expect(res.status).toBe(200);
  });
});
