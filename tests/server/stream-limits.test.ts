// Issue 14, finding 4: one signed-in user opened ~20,000 streams and, at the process's descriptor limit, other
// users' beats, sign-ins and /healthz got connection resets. Streams are bounded per sign-in, per tenant and per
// process; beyond, a 429 or 503 with Retry-After and a JSON {error, code}, before any query; a closed stream frees
// its slot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultMaxStreams } from '../../server/presence/descriptors.ts';
import { call, openStream, signedInUser, signIn, startTestServer, type TestServer, type TestStream } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ config: { streamsPerSignIn: 2, streamsPerTenant: 3, streamsPerProcess: 5 } });
});
afterAll(() => server.close());

const open: TestStream[] = [];
async function openOk(cookie: string): Promise<TestStream> {
  const stream = await openStream(server, cookie);
  open.push(stream);
  await stream.next('snapshot');
  return stream;
}

async function closeAll(): Promise<void> {
  for (const s of open.splice(0)) s.close();
  const deadline = Date.now() + 3_000;
  while (server.services.presence.streams.openStreams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

async function until(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('live streams are bounded', () => {
  it('one sign-in gets 429 with Retry-After beyond its limit, and a slot again once one of its streams closes', async () => {
    // Setup
    const ada = await signedInUser(server);
    const first = await openOk(ada.cookie);
    await openOk(ada.cookie);

    // Action
    const refused = await openStream(server, ada.cookie);
    first.close();
    await until(() => server.services.presence.streams.openStreams === 1);
    const again = await openStream(server, ada.cookie);
    open.push(again);

    // Assertions
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(refused.body).toEqual({ code: 'too_many_streams', error: expect.stringContaining('this sign-in has 2 live streams open') });
    expect(again.status).toBe(200);
    await closeAll();
  });

  it('another sign-in of the same user is not refused for the first one\'s streams', async () => {
    // Setup
    const ada = await signedInUser(server);
    await openOk(ada.cookie);
    await openOk(ada.cookie);
    const secondSignIn = await signIn(server, ada);

    // Action
    const other = await openStream(server, secondSignIn);
    open.push(other);

    // Assertions
    expect(other.status).toBe(200);
    await closeAll();
  });

  it('one tenant gets 429 beyond its limit in this process, whoever asks', async () => {
    // Setup: three people of one tenant, one stream each
    const ada = await signedInUser(server);
    const team = [ada, ...(await Promise.all([1, 2, 3].map(() => signedInUser(server, { tenantId: ada.tenantId }))))];
    for (const member of team.slice(0, 3)) await openOk(member.cookie);

    // Action
    const refused = await openStream(server, team[3]!.cookie);
    const otherTenant = await signedInUser(server);
    const elsewhere = await openStream(server, otherTenant.cookie);
    open.push(elsewhere);

    // Assertions
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(refused.body).toEqual({ code: 'too_many_streams', error: expect.stringContaining('your team has 3 live streams open') });
    expect(elsewhere.status).toBe(200);
    await closeAll();
  });

  it('the process answers 503 with Retry-After beyond its limit, and beats and /healthz keep answering', async () => {
    // Setup: five tenants, one stream each
    const users = await Promise.all([1, 2, 3, 4, 5, 6].map(() => signedInUser(server)));
    for (const user of users.slice(0, 5)) await openOk(user.cookie);
    // The requests' statements only: the streams just opened have their summaries read meanwhile.
    const before = server.requestQueryCount();

    // Action
    const refused = await openStream(server, users[5]!.cookie);
    const queries = server.requestQueryCount() - before;
    const health = await call(server, 'GET', '/healthz');
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie: users[5]!.cookie, body: { sessionId: 'tab' } });
    const metrics = (await call(server, 'GET', '/metrics')).body as string;

    // Assertions
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body).toEqual({ code: 'server_busy', error: expect.stringContaining('this server has 5 live streams open') });
    // the sign-in lookup only: the refusal itself costs no query
    expect(queries).toBeLessThanOrEqual(1);
    expect(health.status).toBe(200);
    expect(beat.status).toBe(200);
    expect(Number(/^presence_streams_refused_total\{limit="process"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    await closeAll();
  });
});

describe('the process default', () => {
  it('is a quarter of the descriptor limit, at most 5,000, and 1,000 where the limit cannot be read', () => {
    // Action / Assertions
    expect(defaultMaxStreams(1_024)).toBe(256);
    expect(defaultMaxStreams(20_000)).toBe(5_000);
    expect(defaultMaxStreams(1_048_576)).toBe(5_000);
    expect(defaultMaxStreams(null)).toBe(1_000);
  });
});
