// The supervisor's console end to end in real Chromium against the real server and database: a supervisor in one
// browser context, the agent in another. Screenshots land in test-results/e2e/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../../server/config.ts';
import { CHROMIUM, haveChromium, PHONE, rowOf, signInPage, startBrowserApp, type BrowserApp } from '../helpers/browser.ts';
import type { TenantSettings } from '../helpers/db.ts';
import { createUser, type TestUser } from '../helpers/server.ts';

const SCREENSHOTS = join(projectRoot, 'test-results', 'e2e');
const { ci } = loadConfig();
if (!haveChromium && !ci) {
  console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium); in CI they fail instead`);
}

// Beats every second, so "the agent's next beat" comes within one.
const quickBeats: TenantSettings = { heartbeat_interval_s: 1, offline_after_s: 10 };

describe.skipIf(!haveChromium && !ci)('the supervisor\u2019s console in Chromium', () => {
  let app: BrowserApp;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    app = await startBrowserApp();
  }, 120_000);
  afterEach(() => app.closeContexts());
  afterAll(() => app?.close());

  /** A tenant of the test's own: an agent, a supervisor, and the reason Meeting (away). */
  async function team(): Promise<{ agent: TestUser; supervisor: TestUser; meeting: string }> {
    const agent = await createUser(app.server.owner, { tenantSettings: quickBeats, name: 'Bea Agent', role: 'support_staff' });
    const supervisor = await createUser(app.server.owner, { tenantId: agent.tenantId, name: 'Morgan Supervisor', role: 'supervisor' });
    const { rows } = await app.server.owner.query<{ id: string }>(
      `select id from presence.add_reason($1, 'away', 'Meeting')`,
      [agent.tenantId],
    );
    return { agent, supervisor, meeting: rows[0]!.id };
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  /** The agent's row's panel, opened from the list. */
  async function openPanel(page: Page, agent: TestUser): Promise<void> {
    await page.click(`${rowOf(agent.email)} button:has-text("${agent.name}")`, { timeout: 5_000 });
    await page.waitForSelector('[data-testid=agent-panel] [data-testid=day-totals]', { timeout: 5_000 });
  }

  it('a supervisor sets an agent Away · Meeting for 15 minutes; the agent sees it within 2 s and reads available once it ends', async () => {
    // Setup: the agent is signed in and beating; the supervisor watches it available.
    const { agent, supervisor } = await team();
    const agentPage = await signInPage(app, await app.context(), agent);
    const consolePage = await signInPage(app, await app.context(), supervisor);
    await consolePage.waitForSelector(rowOf(agent.email, 'available'), { timeout: 5_000 });
    await openPanel(consolePage, agent);

    // Action: Away · Meeting, ending in 15 minutes.
    const form = consolePage.locator('form.set-status');
    await form.locator('select[name=set-status]').selectOption('away');
    await form.locator('select[name=set-reason]').selectOption({ label: 'Meeting' });
    await form.locator('select[name=set-end]').selectOption('15m');
    await form.locator('button[type=submit]').click();
    const setAt = Date.now();

    // Assertions: the agent's page says so within 2 s, naming the supervisor and the end.
    await agentPage.waitForSelector('[data-testid=my-state]:has-text("Away · Meeting, set by Morgan Supervisor")', { timeout: 2_000 });
    expect(Date.now() - setAt).toBeLessThan(2_000);
    expect(await agentPage.textContent('[data-testid=my-state]')).toMatch(/until (?:[A-Z][a-z]{2} )?\d\d:\d\d$/);
    await consolePage.waitForSelector(rowOf(agent.email, 'away'), { timeout: 2_000 });
    expect(await consolePage.textContent(`${rowOf(agent.email)} [data-testid=agent-state]`)).toMatch(/^Meetingfor \d+ suntil (?:[A-Z][a-z]{2} )?\d\d:\d\dset by Morgan Supervisor$/);
    // Its beats (one a second) never undo it.
    await agentPage.waitForTimeout(2_000);
    expect(await agentPage.getAttribute(rowOf(agent.email), 'data-status')).toBe('away');
    await screenshot(consolePage, 'console-set-away-meeting');

    // Action: nobody waits 15 minutes. The owner moves the stored end a second into the past (an owner-only fixture;
    // the request path has no way to), and the agent's next beat finds it passed.
    await endChosenStatusNow(app, agent.agentId!);

    // Assertions: available again on both pages, recorded as an expiry.
    await agentPage.waitForSelector(rowOf(agent.email, 'available'), { timeout: 3_000 });
    await agentPage.waitForSelector('[data-testid=my-state]:has-text("Available")', { timeout: 2_000 });
    await consolePage.waitForSelector(rowOf(agent.email, 'available'), { timeout: 2_000 });
    await consolePage.waitForSelector('[data-testid=day-events] li[data-mechanism="expiry"]', { timeout: 3_000 });
    await screenshot(agentPage, 'agent-after-expiry');
  });

  it('fits a phone\u2019s 375 px: no horizontal scroll on the console, the agent\u2019s panel or the reasons page', async () => {
    // Setup
    const { agent, supervisor } = await team();
    await signInPage(app, await app.context(), agent);
    const phone = await signInPage(app, await app.context(PHONE), supervisor);
    await phone.waitForSelector(rowOf(agent.email, 'available'), { timeout: 5_000 });
    const overflow = () => phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);

    // Action
    const list = await overflow();
    await openPanel(phone, agent);
    const panel = await overflow();
    await screenshot(phone, 'console-phone-panel');
    await phone.click('a:has-text("Reasons")');
    await phone.waitForSelector('[data-testid=reasons-away]');
    const reasons = await overflow();

    // Assertions
    expect({ list, panel, reasons }).toEqual({ list: 0, panel: 0, reasons: 0 });
  });

  it('lets a manager add, rename, reorder and retire reasons, and the agent\u2019s picker offers the live ones', async () => {
    // Setup
    const { agent, supervisor } = await team();
    const page = await signInPage(app, await app.context(), supervisor);
    await page.click('a:has-text("Reasons")');

    // Action
    await page.fill('#new-reason-label', 'Lunch');
    await page.fill('#new-reason-minutes', '30');
    await page.click('form.add-reason button[type=submit]');
    await page.waitForSelector('[data-testid=reasons-away] li[data-label="Lunch"]');
    await page.click('button[aria-label="Move Lunch up"]');
    await page.waitForSelector('[data-testid=reasons-away] li:first-child[data-label="Lunch"]');
    await page.fill('[data-testid=reasons-away] li[data-label="Meeting"] input', 'Team meeting');
    await page.click('[data-testid=reasons-away] li[data-label="Meeting"] button:has-text("Rename")');
    await page.waitForSelector('[data-testid=reasons-away] li[data-label="Team meeting"]');
    await page.click('[data-testid=reasons-away] li[data-label="Lunch"] button:has-text("Retire")');
    await page.waitForSelector('[data-testid=reasons-away] li.reason-retired[data-label="Lunch"]');
    const agentPage = await signInPage(app, await app.context(), agent);
    await agentPage.selectOption('select[name=status]', 'away');
    await agentPage.waitForSelector('select[name=reason]');

    // Assertions
    const offered = await agentPage.$$eval('select[name=reason] option', (options) => options.map((o) => o.textContent));
    expect(offered).toEqual(['No reason', 'Team meeting']);
  });
});

/** Owner-only: the agent's chosen status ends a second ago (the stored `until` moved into the past). */
async function endChosenStatusNow(app: BrowserApp, agentId: string): Promise<void> {
  await app.server.owner.query(
    `update presence_private.agent_state set chosen_until = now() - interval '1 second' where agent_id = $1`,
    [agentId],
  );
}
