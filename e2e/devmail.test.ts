/**
 * The development mail page in Chromium: staff log in with their second factor, read the list
 * and one mail (axe: no serious or critical violations), and the page fits a phone.
 */
import { describe, expect, test } from 'vitest';
import { createStaff } from '../test/helpers/factories.ts';
import { deliverMail } from '../test/helpers/mail.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { withTenant } from '../src/platform/db/context.ts';
import { enqueueMail } from '../src/platform/mail/mail.ts';
import { browserSuite, checkA11y, cspViolations, horizontalOverflow, loginThroughForm } from './helpers.ts';

const e2e = browserSuite({ company: false });

describe('development mail page in Chromium', () => {
  test('staff read the written mails at phone width', async () => {
    const to = `devmail-${Date.now()}@test.example`;
    await withTenant(e2e.running.deps.database, {}, (trx) =>
      enqueueMail(trx, { to, lang: 'da', template: 'password_reset', model: { firstName: 'Ditte', path: '/reset/e2e-token-with-a-rather-long-value-0123456789abcdef', expiresAt: new Date('2027-03-02T09:00:00Z') } }),
    );
    await deliverMail(e2e.running.deps, [to]);

    const staff = await createStaff(e2e.running.deps);
    const s = await e2e.session({ viewport: { width: 360, height: 740 } });
    const { page } = s;
    await loginThroughForm(page, staff.email);
    expect(new URL(page.url()).pathname).toBe('/login/second-factor');
    await page.locator('input[name="code"]').fill(totpCode(staff.secret, e2e.running.clock.now()));
    await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);

    await page.goto('/staff/dev/mail');
    expect(await page.locator('h1').innerText()).toBe('Development mail'); // staff use English by default
    await checkA11y(page, 'dev mail list');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('link', { name: 'Nulstil din adgangskode' }).first().click()]);
    expect(await page.locator('pre.mail-text').innerText()).toContain('/reset/e2e-token-with-a-rather-long-value');
    await checkA11y(page, 'dev mail one');
    const o = await horizontalOverflow(page);
    expect(o.scrollWidth).toBeLessThanOrEqual(o.innerWidth);
    expect(cspViolations(s)).toEqual([]);
    expect(s.pageErrors).toEqual([]);
    await s.context.close();
  });
});
