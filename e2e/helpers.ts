/**
 * Browser test helpers: the real app listening on 127.0.0.1 (random port) in this process, and
 * Debian's Chromium (/usr/bin/chromium) driven by playwright-core. Never a downloaded browser.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect } from 'vitest';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type ConsoleMessage, type Locator, type Page } from 'playwright-core';
import { createTestApp, type TestApp } from '../test/helpers/app.ts';
import { createCompany, PASSWORD, type CompanyFixture } from '../test/helpers/factories.ts';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AXE_FILE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');
const AXE_URL = '/__e2e__/axe.min.js';
/** Screenshots and other artefacts of a run (ignored by git through .test-data/). */
export const ARTIFACTS = path.join(ROOT, '.test-data', 'e2e');

export type RunningApp = TestApp & { baseUrl: string };

/** createTestApp() plus a real listening socket on 127.0.0.1 with a port the OS picks. */
export async function startApp(env: Record<string, string> = {}): Promise<RunningApp> {
  const t = await createTestApp(env);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (!address || typeof address === 'string') throw new Error('app is not listening on a TCP port');
  return { ...t, baseUrl: `http://127.0.0.1:${address.port}` };
}

/**
 * Flags for a closed network, as root: without the background-networking ones Chromium floods
 * the machine with refused connections to Google's hosts.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y --no-install-recommends chromium`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
}

/**
 * A fresh browser context (own cookies) that records every console error and page error, so a
 * test can assert that the Content-Security-Policy blocked nothing and no script failed.
 */
export type Session = { context: BrowserContext; page: Page; consoleErrors: string[]; pageErrors: string[] };

export async function newSession(browser: Browser, baseUrl: string, opts: BrowserContextOptions = {}): Promise<Session> {
  // Danish is the product's first language; a fixed locale keeps the Accept-Language stable.
  const context = await browser.newContext({ baseURL: baseUrl, locale: 'da-DK', ...opts });
  context.setDefaultTimeout(20_000);
  context.setDefaultNavigationTimeout(30_000);
  // axe-core is served as if from our own origin: addScriptTag({ path }) would inline it, and the
  // app's CSP (script-src 'self', rightly) refuses inline scripts. Our pages never ask for this URL.
  const axeSource = fs.readFileSync(AXE_FILE);
  await context.route(`${baseUrl}${AXE_URL}`, (route) => route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: axeSource }));
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  page.on('console', (msg: ConsoleMessage) => {
    if (msg.type() === 'error') consoleErrors.push(`${msg.text()} [page ${page.url()}; source ${msg.location().url || '-'}]`);
  });
  page.on('pageerror', (err) => pageErrors.push(`${err.message} (${page.url()})`));
  return { context, page, consoleErrors, pageErrors };
}

/** Console errors that mean the Content-Security-Policy refused something (script, style, image...). */
export function cspViolations(session: Session): string[] {
  return session.consoleErrors.filter((e) => /Content Security Policy/i.test(e));
}

/** Nothing refused by the CSP and no uncaught script error in this session. */
export function expectCleanConsole(s: Session): void {
  expect(cspViolations(s), 'Content-Security-Policy violations').toEqual([]);
  expect(s.pageErrors, 'uncaught page errors').toEqual([]);
}

export type BrowserSuiteOptions = {
  /** Extra environment for createTestApp(). */
  env?: Record<string, string>;
  /** Create a company fixture (default true). */
  company?: boolean;
  /** Host name the browser uses instead of 127.0.0.1 (e.g. 'localhost' for WebAuthn). */
  host?: string;
};

/** What a browser test file shares: the running app, Chromium, a company, and tracked sessions. */
export type BrowserSuite = {
  readonly running: RunningApp;
  readonly browser: Browser;
  readonly company: CompanyFixture;
  /** The URL the browser talks to (running.baseUrl, with `host` if given). */
  readonly baseUrl: string;
  /** A new session on baseUrl; its context is closed after the suite (closing it earlier is fine). */
  session(opts?: BrowserContextOptions): Promise<Session>;
};

/**
 * Registers beforeAll/afterAll in the calling file (or describe block): starts the app, launches
 * Chromium, creates a company; afterwards closes every session, the browser and the app.
 * The returned object's fields are usable from the hooks and tests, not at collection time.
 */
export function browserSuite(options: BrowserSuiteOptions = {}): BrowserSuite {
  let running: RunningApp | undefined;
  let browser: Browser | undefined;
  let company: CompanyFixture | undefined;
  const sessions: Session[] = [];
  function ready<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`${what} is not ready: use it in a test or hook, after browserSuite()'s beforeAll`);
    return value;
  }
  beforeAll(async () => {
    running = await startApp(options.env);
    browser = await launchBrowser();
    if (options.company !== false) company = await createCompany(running.deps);
  });
  afterAll(async () => {
    for (const s of sessions) await s.context.close().catch(() => undefined);
    await browser?.close();
    await running?.close();
  });
  const suite: BrowserSuite = {
    get running() {
      return ready(running, 'the app');
    },
    get browser() {
      return ready(browser, 'the browser');
    },
    get company() {
      return ready(company, 'the company (browserSuite({ company: false })?)');
    },
    get baseUrl() {
      const url = ready(running, 'the app').baseUrl;
      return options.host ? url.replace('127.0.0.1', options.host) : url;
    },
    async session(opts: BrowserContextOptions = {}) {
      const s = await newSession(suite.browser, suite.baseUrl, opts);
      sessions.push(s);
      return s;
    },
  };
  return suite;
}

/** Waits (polling, no fixed sleep) until the element's text contains `text`. */
export async function expectText(locator: Locator, text: string): Promise<void> {
  await expect.poll(async () => (await locator.first().textContent()) ?? '', { timeout: 10_000 }).toContain(text);
}

/** Clicks `button` and waits for the load that ends on a "done=" or /rounds/ URL. */
export async function submitAndWait(page: Page, button: Locator): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.waitForURL(/done=|\/rounds\//), button.click()]);
}

/** Clicks the (first) submit button of the form posting to `action` and waits for the load. */
export async function submitForm(page: Page, action: string): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.locator(`form[action="${action}"] button[type="submit"]`).first().click()]);
}

/** Logs in through the real login form; returns once the browser has left /login. */
export async function loginThroughForm(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/login');
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.locator('form[action="/login"] button[type="submit"]').click()]);
}

export async function logoutThroughForm(page: Page): Promise<void> {
  await Promise.all([page.waitForURL((url) => url.pathname === '/login'), page.locator('form[action="/logout"] button[type="submit"]').click()]);
}

type AxeNode = { target: unknown[]; html: string; failureSummary?: string };
type AxeViolation = { id: string; impact?: string | null; help: string; helpUrl: string; nodes: AxeNode[] };
type AxeResults = { violations: AxeViolation[] };

/**
 * Runs axe-core on the current page and throws on violations of impact 'serious' or 'critical',
 * listing each rule and the elements it failed on. Lesser findings are returned for reference.
 */
export async function checkA11y(page: Page, label = page.url()): Promise<AxeViolation[]> {
  const hasAxe = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== 'undefined');
  if (!hasAxe) await page.addScriptTag({ url: AXE_URL });
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx?: unknown, opts?: unknown) => Promise<AxeResults> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return { violations: r.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, helpUrl: v.helpUrl, nodes: v.nodes.map((n) => ({ target: n.target, html: n.html, failureSummary: n.failureSummary })) })) };
  });
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) {
    const lines = bad.flatMap((v) => [
      `- [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
      ...v.nodes.slice(0, 5).map((n) => `    at ${JSON.stringify(n.target)}: ${n.html.slice(0, 160)}`),
      ...(v.nodes.length > 5 ? [`    ... and ${v.nodes.length - 5} more`] : []),
    ]);
    throw new Error(`axe found ${bad.length} serious/critical accessibility violation(s) on ${label}:\n${lines.join('\n')}`);
  }
  return results.violations;
}

/** True when the page scrolls sideways (content wider than the viewport). */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
