// Real Chromium (Debian's /usr/bin/chromium driven by playwright-core, never a downloaded browser) against the real
// server: the client built from the current source into a temporary folder, so a stale client/dist never decides
// the outcome, and signed-in pages.
//   const app = await startBrowserApp();                    // in beforeAll; app.close() in afterAll
//   const page = await signInPage(await app.context(), user);
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { build } from 'vite';
import { projectRoot } from '../../server/config.ts';
import { startTestServer, type TestServer } from './server.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A phone's viewport (an iPhone SE's CSS pixels), for "works on a phone". */
export const PHONE: BrowserContextOptions = { viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };

export interface BrowserApp {
  server: TestServer;
  browser: Browser;
  /** A new browser context (a person's browser), closed by closeContexts() or close(). */
  context(options?: BrowserContextOptions): Promise<BrowserContext>;
  closeContexts(): Promise<void>;
  close(): Promise<void>;
}

export async function startBrowserApp(options: { databaseUrl?: string } = {}): Promise<BrowserApp> {
  if (!haveChromium) throw new Error(`CI needs Chromium at ${CHROMIUM} for the browser tests (apt-get install chromium)`);
  const clientDir = mkdtempSync(join(tmpdir(), 'presence-client-'));
  await build({
    configFile: join(projectRoot, 'client', 'vite.config.ts'),
    build: { outDir: clientDir, emptyOutDir: true },
    logLevel: 'warn',
  });
  const [server, browser] = await Promise.all([
    startTestServer({ clientDir, ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}) }),
    chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS }),
  ]);
  const contexts: BrowserContext[] = [];
  return {
    server,
    browser,
    async context(contextOptions = { viewport: { width: 1000, height: 700 } }) {
      const context = await browser.newContext(contextOptions);
      contexts.push(context);
      return context;
    },
    async closeContexts() {
      await Promise.all(contexts.splice(0).map((c) => c.close()));
    },
    async close() {
      await Promise.all(contexts.splice(0).map((c) => c.close()));
      await browser.close();
      await server.close();
      rmSync(clientDir, { recursive: true, force: true });
    },
  };
}

/** Signs in through the sign-in page; answers the page once it shows the team. */
export async function signInPage(app: BrowserApp, context: BrowserContext, user: { email: string; password: string }): Promise<Page> {
  const page = await context.newPage();
  await page.goto(app.server.url);
  await page.fill('input[name=email]', user.email);
  await page.fill('input[name=password]', user.password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=agent-row]', { timeout: 10_000 });
  return page;
}

/** The row of an agent on a page, by email; with a status, only while it shows that status. */
export function rowOf(email: string, status?: string): string {
  return `[data-testid="agent-row"][data-email="${email}"]${status ? `[data-status="${status}"]` : ''}`;
}

