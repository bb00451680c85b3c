import { afterAll, describe, expect, it } from 'vitest';
import { agentRow, beat, beats, createAgent, createTenant, testPool } from '../helpers/db.ts';

const db = testPool();
afterAll(() => db.end());

async function snapshot(agent: string) {
  const { rows } = await db.query(
    `select to_jsonb(a) as agent,
            (select count(*) from presence_private.sessions s where s.agent_id = a.id)::int as sessions,
            (select count(*) from presence.status_events e where e.agent_id = a.id)::int as events
       from human_agents a where a.id = $1`,
    [agent],
  );
  return rows[0];
}

describe('bad input', () => {
  it('a wrong tenant/agent pair is refused with PRAGT naming both, and changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const otherTenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    const before = await snapshot(agent);

    // Action / Assertions
    for (const [sql, params] of [
      ['select * from presence.heartbeat($1, $2, $3)', [otherTenant, agent, 'tab']],
      ['select presence.end_session($1, $2, $3)', [otherTenant, agent, 'tab']],
      ['select presence.set_status($1, $2, $3)', [otherTenant, agent, 'dnd']],
      ['select presence.mark_offline($1, $2)', [otherTenant, agent]],
      ['select presence.end_sign_in($1, $2, $3)', [otherTenant, agent, 'sign-in']],
      ['select * from presence.agent_history($1, $2)', [otherTenant, agent]],
      ['select * from presence.heartbeats($1, $2, $3, $4, $5)', [[otherTenant], [agent], ['tab'], ['active'], [null]]],
    ] as const) {
      await expect(db.query(sql, [...params]), sql).rejects.toMatchObject({
        code: 'PRAGT',
        message: `no agent ${agent} in tenant ${otherTenant}`,
      });
    }
    expect(await snapshot(agent)).toEqual(before);
  });

  it('an unknown agent is refused with the same message as a foreign one', async () => {
    const tenant = await createTenant(db);
    await expect(
      db.query('select * from presence.heartbeat($1, $2, $3)', [tenant, '00000000-0000-0000-0000-000000000000', 'tab']),
    ).rejects.toMatchObject({ code: 'PRAGT', message: `no agent 00000000-0000-0000-0000-000000000000 in tenant ${tenant}` });
  });

  it('one bad beat fails the whole batch, and the batch changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const good = await createAgent(db, tenant);
    await beat(db, tenant, good, 'tab');
    const before = await snapshot(good);

    // Action
    const attempt = beats(db, [
      { tenantId: tenant, agentId: good, tabId: 'tab' },
      { tenantId: tenant, agentId: good, tabId: 'new-tab', activity: 'idle' },
      { tenantId: tenant, agentId: '00000000-0000-0000-0000-000000000000', tabId: 'tab' },
    ]);

    // Assertions
    await expect(attempt).rejects.toMatchObject({ code: 'PRAGT' });
    expect(await snapshot(good)).toEqual(before);
  });

  it('a beat naming another tenant fails the batch even beside a right beat of the same tab, in either order', async () => {
    // Setup: a live agent whose tab would take the fast path.
    const tenant = await createTenant(db);
    const otherTenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    const before = await snapshot(agent);
    const right = { tenantId: tenant, agentId: agent, tabId: 'tab' };
    const wrong = { tenantId: otherTenant, agentId: agent, tabId: 'tab' };

    // Action / Assertions
    for (const batch of [
      [right, wrong],
      [wrong, right],
    ]) {
      await expect(beats(db, batch)).rejects.toMatchObject({ code: 'PRAGT', message: `no agent ${agent} in tenant ${otherTenant}` });
    }
    expect(await snapshot(agent)).toEqual(before);
  });

  it('a batch whose arrays differ in length is refused with PRUSR naming each length', async () => {
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await expect(
      db.query('select * from presence.heartbeats($1, $2, $3, $4, $5)', [[tenant], [agent], ['tab', 'tab-2'], ['active'], [null]]),
    ).rejects.toMatchObject({
      code: 'PRUSR',
      message: 'the arrays of a heartbeat batch must have one element per beat, got 1 tenants, 1 agents, 2 tabs, 1 activities, 1 sign-ins',
    });
  });

  it('an id that is not of the platform\'s key type is refused by PostgreSQL before anything runs', async () => {
    const tenant = await createTenant(db);
    await expect(db.query('select * from presence.heartbeat($1, $2, $3)', [tenant, '42', 'tab'])).rejects.toMatchObject({
      code: '22P02',
    });
  });

  it('a blank or over-long sign-in id is refused with PRSES, and sign-out needs one', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const before = await snapshot(agent);

    // Action / Assertions
    for (const [signIn, message] of [
      ['', `sign-in id must be null or a non-empty string of at most 200 characters, got ''`],
      [' ', `sign-in id must be null or a non-empty string of at most 200 characters, got ' '`],
      ['x'.repeat(201), 'sign-in id must be null or a non-empty string of at most 200 characters, got 201 characters'],
    ] as const) {
      await expect(beat(db, tenant, agent, 'tab', 'active', signIn)).rejects.toMatchObject({ code: 'PRSES', message });
      await expect(db.query('select presence.end_sign_in($1, $2, $3)', [tenant, agent, signIn])).rejects.toMatchObject({
        code: 'PRSES',
        message,
      });
    }
    await expect(db.query('select presence.end_sign_in($1, $2, null)', [tenant, agent])).rejects.toMatchObject({
      code: 'PRSES',
      message: 'sign-in id must be a non-empty string, got null',
    });
    expect(await snapshot(agent)).toEqual(before);
  });

  it('a history range that is empty or reversed is refused with PRUSR', async () => {
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await expect(
      db.query('select * from presence.agent_history($1, $2, $3, $4)', [tenant, agent, '2000-01-02Z', '2000-01-01Z']),
    ).rejects.toMatchObject({ code: 'PRUSR', message: expect.stringContaining('history range must have from before to') });
  });

  it('a chat for an unknown tenant is refused with PRTEN', async () => {
    await expect(db.query('select presence.open_chat($1)', ['00000000-0000-0000-0000-000000000000'])).rejects.toMatchObject({
      code: 'PRTEN',
      message: 'no tenant 00000000-0000-0000-0000-000000000000',
    });
  });

  it('an unknown status is refused with PRSTA naming the value and the allowed ones, and changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    const before = await snapshot(agent);

    // Action / Assertions
    await expect(db.query('select presence.set_status($1, $2, $3)', [tenant, agent, 'busy'])).rejects.toMatchObject({
      code: 'PRSTA',
      message: `unknown status 'busy': expected one of available, away, dnd, offline`,
    });
    await expect(db.query('select presence.set_status($1, $2, null)', [tenant, agent])).rejects.toMatchObject({
      code: 'PRSTA',
      message: expect.stringContaining('unknown status null'),
    });
    expect(await snapshot(agent)).toEqual(before);
  });

  it('an unknown activity is refused with PRACT naming the value, and changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');
    const before = await snapshot(agent);

    // Action / Assertions
    await expect(beat(db, tenant, agent, 'tab', 'sleepy')).rejects.toMatchObject({
      code: 'PRACT',
      message: `unknown activity 'sleepy': expected active or idle`,
    });
    expect(await snapshot(agent)).toEqual(before);
  });

  it('a null, empty, blank or over-long session id is refused with PRSES, and changes nothing', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    const before = await snapshot(agent);

    // Action / Assertions
    for (const [session, message] of [
      [null, 'session id must be a non-empty string, got null'],
      ['', `session id must be a non-empty string, got ''`],
      ['   ', `session id must be a non-empty string, got '   '`],
      ['x'.repeat(201), 'session id must be at most 200 characters, got 201 characters'],
    ] as const) {
      await expect(db.query('select * from presence.heartbeat($1, $2, $3)', [tenant, agent, session])).rejects.toMatchObject({
        code: 'PRSES',
        message,
      });
      await expect(db.query('select presence.end_session($1, $2, $3)', [tenant, agent, session])).rejects.toMatchObject({
        code: 'PRSES',
      });
    }
    expect(await snapshot(agent)).toEqual(before);
  });

  it('an unknown reason for ending a session is refused with PRRSN naming it', async () => {
    // Setup
    const tenant = await createTenant(db);
    const agent = await createAgent(db, tenant);
    await beat(db, tenant, agent, 'tab');

    // Action / Assertions
    await expect(db.query('select presence.end_session($1, $2, $3, $4)', [tenant, agent, 'tab', 'timeout'])).rejects.toMatchObject({
      code: 'PRRSN',
      message: `unknown reason 'timeout' for ending a session: expected left or logout`,
    });
    expect((await agentRow(db, agent)).status).toBe('available');
  });

  it('timing that breaks the rules is refused with PRSET naming the value, and the settings stay', async () => {
    // Setup
    const tenant = await createTenant(db, { heartbeat_interval_s: 10, offline_after_s: 30 });

    // Action / Assertions
    await expect(db.query('select presence.configure_tenant($1, p_offline_after_s => 15)', [tenant])).rejects.toMatchObject({
      code: 'PRSET',
      message: 'offline_after_s must be at least twice heartbeat_interval_s (10) and at most 86400 seconds, got 15',
    });
    await expect(db.query('select presence.configure_tenant($1, p_heartbeat_interval_s => 0)', [tenant])).rejects.toMatchObject({
      code: 'PRSET',
      message: 'heartbeat_interval_s must be between 1 and 3600 seconds, got 0',
    });
    await expect(
      db.query('select presence.configure_tenant($1, p_heartbeat_interval_s => 1)', ['00000000-0000-0000-0000-000000000000']),
    ).rejects.toMatchObject({ code: 'PRTEN' });
    const { rows } = await db.query('select heartbeat_interval_s, offline_after_s from presence.settings where tenant_id = $1', [
      tenant,
    ]);
    expect(rows[0]).toEqual({ heartbeat_interval_s: 10, offline_after_s: 30 });
  });

  it('the table itself refuses settings where offline_after_s is under two beats', async () => {
    const tenant = await createTenant(db);
    await expect(
      db.query('insert into presence.tenant_settings (tenant_id, heartbeat_interval_s, offline_after_s) values ($1, 30, 45)', [tenant]),
    ).rejects.toMatchObject({ code: '23514', constraint: 'tenant_settings_offline_covers_two_beats' });
  });

  it('two agents of one tenant cannot share an email, whatever its case', async () => {
    const tenant = await createTenant(db);
    await createAgent(db, tenant, { email: 'Sam@Example.com' });
    await expect(createAgent(db, tenant, { email: 'sam@example.com' })).rejects.toMatchObject({
      code: '23505',
      constraint: 'human_agents_tenant_email_key',
    });
    await expect(createAgent(db, await createTenant(db), { email: 'sam@example.com' })).resolves.toEqual(expect.any(String));
  });
});
