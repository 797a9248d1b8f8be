/**
 * Issue 5's journey in Chromium (M13, M14): a company admin gives support access with a reason and
 * the second factor; support enters the company and reads a dialogue under the banner; the
 * dialogue's "viewed by" shows support to the employee; the admin withdraws, and support's next
 * click is refused. Time comes from the app's clock.
 */
import { describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { createDialogue, createStaff, giveTotpFactor } from '../test/helpers/factories.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { browserSuite, checkA11y, cspViolations, loginThroughForm, submitForm } from './helpers.ts';

const e2e = browserSuite();

async function secondStep(page: Page, secret: string) {
  e2e.running.clock.advance(31_000);
  await page.locator('input[name="code"]').fill(totpCode(secret, e2e.running.clock.now()));
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login/second-factor'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);
}

describe('support access by consent in Chromium', () => {
  test('M13 M14 consent given, support reads a dialogue (shown under "viewed by"), consent withdrawn, next click refused', async () => {
    const dialogue = await createDialogue(e2e.running.deps, e2e.company);
    const adminSecret = await giveTotpFactor(e2e.running.deps, e2e.company.admin.userId);
    const staff = await createStaff(e2e.running.deps);

    const admin = await e2e.session();
    await loginThroughForm(admin.page, e2e.company.admin.email);
    await secondStep(admin.page, adminSecret);
    await admin.page.goto('/org/settings/support');
    await checkA11y(admin.page, 'support access, none');
    await admin.page.locator('input[name="allow"]').check();
    await admin.page.locator('input[name="reason"]').fill('The leader cannot find last year\'s agreements');
    e2e.running.clock.advance(31_000);
    await admin.page.locator('input[name="code"]').fill(totpCode(adminSecret, e2e.running.clock.now()));
    await submitForm(admin.page, '/org/settings/support/consent');
    await expect.poll(() => admin.page.locator('.flash').count()).toBe(1);
    await checkA11y(admin.page, 'support access, given');

    const support = await e2e.session();
    await loginThroughForm(support.page, staff.email);
    await secondStep(support.page, staff.secret);
    expect(new URL(support.page.url()).pathname).toBe('/staff/companies');
    await submitForm(support.page, `/staff/companies/${e2e.company.companyId}/enter`);
    expect(new URL(support.page.url()).pathname).toBe('/support');
    await expect.poll(() => support.page.locator('.support-banner').count()).toBe(1);
    await checkA11y(support.page, 'support inside the company');
    await support.page.goto(`/support/dialogues/${dialogue.dialogueId}`);
    expect(await support.page.locator('h1').innerText()).toContain(e2e.company.employee.name);
    await checkA11y(support.page, 'support reads a dialogue');

    // The employee sees support in the dialogue's "viewed by".
    const employee = await e2e.session();
    await loginThroughForm(employee.page, e2e.company.employee.email);
    await employee.page.goto(`/dialogues/${dialogue.dialogueId}`);
    expect(await employee.page.locator('.viewed-by').innerText()).toContain('Samtale support');
    await checkA11y(employee.page, 'dialogue with viewed by');

    // The admin withdraws; support's next click is refused.
    e2e.running.clock.advance(31_000);
    await admin.page.goto('/org/settings/support');
    await admin.page.locator('input[name="code"]').fill(totpCode(adminSecret, e2e.running.clock.now()));
    await submitForm(admin.page, '/org/settings/support/withdraw');
    await expect.poll(() => admin.page.locator('.flash').count()).toBe(1);
    await support.page.goto(`/support/dialogues/${dialogue.dialogueId}`);
    expect(new URL(support.page.url()).pathname).toBe('/staff/companies');
    expect(await support.page.locator('body').innerText()).not.toContain(e2e.company.employee.name);

    for (const s of [admin, support, employee]) {
      expect(cspViolations(s)).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      await s.context.close();
    }
  });
});
