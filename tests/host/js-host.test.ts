// A platform's host in plain JavaScript on Node 20, with no TypeScript loader, imports agent-presence/server from
// node_modules as the package exports it (built JavaScript with type declarations), mounts the router behind its
// own authentication and drives it over real HTTP. The platform's tables have bigint keys, as a Rails-style platform
// would have them, and were adopted by the migrations.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withClient } from '../../db/client.ts';
import { projectRoot } from '../../db/database.ts';
import { migrate } from '../../db/migrate.ts';
import { scratchDatabase } from '../helpers/db.ts';

const run = promisify(execFile);

const HOST = `// The platform's server: its own sign-in (a bearer token per user), the presence router behind it.
import express from 'express';
import pg from 'pg';
import { presenceRouter } from 'agent-presence/server';

const users = JSON.parse(process.env.PLATFORM_USERS);           // token -> { tenantId, agentId, sessionId, userId, name, role }
const pool = new pg.Pool({ connectionString: process.env.APP_DATABASE_URL });

function requireAuth(req, res, next) {
  const token = (req.get('authorization') ?? '').replace(/^Bearer /, '') || new URL(req.url, 'http://x').searchParams.get('token');
  req.user = users[token];
  if (!req.user) return res.status(401).json({ error: 'platform says: sign in', code: 'platform_unauthenticated' });
  next();
}

const app = express();
app.use('/api/presence', requireAuth, presenceRouter({
  pool,
  identify: (req) => ({
    tenantId: req.user.tenantId,
    agentId: req.user.agentId,
    signIn: req.user.sessionId,
    actor: { id: req.user.userId, name: req.user.name },
    canManage: req.user.role === 'manager',
  }),
}));
const server = app.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

interface Host {
  child: ChildProcess;
  url: string;
}

let work: string;
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let owner: pg.Pool;
let host: Host;
const hostRole = `platform_app_${randomUUID().slice(0, 8)}`;
const tokens = { agent: randomUUID(), other: randomUUID(), supervisor: randomUUID() };
const ids: Record<string, string> = {};

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'presence-js-host-'));
  // The package as a platform gets it: package.json and the built dist/, in the host's node_modules.
  const pkg = join(work, 'node_modules', 'agent-presence');
  mkdirSync(pkg, { recursive: true });
  await run(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(projectRoot, 'server', 'tsconfig.lib.json'), '--outDir', join(pkg, 'dist')], { cwd: projectRoot });
  cpSync(join(projectRoot, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(projectRoot, 'node_modules'), join(pkg, 'node_modules'));
  symlinkSync(join(projectRoot, 'node_modules', 'express'), join(work, 'node_modules', 'express'));
  symlinkSync(join(projectRoot, 'node_modules', 'pg'), join(work, 'node_modules', 'pg'));
  writeFileSync(join(work, 'host.mjs'), HOST);

  // The platform's database: its own tables with bigint keys and rows, then the migrations.
  scratch = await scratchDatabase('jshost');
  owner = new pg.Pool({ connectionString: scratch.url, max: 3 });
  await owner.query(`
    create table tenants (id bigserial primary key, name text not null);
    create table human_agents (id bigserial primary key, tenant_id bigint not null references tenants, name text not null,
                               email text not null, status text not null default 'offline');
    insert into tenants (name) values ('Acme'), ('Globex');
    insert into human_agents (tenant_id, name, email) values (1, 'Ann', 'ann@acme.test'), (1, 'Bo', 'bo@acme.test'),
                                                             (2, 'Gus', 'gus@globex.test');`);
  await migrate(scratch.url);
  // The platform's app role: a login that is a member of presence_app only.
  await owner.query(`create role ${hostRole} login password 'host-password' in role presence_app`);
  const appUrl = new URL(scratch.url);
  appUrl.username = hostRole;
  appUrl.password = 'host-password';
  Object.assign(ids, { ann: '1', bo: '2', gus: '3' });

  const users = {
    [tokens.agent]: { tenantId: 1, agentId: 1, sessionId: 'platform-session-ann', userId: 'u-ann', name: 'Ann', role: 'agent' },
    [tokens.other]: { tenantId: 2, agentId: 3, sessionId: 'platform-session-gus', userId: 'u-gus', name: 'Gus', role: 'agent' },
    [tokens.supervisor]: { tenantId: 1, agentId: null, sessionId: 'platform-session-sue', userId: 'u-sue', name: 'Sue', role: 'manager' },
  };
  const child = spawn(process.execPath, [join(work, 'host.mjs')], {
    cwd: work,
    env: { PATH: process.env.PATH, APP_DATABASE_URL: appUrl.toString(), PLATFORM_USERS: JSON.stringify(users) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => (output += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d;
      const m = /listening (\d+)/.exec(output);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`the host exited with ${code}:\n${output}`)));
  });
  host = { child, url: `http://127.0.0.1:${port}/api/presence` };
}, 120_000);

afterAll(async () => {
  host?.child.kill('SIGTERM');
  await owner?.end();
  await scratch?.drop();
  // Roles are the cluster's, not the database's.
  await withClient(inject('databaseUrl'), (admin) => admin.query(`drop role if exists ${hostRole}`));
  if (work) rmSync(work, { recursive: true, force: true });
});

const as = (token: string, init: RequestInit = {}) => ({
  ...init,
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) },
});

describe('a plain JavaScript host', () => {
  it('imports agent-presence/server with plain node: the export is built JavaScript with type declarations', () => {
    // Assertions
    const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
    expect(manifest.exports['./server']).toEqual({
      types: './dist/server/presence/index.d.ts',
      default: './dist/server/presence/index.js',
    });
    expect(host.url).toMatch(/^http:/);
  });

  it("answers the platform's own 401 in front of the router, and the router's 401 only where identify says null", async () => {
    // Action
    const res = await fetch(`${host.url}/heartbeat`, { method: 'POST' });

    // Assertions
    expect(res.status).toBe(401);
    expect((await res.json()).code).toBe('platform_unauthenticated');
  });

  it("beats with the platform's own bigint ids and shows the agent to its tenant only", async () => {
    // Action
    const beat = await fetch(`${host.url}/heartbeat`, as(tokens.agent, { method: 'POST', body: JSON.stringify({ sessionId: 'tab-1' }) }));
    const mine = await (await fetch(`${host.url}/agents`, as(tokens.supervisor))).json();
    const theirs = await (await fetch(`${host.url}/agents`, as(tokens.other))).json();

    // Assertions
    expect(beat.status).toBe(200);
    expect(await beat.json()).toMatchObject({ status: 'available', intervalMs: 30_000 });
    expect(mine.agents.map((a: { id: string; status: string }) => [a.id, a.status])).toEqual([
      ['1', 'available'],
      ['2', 'offline'],
    ]);
    expect(theirs.agents.map((a: { id: string }) => a.id)).toEqual(['3']);
    // This platform has no last_seen: presence keeps the beat in its own state and adds no column to the platform's.
    const { rows } = await owner.query(
      `select h.status, s.last_seen is not null as seen,
              exists (select 1 from information_schema.columns c
                       where c.table_name = 'human_agents' and c.column_name = 'last_seen') as platform_has_last_seen
         from human_agents h join presence_private.agent_state s on s.agent_id = h.id where h.id = 1`,
    );
    expect(rows[0]).toEqual({ status: 'available', seen: true, platform_has_last_seen: false });
  });

  it("streams the tenant's transitions to a watcher, and the tab's goodbye turns the agent offline", async () => {
    // Setup: the supervisor's stream (EventSource sends cookies; this platform takes the token in the query)
    const controller = new AbortController();
    const stream = await fetch(`${host.url}/stream?token=${tokens.supervisor}`, { signal: controller.signal });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const waitFor = async (pattern: RegExp) => {
      const deadline = Date.now() + 5_000;
      while (!pattern.test(seen)) {
        if (Date.now() > deadline) throw new Error(`not seen on the stream: ${pattern}\n${seen}`);
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        seen += decoder.decode(value, { stream: true });
      }
    };
    await waitFor(/event: snapshot/);

    // Action
    await fetch(`${host.url}/heartbeat`, as(tokens.agent, { method: 'POST', body: JSON.stringify({ sessionId: 'tab-2' }) }));
    const leave1 = await fetch(`${host.url}/leave`, as(tokens.agent, { method: 'POST', body: JSON.stringify({ sessionId: 'tab-1' }) }));
    const leave2 = await fetch(`${host.url}/leave`, {
      method: 'POST',
      body: JSON.stringify({ sessionId: 'tab-2' }),
      headers: { authorization: `Bearer ${tokens.agent}`, 'content-type': 'text/plain;charset=UTF-8' },
    });

    // Assertions
    await waitFor(/"agentId":"1","from":"available","to":"offline","chosenStatus":"available","mechanism":"left"/);
    controller.abort();
    expect([leave1.status, leave2.status]).toEqual([204, 204]);
    const { rows } = await owner.query(
      `select h.status, s.status_mechanism from human_agents h join presence_private.agent_state s on s.agent_id = h.id
        where h.id = 1`,
    );
    expect(rows[0]).toEqual({ status: 'offline', status_mechanism: 'left' });
  });

  it('answers 403 for a watcher who sets a status, and 404 for another tenant\'s agent history', async () => {
    // Action
    const status = await fetch(`${host.url}/status`, as(tokens.supervisor, { method: 'PUT', body: JSON.stringify({ status: 'dnd' }) }));
    const history = await fetch(`${host.url}/agents/${ids.gus}/history`, as(tokens.supervisor));
    const garbage = await fetch(`${host.url}/agents/not-a-number/history`, as(tokens.supervisor));

    // Assertions
    expect(status.status).toBe(403);
    expect(history.status).toBe(404);
    expect(garbage.status).toBe(400);
    expect((await garbage.json()).error).toMatch(/bigint.*not-a-number/);
  });

  it("a manager sets an agent's status through the platform's mount: 200 with the agent, 403 for an agent, 404 across tenants", async () => {
    // Setup
    await fetch(`${host.url}/heartbeat`, as(tokens.agent, { method: 'POST', body: JSON.stringify({ sessionId: 'tab-3' }) }));
    const until = new Date(Date.now() + 15 * 60_000).toISOString();

    // Action
    const set = await fetch(`${host.url}/agents/${ids.ann}/status`, as(tokens.supervisor, { method: 'PUT', body: JSON.stringify({ status: 'away', until }) }));
    const byAgent = await fetch(`${host.url}/agents/${ids.bo}/status`, as(tokens.agent, { method: 'PUT', body: JSON.stringify({ status: 'offline' }) }));
    const across = await fetch(`${host.url}/agents/${ids.gus}/status`, as(tokens.supervisor, { method: 'PUT', body: JSON.stringify({ status: 'offline' }) }));
    const beat = await fetch(`${host.url}/heartbeat`, as(tokens.agent, { method: 'POST', body: JSON.stringify({ sessionId: 'tab-3' }) }));

    // Assertions
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({
      status: 'away',
      agent: { id: ids.ann, status: 'away', chosenStatus: 'away', mechanism: 'supervisor', until, setBy: { id: 'u-sue', name: 'Sue' } },
    });
    expect([byAgent.status, (await byAgent.json()).code]).toEqual([403, 'forbidden']);
    expect([across.status, (await across.json()).code]).toEqual([404, 'not_found']);
    expect((await beat.json()).status).toBe('away');
  });
});
