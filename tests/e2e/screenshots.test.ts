// The screenshots in docs/, taken from the demo as `npm start` seeds it (in a database of this file's own), with
// three agents signed in and a supervisor at work: `npm run screenshots` runs this file and copies what it took
// from test-results/e2e/docs/ into docs/. Run on its own, it checks that the pictures can be taken.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, projectRoot } from '../../server/config.ts';
import { DEMO_PASSWORD, seedDemo } from '../../server/seed.ts';
import { DESKTOP, haveChromium, PHONE, rowOf, signInPage, startBrowserApp, type BrowserApp } from '../helpers/browser.ts';
import { migratedScratchDatabase } from '../helpers/db.ts';

const OUT = join(projectRoot, 'test-results', 'e2e', 'docs');
const { ci } = loadConfig();
const person = (email: string) => ({ email, password: DEMO_PASSWORD });

describe.skipIf(!haveChromium && !ci)('the screenshots of docs/', () => {
  let scratch: Awaited<ReturnType<typeof migratedScratchDatabase>>;
  let app: BrowserApp;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    scratch = await migratedScratchDatabase('shots');
    await seedDemo(scratch.url);
    app = await startBrowserApp({ databaseUrl: scratch.url });
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await scratch?.drop();
  });

  async function shot(page: Page, name: string, fullPage = true): Promise<void> {
    // The clock in "for 12 min" and the stream's live dot settle before the picture.
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
  }

  it('takes the console, an agent\u2019s panel, the agent\u2019s page, the reasons page and the console on a phone', async () => {
    // Setup: Sam, Priya and Chen at work; Priya chooses Do Not Disturb · Focus.
    const small = { viewport: { width: 900, height: 700 } };
    await signInPage(app, await app.context(small), person('sam.rivera@example.com'));
    const priya = await signInPage(app, await app.context(small), person('priya.patel@example.com'));
    const chen = await signInPage(app, await app.context(small), person('chen.wu@example.com'));
    await priya.selectOption('select[name=status]', 'dnd');
    await priya.waitForSelector('select[name=reason]');
    await priya.selectOption('select[name=reason]', { label: 'Focus' });

    // Action: Morgan sends Chen to a meeting for 15 minutes from the console.
    const morgan = await signInPage(app, await app.context(DESKTOP), person('morgan.supervisor@example.com'));
    await morgan.waitForSelector(rowOf('priya.patel@example.com', 'dnd'), { timeout: 5_000 });
    await morgan.click(`${rowOf('chen.wu@example.com')} button:has-text("Chen Wu")`);
    const form = morgan.locator('form.set-status');
    await form.locator('select[name=set-status]').selectOption('away');
    await form.locator('select[name=set-reason]').selectOption({ label: 'Meeting' });
    await form.locator('select[name=set-end]').selectOption('15m');
    await form.locator('button[type=submit]').click();
    await chen.waitForSelector('[data-testid=my-state]:has-text("set by Morgan Supervisor")', { timeout: 5_000 });
    await morgan.click('[data-testid=agent-panel] button:has-text("Close")');
    await morgan.waitForSelector('[data-testid=summary]');
    await shot(morgan, 'console');
    await morgan.click(`${rowOf('priya.patel@example.com')} button:has-text("Priya Patel")`);
    await morgan.waitForSelector('[data-testid=day-events]');
    await morgan.click('[data-testid=agent-panel] button:has-text("8 h")');
    await shot(morgan, 'console-agent-panel', false);
    await shot(chen, 'agent-page', false);
    await morgan.click('a:has-text("Reasons")');
    await morgan.waitForSelector('[data-testid=reasons-away]');
    await shot(morgan, 'console-reasons', false);
    const phone = await signInPage(app, await app.context(PHONE), person('morgan.supervisor@example.com'));
    await phone.waitForSelector('[data-testid=summary]');
    await shot(phone, 'console-phone', false);

    // Assertions: the pictures show what the docs say they show.
    expect(await morgan.locator('[data-testid=reasons-away] li').count()).toBe(3);
    expect(await chen.textContent('[data-testid=my-state]')).toMatch(/^Away · Meeting, set by Morgan Supervisor until (?:[A-Z][a-z]{2} )?\d\d:\d\d$/);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBe(375);
  });
});
