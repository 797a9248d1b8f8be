/**
 * Issue 3's journey in Chromium: an admin invites a new employee, who follows the e-mailed link,
 * chooses a password, enrols TOTP at the first login (the company requires it), logs in with a
 * code, is blocked after 3 wrong codes (M7), and gets in again after the admin lifts the block.
 * Also: the forgotten-password page. Mails are read from the outbox; time from the app's clock.
 */
import { describe, expect, test } from 'vitest';
import { newestMails } from '../test/helpers/mail.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { browserSuite, checkA11y, cspViolations, loginThroughForm, logoutThroughForm, submitForm } from './helpers.ts';

const e2e = browserSuite();

const NEW_PASSWORD = 'seven green herons by the fjord';

describe('account journey in Chromium', () => {
  test('M2 M7 invitation, password, TOTP enrolment, login with TOTP, blocked after 3 wrong codes, unlocked by the admin', async () => {
    const admin = await e2e.session();
    await loginThroughForm(admin.page, e2e.company.admin.email);
    await admin.page.goto('/org/employees/new');
    const email = `journey-${Date.now()}@test.example`;
    await admin.page.locator('input[name="name"]').fill('Ida Ny');
    await admin.page.locator('input[name="email"]').fill(email);
    await admin.page.locator('input[name="title"]').fill('Konsulent');
    await admin.page.locator('select[name="team_id"]').selectOption(e2e.company.teamId);
    await submitForm(admin.page, '/org/employees');
    expect(await admin.page.locator('main').innerText()).toContain('invitation');
    await checkA11y(admin.page, 'employee created');
    // From now on the company requires two-factor for everyone who logs in.
    await unsafeSystemTransaction(e2e.running.deps.database, (trx) => trx.updateTable('companies').set({ require_two_factor: 'everyone' }).where('id', '=', e2e.company.companyId).execute());

    const [mail] = await newestMails(e2e.running.deps, email);
    expect(mail?.template).toBe('invitation');
    const link = new URL(mail?.link ?? '');
    const me = await e2e.session();
    const { page } = me;
    await page.goto(link.pathname);
    await checkA11y(page, 'invitation');
    expect(await page.locator('h1').innerText()).toContain('Velkommen');
    // A weak password is refused with the reason; a good one is saved.
    await page.locator('input[name="next"]').fill('sommer2024');
    await page.locator('input[name="repeat"]').fill('sommer2024');
    await submitForm(page, link.pathname);
    await expect.poll(() => page.locator('.error-summary').count()).toBe(1);
    await checkA11y(page, 'invitation with errors');
    await page.locator('input[name="next"]').fill(NEW_PASSWORD);
    await page.locator('input[name="repeat"]').fill(NEW_PASSWORD);
    await submitForm(page, link.pathname);
    expect(new URL(page.url()).pathname).toBe('/login');

    // The first login enrols the second factor the company requires.
    await loginThroughForm(page, email, NEW_PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/login/second-factor');
    const secret = (await page.locator('code.secret').innerText()).replace(/\s+/g, '');
    await page.locator('input[name="code"]').fill(totpCode(secret, e2e.running.clock.now()));
    await submitForm(page, '/login/second-factor');
    expect((await page.locator('main').innerText()).match(/\b[a-z0-9]{4}(?:-[a-z0-9]{4}){3}\b/gi)?.length ?? 0).toBeGreaterThanOrEqual(10);
    await page.goto('/dashboard');
    expect(await page.locator('h1').innerText()).toBeTruthy();
    await logoutThroughForm(page);

    // Log in with a code.
    e2e.running.clock.advance(60_000);
    await loginThroughForm(page, email, NEW_PASSWORD);
    await page.locator('input[name="code"]').fill(totpCode(secret, e2e.running.clock.now()));
    await Promise.all([page.waitForURL((u) => u.pathname === '/dashboard'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);
    await logoutThroughForm(page);

    // Three wrong codes block this browser for this account (M7).
    e2e.running.clock.advance(60_000);
    await loginThroughForm(page, email, NEW_PASSWORD);
    for (let i = 0; i < 3; i++) {
      if (new URL(page.url()).pathname !== '/login/second-factor') break;
      await page.locator('input[name="code"]').fill('000000');
      await submitForm(page, '/login/second-factor');
    }
    // Blocked: even the right password is refused at the login form, with the usual message.
    await page.goto('/login');
    await page.locator('input[name="email"]').fill(email);
    await page.locator('input[name="password"]').fill(NEW_PASSWORD);
    await submitForm(page, '/login');
    expect(new URL(page.url()).pathname).toBe('/login');
    await expect.poll(() => page.locator('.error-summary').count()).toBe(1);
    expect(await newestMails(e2e.running.deps, email).then((m) => m.some((x) => x.template === 'lockout'))).toBe(true);

    // The admin lifts the block from the employee's page; the login then works at once.
    const employmentId = await unsafeSystemTransaction(e2e.running.deps.database, async (trx) =>
      (await trx.selectFrom('employments as e').innerJoin('users as u', 'u.id', 'e.user_id').select('e.id').where('u.email', '=', email).executeTakeFirstOrThrow()).id,
    );
    await admin.page.goto(`/org/employees/${employmentId}`);
    await submitForm(admin.page, `/org/employees/${employmentId}/unlock`);
    await expect.poll(() => admin.page.locator('.flash').count()).toBe(1);
    e2e.running.clock.advance(31_000);
    await loginThroughForm(page, email, NEW_PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/login/second-factor');
    await page.locator('input[name="code"]').fill(totpCode(secret, e2e.running.clock.now()));
    await Promise.all([page.waitForURL((u) => u.pathname === '/dashboard'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);

    for (const s of [admin, me]) {
      expect(cspViolations(s)).toEqual([]);
      expect(s.pageErrors).toEqual([]);
    }
    await admin.context.close();
    await me.context.close();
  });

  test('the forgotten-password page answers without telling whether the address has an account', async () => {
    const s = await e2e.session();
    await s.page.goto('/login');
    await Promise.all([s.page.waitForLoadState('load'), s.page.locator('a[href="/password/forgot"]').click()]);
    await checkA11y(s.page, 'forgot password');
    await s.page.locator('input[name="email"]').fill(e2e.company.colleague.email);
    await submitForm(s.page, '/password/forgot');
    await expect.poll(() => s.page.locator('.flash').count()).toBe(1);
    await checkA11y(s.page, 'forgot password sent');
    const [mail] = await newestMails(e2e.running.deps, e2e.company.colleague.email);
    expect(mail?.template).toBe('password_reset');
    await s.page.goto(new URL(mail?.link ?? '').pathname);
    await checkA11y(s.page, 'reset password');
    await s.page.setViewportSize({ width: 360, height: 740 });
    expect(await s.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(cspViolations(s)).toEqual([]);
    await s.context.close();
  });
});
