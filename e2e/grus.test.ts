/**
 * A whole GRUS in Chromium, in Danish, in three browser contexts (the leader and two members):
 * the leader starts a GRUS round for the team, both members prepare in private (each cannot see
 * the other's answers, and the leader sees neither) until the leader starts the meeting, notes and
 * a shared agreement owned by a member, everyone signs, closed. Then one member asks for an
 * individual MUS, the leader sees the task and creates it.
 * axe on the main pages, the Content-Security-Policy blocking nothing, and a phone-sized layout.
 */
import { describe, expect, test } from 'vitest';
import type { Page } from 'playwright-core';
import { PASSWORD } from '../test/helpers/factories.ts';
import { browserSuite, checkA11y, expectCleanConsole, expectText, horizontalOverflow, loginThroughForm, screenshot, submitAndWait } from './helpers.ts';

const e2e = browserSuite();

const QUESTION = 'Hvad er gået godt i gruppen siden sidst?';

/** A member opens the GRUS from "Samtaler" and writes a private answer that autosaves. */
async function prepare(page: Page, email: string, answer: string): Promise<string> {
  await loginThroughForm(page, email);
  await page.goto('/dialogues');
  await page.getByRole('link', { name: 'GRUS 2027' }).click();
  await page.waitForURL(/\/dialogues\/[0-9a-f-]{36}$/);
  await expectText(page.locator('main'), 'Du deltager som medlem af gruppen.');
  await page.getByLabel(QUESTION).fill(answer);
  await expectText(page.locator('#status-went_well'), 'Gemt');
  return page.url();
}

describe('GRUS in Chromium', () => {
  test('group round, private preparation, meeting, shared agreement, everyone signs, closed; a member asks for an individual MUS', async () => {
    const leaderS = await e2e.session();
    const employeeS = await e2e.session({ viewport: { width: 375, height: 740 } });
    const colleagueS = await e2e.session();
    const leader = leaderS.page;
    const employee = employeeS.page;
    const colleague = colleagueS.page;

    // The leader starts a GRUS round for the team.
    await loginThroughForm(leader, e2e.company.leader.email);
    await leader.goto('/rounds/new');
    await leader.getByLabel('Rundens navn').fill('GRUS 2027');
    await leader.getByLabel('Skema').selectOption('builtin:grus-da');
    await leader.getByLabel('Team eller afdeling').selectOption(`team:${e2e.company.teamId}`);
    await leader.getByLabel('Frist for forberedelse').fill('2027-03-20');
    await leader.getByLabel('Møder fra').fill('2027-03-21');
    await leader.getByLabel('Møder til').fill('2027-04-30');
    await Promise.all([leader.waitForURL(/\/rounds\/[0-9a-f-]{36}/), leader.getByRole('button', { name: 'Start runden' }).click()]);
    await expectText(leader.locator('.flash'), 'Runden er startet med 2 samtaler.');

    // Two members prepare, each in private (the employee on a phone).
    const employeeUrl = await prepare(employee, e2e.company.employee.email, 'Vi hjælper hinanden med vagtplanen.');
    await checkA11y(employee, 'GRUS, member preparing');
    const phone = await horizontalOverflow(employee);
    expect(phone.scrollWidth, 'no sideways scrolling at phone width').toBeLessThanOrEqual(phone.innerWidth);
    await screenshot(employee, 'grus-member-phone');
    // Reloading shows the autosaved text: it is really stored.
    await employee.reload();
    expect(await employee.getByLabel(QUESTION).inputValue()).toBe('Vi hjælper hinanden med vagtplanen.');
    await submitAndWait(employee, employee.getByRole('button', { name: 'Afslut min forberedelse' }));
    const colleagueUrl = await prepare(colleague, e2e.company.colleague.email, 'Jeg savner faste teammøder.');
    expect(await colleague.locator('main').textContent()).not.toContain('vagtplanen');
    await colleague.reload();
    await submitAndWait(colleague, colleague.getByRole('button', { name: 'Afslut min forberedelse' }));
    // Even with both handed in, neither sees the other, nor does the leader, before the meeting.
    await employee.reload();
    expect(await employee.locator('main').textContent()).not.toContain('faste teammøder');
    await expectText(employee.locator('.members'), 'har afleveret sin forberedelse');
    await leader.goto(employeeUrl);
    await expectText(leader.locator('main'), 'Du deltager som gruppens leder.');
    const before = (await leader.locator('main').textContent()) ?? '';
    expect(before).not.toContain('vagtplanen');
    expect(before).not.toContain('faste teammøder');
    await checkA11y(leader, 'GRUS, leader before the meeting');

    // The leader prepares too, then starts the meeting: now the whole group sees every answer.
    await leader.getByLabel(QUESTION).fill('Teamet har leveret stabilt.');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem svar' }));
    await submitAndWait(leader, leader.getByRole('button', { name: 'Afslut min forberedelse' }));
    await submitAndWait(leader, leader.getByRole('button', { name: 'Start mødet' }));
    await expectText(leader.locator('.flash'), 'Mødet er startet.');
    await expectText(leader.locator('main'), 'Vi hjælper hinanden med vagtplanen.');
    await expectText(leader.locator('main'), 'Jeg savner faste teammøder.');
    await leader.getByLabel('Noter fra mødet').fill('Vi indfører et fast teammøde hver mandag.');
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem noter' }));
    await leader.getByLabel('Aftale', { exact: true }).fill('Fast teammøde hver mandag');
    await leader.getByLabel('Ansvarlig').selectOption({ label: e2e.company.colleague.name });
    await submitAndWait(leader, leader.getByRole('button', { name: 'Gem aftale' }));
    await expectText(leader.locator('.agreement'), 'Fast teammøde hver mandag');
    await checkA11y(leader, 'GRUS, meeting');

    await employee.goto(employeeUrl);
    await expectText(employee.locator('main'), 'Jeg savner faste teammøder.');
    await expectText(employee.locator('main'), 'Teamet har leveret stabilt.');
    await expectText(employee.locator('.agreement'), 'Fast teammøde hver mandag');
    await expectText(employee.locator('.agreement'), e2e.company.colleague.name);

    // Finish; every member and the leader sign with their password.
    await submitAndWait(leader, leader.getByRole('button', { name: 'Afslut mødet og gå til underskrift' }));
    for (const [page, url] of [
      [employee, employeeUrl],
      [colleague, colleagueUrl],
    ] as const) {
      await page.goto(url);
      await page.getByLabel('Din adgangskode').fill(PASSWORD);
      await submitAndWait(page, page.getByRole('button', { name: 'Skriv under' }));
      await expectText(page.locator('.flash'), 'Du har skrevet under.');
    }
    await checkA11y(colleague, 'GRUS, signing');
    await leader.goto(employeeUrl);
    await leader.getByLabel('Din adgangskode').fill(PASSWORD);
    await submitAndWait(leader, leader.getByRole('button', { name: 'Skriv under' }));
    await expectText(leader.locator('.flash'), 'Samtalen er afsluttet og låst.');
    await expectText(leader.locator('.members'), 'skrev under');
    await checkA11y(leader, 'GRUS, closed');

    // A member asks for an individual MUS; the leader sees the task and creates it.
    await colleague.goto(colleagueUrl);
    await colleague.getByLabel('Begrundelse (valgfri, ses kun af lederen)').fill('Jeg vil gerne tale om min karriere.');
    await submitAndWait(colleague, colleague.getByRole('button', { name: 'Bed om individuel MUS' }));
    await expectText(colleague.locator('.flash'), 'Dit ønske om en individuel MUS er sendt til lederen.');
    await checkA11y(colleague, 'GRUS, MUS requested');
    await employee.goto(employeeUrl);
    expect(await employee.locator('main').textContent()).not.toContain('min karriere');

    await leader.goto('/dashboard');
    await expectText(leader.locator('main'), `${e2e.company.colleague.name} har bedt om en individuel MUS`);
    await leader.goto('/dialogues');
    await expectText(leader.locator('main'), 'Opgaver: individuelle MUS, du skal oprette');
    await checkA11y(leader, 'leader overview with a task');
    await Promise.all([leader.waitForURL(/\/dialogues\/[0-9a-f-]{36}/), leader.getByRole('link', { name: 'Gå til gruppesamtalen' }).click()]);
    await expectText(leader.locator('main'), 'Jeg vil gerne tale om min karriere.');
    await Promise.all([leader.waitForURL(/done=mus-created/), leader.getByRole('button', { name: `Opret individuel MUS med ${e2e.company.colleague.name}` }).click()]);
    await expectText(leader.locator('.flash'), 'Den individuelle MUS er oprettet.');
    await leader.goto('/dialogues');
    expect(await leader.locator('main').textContent()).not.toContain('Opgaver: individuelle MUS');

    expectCleanConsole(leaderS);
    expectCleanConsole(employeeS);
    expectCleanConsole(colleagueS);
  });
});
