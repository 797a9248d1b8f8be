/**
 * The form builder and the statistics pages in Chromium at phone width: building a form without
 * any script (every step a form post), axe (no serious or critical violations) on each page, no
 * sideways scrolling, the Content-Security-Policy blocking nothing, the score chart rendered as
 * SVG, and the print stylesheet leaving the navigation out.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import type { CompanyFixture, Person } from '../test/helpers/factories.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { browserSuite, checkA11y, expectCleanConsole, horizontalOverflow, loginThroughForm, screenshot, type Session } from './helpers.ts';

const e2e = browserSuite();
const PHONE = { width: 375, height: 740 };

async function fitsPhone(s: Session) {
  const o = await horizontalOverflow(s.page);
  expect(o.scrollWidth, `sideways scroll on ${s.page.url()}`).toBeLessThanOrEqual(o.innerWidth + 1);
}

/** Five employees in the team with a closed MUS each (scale answers), inserted as the system. */
async function seedClosedDialogues(f: CompanyFixture) {
  const formId = randomUUID();
  const versionId = randomUUID();
  const labels = ['Slet ikke', 'Lidt', 'Til dels', 'Meget', 'Helt'];
  const definition = { sections: [{ id: 'a', title: 'Trivsel', questions: [{ id: 'mood', type: 'scale', answeredBy: 'employee', text: 'Jeg trives i mit arbejde.', scaleLabels: labels }] }] };
  await unsafeSystemTransaction(e2e.running.deps.database, async (trx) => {
    await trx.insertInto('forms').values({ id: formId, company_id: f.companyId, builtin_key: null, kind: 'mus', name: 'Trivsel', language: 'da' }).execute();
    await trx.insertInto('form_versions').values({ id: versionId, company_id: f.companyId, form_id: formId, version: 1, definition: JSON.stringify(definition) }).execute();
    const people: Person[] = [f.employee, f.colleague];
    for (let i = 0; i < 3; i++) {
      const p: Person = { userId: randomUUID(), employmentId: randomUUID(), email: `e2e-${randomUUID()}@test.example`, name: `Kollega ${i}` };
      await trx.insertInto('users').values({ id: p.userId, email: p.email, name: p.name, password_hash: 'x', disabled_at: null }).execute();
      await trx.insertInto('employments').values({ id: p.employmentId, company_id: f.companyId, user_id: p.userId, role: 'employee', title: 'x', language: 'da', team_id: f.teamId, department_id: null, fired_at: null, fired_by: null }).execute();
      people.push(p);
    }
    const closings = ['2026-04-01T10:00:00Z', '2027-02-01T10:00:00Z'];
    for (const [i, p] of people.entries()) {
      for (const [year, at] of closings.entries()) {
        if (year === 0 && i > 0) continue;
        const id = randomUUID();
        await trx.insertInto('dialogues').values({ id, company_id: f.companyId, round_id: null, form_version_id: versionId, employee_employment_id: p.employmentId, leader_employment_id: f.leader.employmentId, team_id: f.teamId, state: 'closed' }).execute();
        await trx.insertInto('dialogue_transitions').values({ id: randomUUID(), company_id: f.companyId, dialogue_id: id, from_state: 'signing', to_state: 'closed', actor_employment_id: f.leader.employmentId, created_at: new Date(at) }).execute();
        await trx.insertInto('dialogue_answers').values({ company_id: f.companyId, dialogue_id: id, question_id: 'mood', side: 'employee', value: String(((i + year) % 5) + 1), version: 1, updated_by: p.employmentId }).execute();
      }
    }
  });
}

describe('forms builder and statistics in Chromium', () => {
  test('an admin builds a form on a phone without script, and it is offered for a round', async () => {
    const s = await e2e.session({ viewport: PHONE });
    const page = s.page;
    // Script off: every builder step must work as a plain form post.
    await s.context.route('**/assets/*.js', (route) => route.abort());
    await loginThroughForm(page, e2e.company.admin.email);
    await page.goto('/forms');
    await checkA11y(page, 'forms list');
    await fitsPhone(s);
    await page.getByRole('link', { name: 'Nyt skema' }).click();
    await page.getByLabel('Skemaets navn').fill('Kort MUS');
    await page.getByLabel('Overskrift').fill('Her og nu');
    await page.locator('#s0_q0_text').fill('Jeg trives i teamet.');
    await page.locator('#s0_q0_type').selectOption('scale');
    await page.locator('#s0_q0_by').selectOption('employee');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Opdatér' }).click()]);
    await expect.poll(() => page.locator('#s0_q0_l5').inputValue()).toBe('I meget høj grad');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Tilføj spørgsmål til afsnit 1' }).click()]);
    await page.locator('#s0_q1_text').fill('Hvad vil du lære i år?');
    // Saving with the scale's first label emptied shows the error next to it, keeping the text.
    await page.locator('#s0_q0_l1').fill('');
    await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Gem skema' }).last().click()]);
    await expect.poll(() => page.locator('.error-summary').textContent()).toContain('Skriv en tekst for hvert af skalaens fem trin');
    expect(await page.locator('#s0_q1_text').inputValue()).toBe('Hvad vil du lære i år?');
    await checkA11y(page, 'form editor with errors');
    await fitsPhone(s);
    await page.locator('#s0_q0_l1').fill('Slet ikke');
    await Promise.all([page.waitForURL(/done=saved/), page.getByRole('button', { name: 'Gem skema' }).last().click()]);
    await expect.poll(() => page.locator('.flash').textContent()).toContain('version 1');
    await checkA11y(page, 'form editor');
    await fitsPhone(s);
    await screenshot(page, 'form-builder-phone');
    await page.goto('/rounds/new');
    expect(await page.locator('select[name="form"]').textContent()).toContain('Kort MUS');
    expectCleanConsole(s);
  });

  test('statistics, team averages and the score chart pass axe at phone width and print without navigation', async () => {
    await seedClosedDialogues(e2e.company);
    const admin = await e2e.session({ viewport: PHONE });
    await loginThroughForm(admin.page, e2e.company.admin.email);
    for (const url of ['/statistics', `/statistics/departments/${e2e.company.departmentId}`, `/statistics/teams/${e2e.company.teamId}`, '/org/settings/security']) {
      await admin.page.goto(url);
      await checkA11y(admin.page, url);
      await fitsPhone(admin);
    }
    await admin.page.goto(`/statistics/teams/${e2e.company.teamId}`);
    expect(await admin.page.locator('main').textContent()).toContain('(5 svar)');
    expectCleanConsole(admin);

    const employee = await e2e.session({ viewport: PHONE });
    await loginThroughForm(employee.page, e2e.company.employee.email);
    await employee.page.goto('/statistics/me');
    await checkA11y(employee.page, 'my scores');
    await fitsPhone(employee);
    expect(await employee.page.locator('svg.score-chart title').first().textContent()).toBe('Jeg trives i mit arbejde.');
    expect(await employee.page.locator('svg.score-chart circle').count()).toBe(2);
    await employee.page.emulateMedia({ media: 'print' });
    expect(await employee.page.locator('.main-nav').isVisible()).toBe(false);
    expect(await employee.page.locator('svg.score-chart').first().isVisible()).toBe(true);
    await screenshot(employee.page, 'scores-print');
    expectCleanConsole(employee);
  });
});
