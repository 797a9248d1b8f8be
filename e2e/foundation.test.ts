/**
 * The foundation in a real browser: login form, dashboard per role, language switch through the
 * auto-submitting select, logout, accessibility (axe: no serious or critical violations), the
 * Content-Security-Policy blocking nothing of our own, and a phone-sized layout.
 */
import fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { browserSuite, checkA11y, cspViolations, expectCleanConsole, horizontalOverflow, loginThroughForm, logoutThroughForm, screenshot } from './helpers.ts';

const e2e = browserSuite();

describe('foundation in Chromium', () => {
  test('company admin: login form, dashboard, language switch to English, logout (axe on each page)', async () => {
    const s = await e2e.session();
    const { page } = s;

    const loginResponse = await page.goto('/login');
    expect(loginResponse?.status()).toBe(200);
    // The CSP is really there, so "blocked nothing" below means something.
    expect(loginResponse?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect.poll(() => page.locator('h1').textContent()).toBe('Log ind');
    await checkA11y(page, 'login page (da)');

    await loginThroughForm(page, e2e.company.admin.email);
    expect(new URL(page.url()).pathname).toBe('/dashboard');
    await expect.poll(() => page.locator('h1').textContent()).toBe(`Velkommen, ${e2e.company.admin.name}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('da');
    // Our own scripts and styles loaded under the CSP.
    expect(await page.evaluate(() => typeof (window as unknown as { htmx?: unknown }).htmx)).toBe('object');
    expect(await page.evaluate(() => [...document.styleSheets].some((sheet) => sheet.href?.endsWith('/assets/app.css') && sheet.cssRules.length > 0))).toBe(true);
    await checkA11y(page, 'admin dashboard (da)');

    // Choosing English in the select submits the form by itself (public/app.js).
    await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/settings/language' && r.request().method() === 'POST'),
      page.locator('#language-select').selectOption('en'),
    ]);
    await page.waitForLoadState('load');
    await expect.poll(() => page.locator('h1').textContent()).toBe(`Welcome, ${e2e.company.admin.name}`);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('form[action="/logout"] button').textContent()).toBe('Log out');
    await checkA11y(page, 'admin dashboard (en)');

    await logoutThroughForm(page);
    expect(new URL(page.url()).searchParams.get('loggedOut')).toBe('1');
    await expect.poll(() => page.locator('[role="status"]').textContent()).toBe('You are logged out.');
    // Logged out means logged out: the dashboard sends us back to the login page.
    await page.goto('/dashboard');
    expect(new URL(page.url()).pathname).toBe('/login');

    expectCleanConsole(s);
  });

  test('the language submit button works without the auto-submit script', async () => {
    const s = await e2e.session({ javaScriptEnabled: false });
    const { page } = s;
    await page.goto('/login');
    await page.locator('#language-select').selectOption('sv');
    await Promise.all([page.waitForURL(() => true), page.locator('form.language-form button[type="submit"]').click()]);
    await page.waitForLoadState('load');
    expect(await page.locator('html').getAttribute('lang')).toBe('sv');
    expect(await page.locator('h1').textContent()).toBe('Logga in');
    expectCleanConsole(s);
  });

  test('employee: logs in and sees an accessible dashboard', async () => {
    const s = await e2e.session();
    await loginThroughForm(s.page, e2e.company.employee.email);
    expect(new URL(s.page.url()).pathname).toBe('/dashboard');
    await expect.poll(() => s.page.locator('h1').textContent()).toBe(`Velkommen, ${e2e.company.employee.name}`);
    // An employee gets no organisation menu.
    expect(await s.page.locator('nav a[href="/org"]').count()).toBe(0);
    await checkA11y(s.page, 'employee dashboard');
    await logoutThroughForm(s.page);
    expectCleanConsole(s);
  });

  test('leader: logs in and sees an accessible dashboard', async () => {
    const s = await e2e.session();
    await loginThroughForm(s.page, e2e.company.leader.email);
    expect(new URL(s.page.url()).pathname).toBe('/dashboard');
    await expect.poll(() => s.page.locator('h1').textContent()).toBe(`Velkommen, ${e2e.company.leader.name}`);
    await checkA11y(s.page, 'leader dashboard');
    await logoutThroughForm(s.page);
    expectCleanConsole(s);
  });

  test('phone-sized viewport (390x844): no horizontal scrolling on login and dashboard', async () => {
    const s = await e2e.session({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const { page } = s;
    await page.goto('/login');
    const login = await horizontalOverflow(page);
    expect(login.innerWidth).toBe(390);
    expect(login.scrollWidth, 'login page scrolls sideways').toBeLessThanOrEqual(login.innerWidth);
    const loginShot = await screenshot(page, 'phone-login');

    await loginThroughForm(page, e2e.company.admin.email);
    const dash = await horizontalOverflow(page);
    expect(dash.scrollWidth, 'dashboard scrolls sideways').toBeLessThanOrEqual(dash.innerWidth);
    const dashShot = await screenshot(page, 'phone-dashboard');
    for (const file of [loginShot, dashShot]) {
      const png = fs.readFileSync(file);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(5_000);
    }
    await checkA11y(page, 'admin dashboard on a phone');
    expectCleanConsole(s);
  });

  test('the checks above can fail: axe, CSP and overflow detection catch planted faults', async () => {
    const s = await e2e.session({ viewport: { width: 390, height: 844 } });
    const { page } = s;
    await page.goto('/login');
    // An unlabeled input and an image without alt text: critical violations for axe.
    await page.evaluate(() => {
      const img = document.createElement('img');
      img.src = 'data:image/gif;base64,R0lGODlhAQABAAAAACw=';
      const input = document.createElement('input');
      input.type = 'text';
      document.querySelector('main')?.append(img, input);
    });
    await expect(checkA11y(page, 'planted faults')).rejects.toThrow(/critical|serious/);
    // An inline script is refused by our CSP and shows up as a violation.
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__inline = 1';
      document.body.append(script);
    });
    await expect.poll(() => cspViolations(s).length).toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as unknown as { __inline?: number }).__inline)).toBeUndefined();
    // Something wider than the phone makes the page scroll sideways.
    await page.evaluate(() => {
      const wide = document.createElement('div');
      wide.style.width = '1000px';
      wide.style.height = '1px';
      document.body.append(wide);
    });
    const box = await horizontalOverflow(page);
    expect(box.scrollWidth).toBeGreaterThan(box.innerWidth);
  });

  // The organisation pages were built alongside these tests: should GET /org ever be unregistered
  // this test says so and skips; while it exists, it must pass.
  test('organisation pages (/org, /org/employees) as company admin are accessible', async (ctx) => {
    const routes = e2e.running.app.samtaleRoutes.filter((r) => r.method === 'GET').map((r) => r.url);
    if (!routes.includes('/org')) {
      ctx.skip('GET /org is not registered yet (org pages not built)');
      return;
    }
    const s = await e2e.session();
    const { page } = s;
    await loginThroughForm(page, e2e.company.admin.email);
    for (const url of ['/org', '/org/employees']) {
      if (!routes.includes(url)) throw new Error(`GET ${url} is not registered although /org is`);
      const res = await page.goto(url);
      expect(res?.status(), `GET ${url}`).toBe(200);
      expect(new URL(page.url()).pathname).toBe(url);
      await checkA11y(page, `${url} as company admin`);
      const box = await horizontalOverflow(page);
      expect(box.scrollWidth, `${url} scrolls sideways at desktop width`).toBeLessThanOrEqual(box.innerWidth);
      expect((await page.locator('h1').textContent())?.trim(), `${url} has a heading`).toBeTruthy();
    }
    expectCleanConsole(s);

    // The same pages on a phone: wide tables may scroll inside their own box, never the page.
    const phone = await e2e.session({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await loginThroughForm(phone.page, e2e.company.admin.email);
    for (const url of ['/org', '/org/employees']) {
      await phone.page.goto(url);
      const box = await horizontalOverflow(phone.page);
      expect(box.scrollWidth, `${url} scrolls sideways on a phone`).toBeLessThanOrEqual(box.innerWidth);
      await screenshot(phone.page, `phone${url.replaceAll('/', '-')}`);
    }
    expectCleanConsole(phone);
  });
});
