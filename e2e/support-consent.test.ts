/**
 * Issue 5's journey in Chromium (M13, M14): a company admin gives support access with a reason and
 * the second factor; support enters the company and reads a dialogue under the banner; the
 * dialogue's "viewed by" shows support to the employee; the admin withdraws, and support's next
 * click is refused. Time comes from the app's clock.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createCompany, createDialogue, createStaff, giveTotpFactor, type CompanyFixture } from '../test/helpers/factories.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { checkA11y, cspViolations, launchBrowser, loginThroughForm, newSession, startApp, type RunningApp } from './helpers.ts';

let running: RunningApp;
let browser: Browser;
let company: CompanyFixture;

beforeAll(async () => {
  running = await startApp();
  browser = await launchBrowser();
  company = await createCompany(running.deps);
});

afterAll(async () => {
  await browser?.close();
  await running?.close();
});

async function submit(page: Page, action: string) {
  await Promise.all([page.waitForLoadState('load'), page.locator(`form[action="${action}"] button[type="submit"]`).first().click()]);
}

async function secondStep(page: Page, secret: string) {
  running.clock.advance(31_000);
  await page.locator('input[name="code"]').fill(totpCode(secret, running.clock.now()));
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login/second-factor'), page.locator('form[action="/login/second-factor"] button[type="submit"]').first().click()]);
}

describe('support access by consent in Chromium', () => {
  test('M13 M14 consent given, support reads a dialogue (shown under "viewed by"), consent withdrawn, next click refused', async () => {
    const dialogue = await createDialogue(running.deps, company);
    const adminSecret = await giveTotpFactor(running.deps, company.admin.userId);
    const staff = await createStaff(running.deps);

    const admin = await newSession(browser, running.baseUrl);
    await loginThroughForm(admin.page, company.admin.email);
    await secondStep(admin.page, adminSecret);
    await admin.page.goto('/org/settings/support');
    await checkA11y(admin.page, 'support access, none');
    await admin.page.locator('input[name="allow"]').check();
    await admin.page.locator('input[name="reason"]').fill('The leader cannot find last year\'s agreements');
    running.clock.advance(31_000);
    await admin.page.locator('input[name="code"]').fill(totpCode(adminSecret, running.clock.now()));
    await submit(admin.page, '/org/settings/support/consent');
    await expect.poll(() => admin.page.locator('.flash').count()).toBe(1);
    await checkA11y(admin.page, 'support access, given');

    const support = await newSession(browser, running.baseUrl);
    await loginThroughForm(support.page, staff.email);
    await secondStep(support.page, staff.secret);
    expect(new URL(support.page.url()).pathname).toBe('/staff/companies');
    await submit(support.page, `/staff/companies/${company.companyId}/enter`);
    expect(new URL(support.page.url()).pathname).toBe('/support');
    await expect.poll(() => support.page.locator('.support-banner').count()).toBe(1);
    await checkA11y(support.page, 'support inside the company');
    await support.page.goto(`/support/dialogues/${dialogue.dialogueId}`);
    expect(await support.page.locator('h1').innerText()).toContain(company.employee.name);
    await checkA11y(support.page, 'support reads a dialogue');

    // The employee sees support in the dialogue's "viewed by".
    const employee = await newSession(browser, running.baseUrl);
    await loginThroughForm(employee.page, company.employee.email);
    await employee.page.goto(`/dialogues/${dialogue.dialogueId}`);
    expect(await employee.page.locator('.viewed-by').innerText()).toContain('Samtale support');
    await checkA11y(employee.page, 'dialogue with viewed by');

    // The admin withdraws; support's next click is refused.
    running.clock.advance(31_000);
    await admin.page.goto('/org/settings/support');
    await admin.page.locator('input[name="code"]').fill(totpCode(adminSecret, running.clock.now()));
    await submit(admin.page, '/org/settings/support/withdraw');
    await expect.poll(() => admin.page.locator('.flash').count()).toBe(1);
    await support.page.goto(`/support/dialogues/${dialogue.dialogueId}`);
    expect(new URL(support.page.url()).pathname).toBe('/staff/companies');
    expect(await support.page.locator('body').innerText()).not.toContain(company.employee.name);

    for (const s of [admin, support, employee]) {
      expect(cspViolations(s)).toEqual([]);
      expect(s.pageErrors).toEqual([]);
      await s.context.close();
    }
  });
});
