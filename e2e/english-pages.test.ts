/**
 * The account-security, audit, support-consent, reminder and integration pages in English, as a
 * company admin and as platform staff: each renders in English, passes axe (no serious or critical
 * findings), keeps to a phone's width and logs no CSP violation. The Danish journeys are in the
 * other browser tests.
 */
import { describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { createStaff } from '../test/helpers/factories.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { browserSuite, checkA11y, cspViolations, horizontalOverflow, loginThroughForm } from './helpers.ts';

const e2e = browserSuite({ env: { API_TOKEN_KEY: Buffer.alloc(32, 3).toString('base64') } });

async function toEnglish(page: Page) {
  await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/settings/language' && r.request().method() === 'POST'),
    page.locator('#language-select').selectOption('en'),
  ]);
  await page.waitForLoadState('load');
  expect(await page.locator('html').getAttribute('lang')).toBe('en');
}

async function visit(page: Page, path: string, heading: RegExp) {
  const res = await page.goto(path);
  expect(res?.status(), path).toBe(200);
  expect(await page.locator('h1').first().innerText(), path).toMatch(heading);
  await checkA11y(page, `${path} (en)`);
  await page.setViewportSize({ width: 360, height: 740 });
  const o = await horizontalOverflow(page);
  expect(o.scrollWidth, `${path} at phone width`).toBeLessThanOrEqual(o.innerWidth);
  await page.setViewportSize({ width: 1280, height: 800 });
}

describe('pages in English', () => {
  test('a company admin: e-mail change, reminders, notifications, audit trail, support access, API tokens', async () => {
    const s = await e2e.session();
    await loginThroughForm(s.page, e2e.company.admin.email);
    await toEnglish(s.page);
    await visit(s.page, '/account/email', /Change e-mail address/);
    await visit(s.page, '/account/reminders', /Reminders by e-mail/);
    await visit(s.page, '/notifications', /Notifications/);
    await visit(s.page, '/org/audit', /Audit trail/);
    await visit(s.page, '/org/settings/support', /Support access/);
    await visit(s.page, '/org/settings/support/activity', /Support activity/);
    await visit(s.page, '/org/settings/api', /API/);
    expect(cspViolations(s)).toEqual([]);
    expect(s.pageErrors).toEqual([]);
    await s.context.close();
  });

  test('before login: forgotten password in English; staff: the company list', async () => {
    const s = await e2e.session({ locale: 'en-GB' });
    await s.page.goto('/login');
    await toEnglish(s.page);
    await visit(s.page, '/password/forgot', /Forgotten password/);
    const staff = await createStaff(e2e.running.deps);
    await loginThroughForm(s.page, staff.email);
    e2e.running.clock.advance(31_000);
    await s.page.locator('input[name="code"]').fill(totpCode(staff.secret, e2e.running.clock.now()));
    await Promise.all([s.page.waitForURL((u) => u.pathname === '/staff/companies'), s.page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);
    await visit(s.page, '/staff/companies', /Companies/);
    expect(cspViolations(s)).toEqual([]);
    await s.context.close();
  });
});
