// End to end in real Chromium (tests/helpers/browser.ts) against the real server and database: an agent in one
// browser context, an admin watching the dashboard in another. Screenshots land in test-results/e2e/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../../server/config.ts';
import { CHROMIUM, haveChromium, startBrowserApp, type BrowserApp } from '../helpers/browser.ts';
import type { TenantSettings } from '../helpers/db.ts';
import { call, createUser, signedInUser, type TestServer, type TestUser } from '../helpers/server.ts';

const SCREENSHOTS = join(projectRoot, 'test-results', 'e2e');

const { ci } = loadConfig();
if (!haveChromium && !ci) {
  console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); in CI they fail instead`);
}

// Beats every second. Tab-close tests keep offline_after long (10 s), so only the pagehide beacon can turn the
// agent offline within 2 s; the network test uses a threshold of 3 s.
const quickBeats: TenantSettings = { heartbeat_interval_s: 1, offline_after_s: 10 };
const shortThreshold: TenantSettings = { heartbeat_interval_s: 1, offline_after_s: 3 };

describe.skipIf(!haveChromium && !ci)('the dashboard in Chromium', () => {
  let app: BrowserApp;
  let server: TestServer;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    app = await startBrowserApp();
    server = app.server;
  }, 120_000);

  afterEach(() => app.closeContexts());

  afterAll(() => app?.close());

  /** A tenant of the test's own with an agent and an admin in it. */
  async function team(settings: TenantSettings): Promise<{ agent: TestUser; admin: TestUser }> {
    const agent = await createUser(server.owner, { tenantSettings: settings, name: 'Bea Agent', role: 'support_staff' });
    const admin = await createUser(server.owner, { tenantId: agent.tenantId, name: 'Ada Admin', role: 'client_admin' });
    return { agent, admin };
  }

  async function newContext(): Promise<BrowserContext> {
    return app.context({ viewport: { width: 1000, height: 700 } });
  }

  async function signIn(context: BrowserContext, user: TestUser): Promise<Page> {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.fill('input[name=email]', user.email);
    await page.fill('input[name=password]', user.password);
    await page.click('button[type=submit]');
    return page;
  }

  /** A page that is already signed in (its context holds the cookie) showing the dashboard. */
  async function openTab(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.waitForSelector('[data-testid=agent-row]');
    return page;
  }

  const row = (email: string) => `[data-testid="agent-row"][data-email="${email}"]`;

  /** Waits until the page shows the agent with that status; returns how long that took in ms. */
  async function waitForStatus(page: Page, email: string, status: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    await page.waitForSelector(`${row(email)}[data-status="${status}"]`, { timeout: timeoutMs });
    return Date.now() - started;
  }

  async function statusOn(page: Page, email: string): Promise<string | null> {
    return page.getAttribute(row(email), 'data-status');
  }

  async function watchingAdmin(admin: TestUser, agent: TestUser): Promise<Page> {
    const page = await signIn(await newContext(), admin);
    await waitForStatus(page, agent.email, 'offline', 10_000);
    return page;
  }

  async function liveSessions(agent: TestUser): Promise<number> {
    const { rows } = await server.owner.query<{ n: number }>(
      'select count(*)::int as n from presence_private.sessions where agent_id = $1',
      [agent.agentId],
    );
    return rows[0]!.n;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  it('shows an agent available on the admin dashboard within 2 s of signing in', async () => {
    // Setup
    const { agent, admin } = await team(quickBeats);
    const dashboard = await watchingAdmin(admin, agent);

    // Action
    await signIn(await newContext(), agent);

    // Assertions
    await waitForStatus(dashboard, agent.email, 'available', 2_000);
    await screenshot(dashboard, 'agent-signed-in');
  });

  it('keeps the beat\u2019s clock in a Web Worker built from a Blob, as the compiled package does', async () => {
    // Setup
    const { agent, admin } = await team(quickBeats);
    const dashboard = await watchingAdmin(admin, agent);

    // Action
    const tab = await signIn(await newContext(), agent);
    await waitForStatus(dashboard, agent.email, 'available', 5_000);

    // Assertions: the agent's tab runs one dedicated worker, from a blob: URL.
    expect(tab.workers().map((w) => w.url())).toEqual([expect.stringMatching(/^blob:/)]);
  });

  it('keeps serving everyone after an agent who beat signs out from its dashboard with its own stream open', async () => {
    // Setup: the agent's dashboard is open (its own stream), and it has beaten; another agent is signed in elsewhere.
    const { agent, admin } = await team(quickBeats);
    const dashboard = await watchingAdmin(admin, agent);
    const tab = await signIn(await newContext(), agent);
    await tab.waitForSelector(`${row(agent.email)}[data-status="available"]`, { timeout: 5_000 });
    await waitForStatus(dashboard, agent.email, 'available', 5_000);
    const other = await signedInUser(server);
    // The test server runs in this process: an exception that would end a real server's process is caught here.
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);

    // Action
    try {
      await tab.click('button:has-text("Sign out")');
      await tab.waitForSelector('input[name=email]', { timeout: 5_000 });
      await waitForStatus(dashboard, agent.email, 'offline', 2_000);
    } finally {
      process.off('uncaughtException', record);
    }

    // Assertions: nothing would have ended the server's process, it still answers other users, and the team saw
    // the agent offline at once.
    expect(uncaught).toEqual([]);
    expect((await call(server, 'GET', '/healthz')).status).toBe(200);
    const beat = await call(server, 'POST', '/api/auth/heartbeat', { cookie: other.cookie, body: { sessionId: 'other-tab' } });
    expect(beat).toMatchObject({ status: 200, body: { status: 'available' } });
    expect(await liveSessions(agent)).toBe(0);
    expect(await dashboard.isVisible('text=Reconnecting to the server')).toBe(false);
    await screenshot(dashboard, 'agent-signed-out');
  });

  it('says it is reconnecting while the server answers 503, and stops once it answers again', async () => {
    // Setup: the server's answers to the stream and to beats are replaced by 503s in the browser, as a server
    // whose database is unreachable answers them (the shared test database stays up).
    const { agent } = await team(quickBeats);
    const context = await newContext();
    const unavailable = { status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'the database does not answer', code: 'unavailable' }) };
    const down = (route: Route) => route.fulfill(unavailable);
    await context.route('**/api/agents/stream', down);
    await context.route('**/api/auth/heartbeat', down);

    // Action
    const tab = await signIn(context, agent);
    const notice = await tab.waitForSelector('[aria-live] .banner:has-text("Reconnecting to the server")', { timeout: 5_000 });
    const live = await notice.evaluate((el) => el.closest('[aria-live]')?.getAttribute('aria-live'));
    await tab.waitForSelector('[aria-live] .banner:has-text("not reaching the server")', { timeout: 3_000 });
    await screenshot(tab, 'reconnecting');
    await context.unroute('**/api/agents/stream', down);
    await context.unroute('**/api/auth/heartbeat', down);

    // Assertions
    expect(live).toBe('polite');
    await tab.waitForSelector(`${row(agent.email)}[data-status="available"]`, { timeout: 10_000 });
    await tab.waitForSelector('text=Reconnecting to the server', { state: 'detached', timeout: 10_000 });
    await tab.waitForSelector('text=not reaching the server', { state: 'detached', timeout: 10_000 });
  });

  it('shows the agent offline within 2 s when its only tab closes', async () => {
    // Setup
    const { agent, admin } = await team(quickBeats);
    const dashboard = await watchingAdmin(admin, agent);
    const tab = await signIn(await newContext(), agent);
    await waitForStatus(dashboard, agent.email, 'available', 5_000);

    // Action
    await tab.close({ runBeforeUnload: true });

    // Assertions: the offline threshold is 10 s, so only the tab's goodbye can be this quick.
    await waitForStatus(dashboard, agent.email, 'offline', 2_000);
    expect(await liveSessions(agent)).toBe(0);
    await screenshot(dashboard, 'agent-tab-closed');
  });

  it('keeps the agent available when one of its two tabs closes', async () => {
    // Setup
    const { agent, admin } = await team(quickBeats);
    const dashboard = await watchingAdmin(admin, agent);
    const context = await newContext();
    const first = await signIn(context, agent);
    await waitForStatus(dashboard, agent.email, 'available', 5_000);
    await openTab(context);
    await waitFor(async () => (await liveSessions(agent)) === 2, 5_000);

    // Action
    await first.close({ runBeforeUnload: true });
    await waitFor(async () => (await liveSessions(agent)) === 1, 2_000);
    await dashboard.waitForTimeout(3_000);

    // Assertions
    expect(await statusOn(dashboard, agent.email)).toBe('available');
    await screenshot(dashboard, 'agent-one-of-two-tabs-closed');
  });

  it('shows the agent offline once the tenant threshold passes after its network is cut', async () => {
    // Setup
    const { agent, admin } = await team(shortThreshold);
    const dashboard = await watchingAdmin(admin, agent);
    const context = await newContext();
    const tab = await signIn(context, agent);
    await waitForStatus(dashboard, agent.email, 'available', 5_000);

    // Action
    await context.setOffline(true);
    const cut = Date.now();

    // Assertions: the agent is told, and the team sees it offline after the 3 s threshold (the server asks the
    // database at that deadline, within about a second of it).
    await tab.waitForSelector('[aria-live] .banner:has-text("not reaching the server")', { timeout: 3_000 });
    await waitForStatus(dashboard, agent.email, 'offline', 8_000);
    expect(Date.now() - cut).toBeGreaterThanOrEqual(2_000);
    await screenshot(tab, 'agent-network-cut');
    await screenshot(dashboard, 'agent-offline-after-threshold');
    // And back as soon as the network returns.
    await context.setOffline(false);
    await waitForStatus(dashboard, agent.email, 'available', 3_000);
  });

  it('shows an agent without input away after the tenant threshold and available again on its next key press', async () => {
    // Setup
    const { agent, admin } = await team({ ...quickBeats, away_after_s: 2 });
    const dashboard = await watchingAdmin(admin, agent);
    const tab = await signIn(await newContext(), agent);
    await waitForStatus(dashboard, agent.email, 'available', 5_000);

    // Action
    await waitForStatus(dashboard, agent.email, 'away', 5_000);
    await screenshot(dashboard, 'agent-idle');
    await tab.keyboard.press('Shift');

    // Assertions
    await waitForStatus(dashboard, agent.email, 'available', 2_000);
  });

  it('keeps Do Not Disturb chosen in the picker through heartbeats and a reload', async () => {
    // Setup
    const { agent, admin } = await team(quickBeats);
    const dashboard = await watchingAdmin(admin, agent);
    const tab = await signIn(await newContext(), agent);
    await waitForStatus(dashboard, agent.email, 'available', 5_000);

    // Action
    await tab.selectOption('select[name=status]', 'dnd');
    await waitForStatus(dashboard, agent.email, 'dnd', 2_000);
    await dashboard.waitForTimeout(3_000);
    const afterBeats = await statusOn(dashboard, agent.email);
    await tab.reload();
    await tab.waitForSelector(`${row(agent.email)}[data-status="dnd"]`, { timeout: 5_000 });
    await waitForStatus(dashboard, agent.email, 'dnd', 5_000);
    await dashboard.waitForTimeout(2_000);

    // Assertions
    expect(afterBeats).toBe('dnd');
    expect(await tab.inputValue('select[name=status]')).toBe('dnd');
    expect(await statusOn(dashboard, agent.email)).toBe('dnd');
    await screenshot(dashboard, 'agent-dnd-after-reload');
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
