import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../server/config.ts';
import { agentRow, createTenant, testPool } from '../helpers/db.ts';
import { call, signIn, startTestServer } from '../helpers/server.ts';

const run = promisify(execFile);
const db = testPool();
afterAll(() => db.end());

/** Runs the real `presence` bin against the test database. */
async function presence(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(projectRoot, 'server', 'cli', 'bin.js'), ...args], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl') },
      cwd: projectRoot,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('presence CLI', () => {
  it('create-tenant --json prints the new tenant\'s id', async () => {
    // Action
    const name = `CLI tenant ${randomUUID()}`;
    const res = await presence('create-tenant', '--name', name, '--json');

    // Assertions
    expect(res.code).toBe(0);
    const { id } = JSON.parse(res.stdout);
    const { rows } = await db.query('select name from tenants where id = $1', [id]);
    expect(rows).toEqual([{ name }]);
  });

  it('create-agent makes an agent who can sign in with that password', async () => {
    // Setup
    const tenant = await createTenant(db);
    const email = `cli-${randomUUID()}@example.com`;

    // Action
    const res = await presence(
      'create-agent', '--tenant', tenant, '--email', email, '--name', 'Casey CLI', '--password', 's3cret-enough',
      '--role', 'client_admin', '--max-chats', '3', '--json',
    );

    // Assertions
    expect(res.code).toBe(0);
    const { id, userId } = JSON.parse(res.stdout);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);
    const server = await startTestServer();
    try {
      const cookie = await signIn(server, { email, password: 's3cret-enough' });
      const me = await call(server, 'GET', '/api/auth/me', { cookie });
      expect(me.body.user).toMatchObject({ role: 'client_admin', name: 'Casey CLI' });
      expect(me.body.agent.id).toBe(id);
    } finally {
      await server.close();
    }
  });

  it('create-agent refuses an unknown role', async () => {
    // Setup
    const tenant = await createTenant(db);

    // Action
    const res = await presence(
      'create-agent', '--tenant', tenant, '--email', `x-${randomUUID()}@example.com`, '--name', 'X', '--password', 'long-enough-pw',
      '--role', 'boss',
    );

    // Assertions
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/boss/);
  });

  it('create-agent refuses a password shorter than 8 characters, naming the rule, and creates nobody', async () => {
    // Setup
    const tenant = await createTenant(db);
    const email = `short-${randomUUID()}@example.com`;

    // Action
    const res = await presence('create-agent', '--tenant', tenant, '--email', email, '--name', 'Short', '--password', 'x');

    // Assertions
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/password must have between 8 and 1024 characters, got 1/);
    expect((await db.query('select 1 from human_agents where email = $1', [email])).rowCount).toBe(0);
  });

  it('mark-offline takes a stuck agent offline now, reason admin', async () => {
    // Setup
    const tenant = await createTenant(db);
    const email = `stuck-${randomUUID()}@example.com`;
    const { id } = JSON.parse(
      (await presence('create-agent', '--tenant', tenant, '--email', email, '--name', 'Stuck', '--password', 'long-enough-pw', '--json')).stdout,
    );
    await db.query(`select presence.heartbeat($1, $2, 'tab-1')`, [tenant, id]);

    // Action
    const res = await presence('mark-offline', '--email', email.toUpperCase(), '--json');

    // Assertions
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ id, from: 'available', status: 'offline' });
    expect(await agentRow(db, id)).toMatchObject({ status: 'offline', status_reason: 'admin' });
  });

  it('mark-offline of an unknown e-mail fails with a message naming it', async () => {
    // Action
    const res = await presence('mark-offline', '--email', 'nobody-at-all@example.com');

    // Assertions
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no agent with e-mail nobody-at-all@example.com/);
  });

  it('sign-out revokes every sign-in session of a user', async () => {
    // Setup
    const tenant = await createTenant(db);
    const email = `signout-${randomUUID()}@example.com`;
    await presence('create-agent', '--tenant', tenant, '--email', email, '--name', 'Sid', '--password', 'pw-signout');
    const server = await startTestServer();
    try {
      const cookie = await signIn(server, { email, password: 'pw-signout' });

      // Action
      const res = await presence('sign-out', '--email', email, '--json');

      // Assertions
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({ revoked: 1 });
      expect((await call(server, 'GET', '/api/auth/me', { cookie })).status).toBe(401);
    } finally {
      await server.close();
    }
  });

  it('unlock --email lifts a sign-in lock: it names how many failures it forgot, and the right password signs in again', async () => {
    // Setup: 10 wrong passwords from one address lock the account there.
    const tenant = await createTenant(db);
    const email = `unlock-${randomUUID()}@example.com`;
    await db.query(`select presence_accounts.create_account($1, $2, 'Uma', 'support_staff', 'pw-unlock-me')`, [tenant, email]);
    const signInFrom = async (password: string) =>
      (
        await db.query<{ outcome: string }>('select outcome from presence_accounts.sign_in($1, $2, $3, $4, 3600)', [
          email,
          password,
          '198.51.100.77',
          randomBytes(32),
        ])
      ).rows[0]!.outcome;
    for (let i = 0; i < 10; i++) await signInFrom('wrong password');
    expect(await signInFrom('pw-unlock-me')).toBe('rate_limited');

    // Action
    const json = await presence('unlock', '--email', email.toUpperCase(), '--json');
    const again = await presence('unlock', '--email', email, '--address', '198.51.100.77');

    // Assertions
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ email: email.toUpperCase(), address: null, cleared: 10 });
    expect(again).toMatchObject({ code: 0, stdout: `${email} from 198.51.100.77: no failed sign-ins to forget\n` });
    expect(await signInFrom('pw-unlock-me')).toBe('ok');
  });

  it('unlock --address alone forgets every failure from that address; without either it fails naming both options', async () => {
    // Setup
    const address = `test-${randomUUID()}`;
    for (let i = 0; i < 3; i++) {
      await db.query('select presence_accounts.sign_in($1, $2, $3, $4, 3600)', [
        `nobody-${i}@example.com`,
        'wrong password',
        address,
        randomBytes(32),
      ]);
    }

    // Action
    const byAddress = await presence('unlock', '--address', address);
    const neither = await presence('unlock');

    // Assertions
    expect(byAddress).toMatchObject({ code: 0, stdout: `from ${address}: 3 failed sign-in(s) forgotten, the lock is lifted\n` });
    expect(neither.code).toBe(1);
    expect(neither.stderr).toMatch(/unlock needs --email, --address or both/);
  });

  it('status lists a tenant\'s agents with their derived status, as text and as JSON', async () => {
    // Setup
    const tenant = await createTenant(db);
    const email = `status-${randomUUID()}@example.com`;
    const { id } = JSON.parse(
      (await presence('create-agent', '--tenant', tenant, '--email', email, '--name', 'Sky Status', '--password', 'long-enough-pw', '--json')).stdout,
    );
    await db.query(`select presence.heartbeat($1, $2, 'tab-1')`, [tenant, id]);

    // Action
    const text = await presence('status', '--tenant', tenant);
    const json = await presence('status', '--tenant', tenant, '--json');

    // Assertions
    expect(text.stdout).toMatch(/Sky Status\s+\S+\s+available\s+available\s+\d+ s ago\s+0\/5/);
    expect(JSON.parse(json.stdout).agents).toEqual([
      expect.objectContaining({ id, email, status: 'available', activeChats: 0, maxChats: 5 }),
    ]);
  });

  it('cron names the scheduler that runs the sweep, as presence.sweep_scheduler() does', async () => {
    // Action
    const res = await presence('cron', '--json');

    // Assertions
    expect(res.code).toBe(0);
    const { rows } = await db.query('select * from presence.sweep_scheduler()');
    const out = JSON.parse(res.stdout);
    expect(out).toMatchObject({ scheduler: rows[0].scheduler, schedule: rows[0].schedule });
    expect(Array.isArray(out.runs)).toBe(true);
  });
  it('status --tenant with a value that is not a tenant id, or of no tenant, exits 1 naming it', async () => {
    // Action
    const notAnId = await presence('status', '--tenant', 'nope');
    const noSuch = await presence('status', '--tenant', '00000000-0000-4000-8000-000000000000', '--json');

    // Assertions
    expect([notAnId.code, noSuch.code]).toEqual([1, 1]);
    expect(notAnId.stdout).toBe('');
    expect(notAnId.stderr.trim()).toBe(`presence: --tenant 'nope' is not a tenant id (invalid input syntax for type uuid: "nope")`);
    expect(noSuch.stdout).toBe('');
    expect(noSuch.stderr.trim()).toBe(`presence: --tenant '00000000-0000-4000-8000-000000000000': no such tenant`);
  });

  it('create-agent --tenant with a value that is not a tenant id, or of no tenant, exits 1 naming it and creates nobody', async () => {
    // Setup
    const email = `no-tenant-${randomUUID()}@example.com`;
    const args = ['--email', email, '--name', 'Nobody', '--password', 'long-enough-pw'];

    // Action
    const notAnId = await presence('create-agent', '--tenant', 'nope', ...args);
    const noSuch = await presence('create-agent', '--tenant', '00000000-0000-4000-8000-000000000000', ...args);

    // Assertions
    expect([notAnId.code, noSuch.code]).toEqual([1, 1]);
    expect(notAnId.stderr.trim()).toBe(`presence: --tenant 'nope' is not a tenant id (invalid input syntax for type uuid: "nope")`);
    expect(noSuch.stderr.trim()).toBe(`presence: --tenant '00000000-0000-4000-8000-000000000000': no such tenant`);
    expect((await db.query('select 1 from presence_accounts.users where email = $1', [email])).rowCount).toBe(0);
  });

  it('migrate says who sweeps with one "sweep:" label in text and none inside the JSON value', async () => {
    // Action
    const text = await presence('migrate');
    const json = await presence('migrate', '--json');

    // Assertions
    expect([text.code, json.code]).toEqual([0, 0]);
    expect(text.stdout).toMatch(/^sweep: pg_cron job presence-sweep, schedule '[^']+'$/m);
    expect(text.stdout).not.toMatch(/sweep: sweep:/);
    expect(JSON.parse(json.stdout)).toEqual({ applied: [], sweep: expect.stringMatching(/^pg_cron job presence-sweep, schedule '[^']+'$/) });
  });
});
