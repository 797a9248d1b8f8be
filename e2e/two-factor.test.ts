/**
 * M2 and M7 in a real browser: an employee enrols TOTP (QR code and typed secret), sees the
 * recovery codes once, logs in with a code, and is blocked after 3 wrong codes until the wait
 * is over. Time comes from the app's injected clock, so nothing sleeps.
 */
import { describe, expect, test } from 'vitest';
import { PASSWORD } from '../test/helpers/factories.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { browserSuite, checkA11y, cspViolations, loginThroughForm, logoutThroughForm } from './helpers.ts';

const e2e = browserSuite();

describe('two-factor journey in Chromium', () => {
  test('M2 enrol TOTP, log in with a code; M7 blocked after 3 wrong codes, let in after the wait', async () => {
    const s = await e2e.session();
    const { page } = s;
    const email = e2e.company.employee.email;
    await loginThroughForm(page, email);
    expect(new URL(page.url()).pathname).toBe('/dashboard');

    await page.goto('/account/two-factor');
    await checkA11y(page, 'two-factor off');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/account/two-factor/start"] button[type="submit"]').click()]);
    // The QR code is a server-rendered image; the secret is also typed out.
    await expect.poll(() => page.locator('img[src^="data:image/svg+xml;base64,"]').count()).toBe(1);
    expect(await page.locator('img[src^="data:image/svg+xml;base64,"]').getAttribute('alt')).toBeTruthy();
    const secret = (await page.locator('code.secret').innerText()).replace(/\s+/g, '');
    expect(secret.length).toBeGreaterThanOrEqual(16);
    await checkA11y(page, 'two-factor enrolment');
    await page.locator('input[name="code"]').fill(totpCode(secret, e2e.running.clock.now()));
    await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/account/two-factor/confirm"] button[type="submit"]').click()]);
    // Ten recovery codes, shown once.
    const body = await page.locator('main').innerText();
    expect(body.match(/\b[a-z0-9]{4}(?:-[a-z0-9]{4}){3}\b/gi)?.length ?? 0).toBeGreaterThanOrEqual(10);
    await checkA11y(page, 'recovery codes');
    await page.goto('/dashboard');
    await logoutThroughForm(page);

    // Log in: the password alone is not enough.
    e2e.running.clock.advance(60_000);
    await loginThroughForm(page, email);
    expect(new URL(page.url()).pathname).toBe('/login/second-factor');
    await checkA11y(page, 'second factor');
    // Three wrong codes block this browser for this account.
    for (let i = 0; i < 3; i++) {
      if (new URL(page.url()).pathname !== '/login/second-factor') break;
      await page.locator('input[name="code"]').fill('000000');
      await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);
    }
    // Blocked: even the right password is refused at the login form, with the usual message.
    await page.goto('/login');
    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="password"]').fill(PASSWORD);
    await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/login"] button[type="submit"]').click()]);
    await expect.poll(() => page.locator('.error-summary').count()).toBe(1);
    expect(new URL(page.url()).pathname).toBe('/login');
    // After the 15-minute wait the right password and a fresh code let the user in.
    e2e.running.clock.advance(16 * 60_000);
    await loginThroughForm(page, email);
    expect(new URL(page.url()).pathname).toBe('/login/second-factor');
    await page.locator('input[name="code"]').fill(totpCode(secret, e2e.running.clock.now()));
    await Promise.all([page.waitForURL((u) => u.pathname === '/dashboard'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);
    expect(cspViolations(s)).toEqual([]);
    expect(s.pageErrors).toEqual([]);
    await s.context.close();
  });
});
