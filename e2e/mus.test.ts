/**
 * A whole MUS in Chromium, in Danish, in two browser contexts (the leader and the employee):
 * the leader starts a round, both prepare in private (the answer autosaves through htmx while
 * typing), the meeting with notes and an agreement, both sign with their password, closed, and
 * next year's round starts with the open agreement.
 * axe on the main pages, the Content-Security-Policy blocking nothing, and a phone-sized layout.
 */
import { describe, expect, test } from 'vitest';
import { createCompany, createDialogue, PASSWORD } from '../test/helpers/factories.ts';
import { browserSuite, checkA11y, cspViolations, expectCleanConsole, expectText, horizontalOverflow, loginThroughForm, screenshot, submitAndWait } from './helpers.ts';

const e2e = browserSuite();

describe('MUS in Chromium', () => {
  test('round, private preparation with autosave, meeting, agreement, both sign, closed, carried into next year', async () => {
    const leaderS = await e2e.session();
    const employeeS = await e2e.session({ viewport: { width: 375, height: 740 } });
    const leader = leaderS.page;
    const employee = employeeS.page;

    // The leader starts the round from "Samtaler".
    await loginThroughForm(leader, e2e.company.leader.email);
    await leader.goto('/dialogues');
    await checkA11y(leader, 'leader overview');
    await leader.getByRole('link', { name: 'Start en samtalerunde' }).first().click();
    await leader.waitForURL('**/rounds/new');
    await checkA11y(leader, 'new round');
    await leader.getByLabel('Rundens navn').fill('MUS 2027');
    await leader.getByLabel('Team eller afdeling').selectOption(`team:${e2e.company.teamId}`);
    await leader.getByLabel('Frist for forberedelse').fill('2027-03-20');
    await leader.getByLabel('Møder fra').fill('2027-03-21');
    await leader.getByLabel('Møder til').fill('2027-04-30');
    await Promise.all([leader.waitForURL(/\/rounds\/[0-9a-f-]{36}/), leader.getByRole('button', { name: 'Start runden' }).click()]);
    await expectText(leader.locator('.flash'), 'Runden er startet med 2 samtaler.');
    const roundUrl = new URL(leader.url()).pathname;
    await checkA11y(leader, 'round page');

    // The employee prepares on a phone; the answer saves itself while typing.
    await loginThroughForm(employee, e2e.company.employee.email);
    await employee.goto('/dialogues');
    await checkA11y(employee, 'employee overview');
    await expectText(employee.locator('main'), 'Forbered dig');
    await employee.getByRole('link', { name: 'MUS 2027' }).click();
    await employee.waitForURL(/\/dialogues\/[0-9a-f-]{36}$/);
    const dialogueUrl = employee.url();
    const proud = employee.getByLabel('Hvad er du (medarbejderen) mest tilfreds med fra det forløbne år?');
    await proud.fill('Jeg fik vores nye kundeportal i luften.');
    await expectText(employee.locator('#status-proud'), 'Gemt');
    await employee.getByLabel('4 – I høj grad').check();
    await expectText(employee.locator('#status-wellbeing'), 'Gemt');
    await checkA11y(employee, 'dialogue, employee preparing');
    const phone = await horizontalOverflow(employee);
    expect(phone.scrollWidth, 'no sideways scrolling at phone width').toBeLessThanOrEqual(phone.innerWidth);
    await screenshot(employee, 'mus-employee-phone');
    // Reloading shows the autosaved text: it is really stored.
    await employee.reload();
    expect(await proud.inputValue()).toBe('Jeg fik vores nye kundeportal i luften.');
    await submitAndWait(employee, employee.getByRole('button', { name: 'Afslut min forberedelse' }));
    await expectText(employee.locator('.flash'), 'Du har afsluttet din forberedelse.');

    // The leader does not see it until they have submitted too (no JavaScript needed for this save).
    await leader.goto(dialogueUrl);
    expect(await leader.locator('main').textContent()).not.toContain('kundeportal');
    await leader.getByLabel('Hvad er du (medarbejderen) mest tilfreds med fra det forløbne år?').fill('Stærk leverance på portalen.');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem svar' }));
    await expectText(leader.locator('.flash'), 'Dine svar er gemt.');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Afslut min forberedelse' }));
    await expectText(leader.locator('main'), 'Jeg fik vores nye kundeportal i luften.');

    // Meeting: time and place, start, notes, an agreement.
    await leader.getByLabel('Dato').fill('2027-03-25');
    await leader.getByLabel('Klokkeslæt').fill('10:00');
    await leader.getByLabel('Sted eller videolink').fill('Mødelokale 2');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem mødetidspunkt' }));
    await submitAndWait(leader, leader.getByRole('button', { name: 'Start mødet' }));
    await expectText(leader.locator('.flash'), 'Mødet er startet.');
    await leader.getByLabel('Noter fra mødet').fill('Vi aftalte et kursus.');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem noter' }));
    await leader.getByLabel('Aftale', { exact: true }).fill('Kursus i facilitering');
    await leader.getByLabel('Deadline').fill('2027-06-30');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem aftale' }));
    await expectText(leader.locator('main'), 'Kursus i facilitering');
    await checkA11y(leader, 'dialogue, meeting');

    await employee.goto(dialogueUrl);
    await expectText(employee.locator('main'), 'Stærk leverance på portalen.');
    await expectText(employee.locator('main'), 'Kursus i facilitering');

    await submitAndWait(leader, leader.getByRole('button', { name: 'Afslut mødet og gå til underskrift' }));

    // Both sign with their password; the employee adds a comment of disagreement.
    await employee.goto(dialogueUrl);
    await employee.getByLabel('Kommentar, hvis du er uenig (valgfri)').fill('Jeg ser arbejdsmængden anderledes.');
    await employee.getByLabel('Din adgangskode').fill(PASSWORD);
    await submitAndWait(employee, employee.getByRole('button', { name: 'Skriv under' }));
    await expectText(employee.locator('.flash'), 'Du har skrevet under.');
    await checkA11y(employee, 'dialogue, signing');

    await leader.goto(dialogueUrl);
    await leader.getByLabel('Din adgangskode').fill(PASSWORD);
    await submitAndWait(leader, leader.getByRole('button', { name: 'Skriv under' }));
    await expectText(leader.locator('.flash'), 'Samtalen er afsluttet og låst.');
    await expectText(leader.locator('main'), 'Jeg ser arbejdsmængden anderledes.');
    await checkA11y(leader, 'dialogue, closed');
    await leader.goto(`${roundUrl}/statistics`);
    await expectText(leader.locator('main'), '1 af 2 samtaler er afsluttet.');
    await checkA11y(leader, 'round statistics');

    await employee.goto('/dialogues');
    await expectText(employee.locator('main'), 'Kursus i facilitering');
    await expectText(employee.locator('main'), 'Færdig');
    await checkA11y(employee, 'employee overview, closed');
    const overview = await horizontalOverflow(employee);
    expect(overview.scrollWidth).toBeLessThanOrEqual(overview.innerWidth);

    // Next year: a new round, and the open agreement is already in the employee's new dialogue.
    e2e.running.clock.advance(300 * 86_400_000);
    await loginThroughForm(leader, e2e.company.leader.email);
    await leader.goto('/rounds/new');
    await leader.getByLabel('Rundens navn').fill('MUS 2028');
    await leader.getByLabel('Team eller afdeling').selectOption(`team:${e2e.company.teamId}`);
    await leader.getByLabel('Frist for forberedelse').fill('2028-01-20');
    await leader.getByLabel('Møder fra').fill('2028-01-21');
    await leader.getByLabel('Møder til').fill('2028-02-28');
    await Promise.all([leader.waitForURL(/\/rounds\/[0-9a-f-]{36}/), leader.getByRole('button', { name: 'Start runden' }).click()]);
    await loginThroughForm(employee, e2e.company.employee.email);
    await employee.goto('/dialogues');
    await employee.getByRole('link', { name: 'MUS 2028' }).click();
    await employee.waitForURL(/\/dialogues\/[0-9a-f-]{36}$/);
    await expectText(employee.locator('.agreement'), 'Kursus i facilitering');
    await expectText(employee.locator('.agreement'), 'fra sidste samtale');
    await checkA11y(employee, 'next year, carried agreement');

    expectCleanConsole(leaderS);
    expectCleanConsole(employeeS);
  });

  test('two tabs: the stale autosave shows both texts and overwrites nothing', async () => {
    const f = await createCompany(e2e.running.deps);
    const { dialogueId } = await createDialogue(e2e.running.deps, f);
    const s = await e2e.session();
    await loginThroughForm(s.page, f.employee.email);
    const tab1 = s.page;
    const tab2 = await s.context.newPage();
    await tab1.goto(`/dialogues/${dialogueId}`);
    await tab2.goto(`/dialogues/${dialogueId}`);
    const label = 'Hvad har været svært, og hvad lærte vi af det?';
    await tab1.getByLabel(label).fill('Skrevet i fane et');
    await expectText(tab1.locator('#status-hard'), 'Gemt');
    await tab2.getByLabel(label).fill('Skrevet i fane to');
    await expectText(tab2.locator('#status-hard'), 'Teksten blev ikke gemt');
    await expectText(tab2.locator('#status-hard .saved-text'), 'Skrevet i fane et');
    await expectText(tab2.locator('#status-hard .my-text'), 'Skrevet i fane to');
    await checkA11y(tab2, 'conflict shown');
    await tab1.reload();
    expect(await tab1.getByLabel(label).inputValue()).toBe('Skrevet i fane et');
    expect(cspViolations(s), 'Content-Security-Policy violations').toEqual([]);
  });
});
