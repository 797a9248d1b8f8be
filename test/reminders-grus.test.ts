/**
 * Issue 4 follow-ups in the reminders: a GRUS (group dialogue, one row per member sharing a
 * group_id) reminds the leader once per group and every member on their own row; a member's
 * request for an individual MUS tells the responsible leader in the app and, as they chose, by
 * e-mail, without the reason or anyone's name (M6, M18).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createPerson, type CompanyFixture, type Person } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { newestMails } from './helpers/mail.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { notifyMusRequested, unsafeSendDueReminders } from '../src/modules/reminders/reminders.service.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);
const at = (iso: string) => {
  t.clock.current = new Date(iso);
};

type Grus = { f: CompanyFixture; third: Person; roundId: string; anchor: string; rows: { id: string; employee_employment_id: string }[] };

/** A GRUS of three members (the fixture's employee and colleague, and a third) with the fixture's leader. */
async function grusOfThree(): Promise<Grus> {
  const f = await createCompany(t.deps);
  const third = await createPerson(t.deps, f, { label: 'tredje', role: 'employee', teamId: f.teamId });
  at('2027-03-01T09:00:00Z');
  const leader = await loggedIn(t.app, f.leader.email);
  const res = await leader.post('/rounds', { name: 'GRUS 2027', form: 'builtin:grus-da', target: `team:${f.teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
  expect(res.statusCode).toBe(303);
  const roundId = /\/rounds\/([0-9a-f-]{36})/.exec(String(res.headers.location))?.[1] ?? '';
  const rows = await sys((trx) => trx.selectFrom('dialogues').select(['id', 'group_id', 'employee_employment_id', 'leader_employment_id']).where('round_id', '=', roundId).execute());
  expect(rows).toHaveLength(3);
  const anchor = rows[0]?.group_id ?? '';
  expect(rows.every((r) => r.group_id === anchor && r.leader_employment_id === f.leader.employmentId)).toBe(true);
  return { f, third, roundId, anchor, rows };
}

/** Notifications per (recipient employment, kind) in the company. */
async function counts(companyId: string) {
  const rows = await sys((trx) => trx.selectFrom('notifications').select(['employment_id', 'reminder', 'path']).where('company_id', '=', companyId).execute());
  const by = new Map<string, number>();
  for (const r of rows) by.set(`${r.employment_id}/${r.reminder}`, (by.get(`${r.employment_id}/${r.reminder}`) ?? 0) + 1);
  return { rows, of: (employmentId: string, kind: string) => by.get(`${employmentId}/${kind}`) ?? 0 };
}

const setRows = (roundId: string, values: Record<string, unknown>) => sys((trx) => trx.updateTable('dialogues').set(values).where('round_id', '=', roundId).execute());

describe('GRUS reminders (issue 4): the leader once per group, each member their own', () => {
  it('invitation, deadline soon and passed, meeting tomorrow, signing: one per kind for the leader, one per member', async () => {
    const g = await grusOfThree();
    const { f } = g;
    const members = [f.employee.employmentId, f.colleague.employmentId, g.third.employmentId];
    const run = () => unsafeSendDueReminders(t.deps, f.companyId);

    at('2027-03-01T09:00:00Z');
    expect(await run()).toBe(4);
    expect(await run()).toBe(0);
    at('2027-03-17T09:00:00Z');
    expect(await run()).toBe(4);
    at('2027-03-21T09:00:00Z');
    expect(await run()).toBe(4);

    // Everyone but the third member has prepared: no "both prepared" yet; then the third does.
    await setRows(g.roundId, { state: 'preparing', leader_submitted_at: new Date('2027-03-21T10:00:00Z'), employee_submitted_at: new Date('2027-03-21T10:00:00Z') });
    await sys((trx) => trx.updateTable('dialogues').set({ employee_submitted_at: null }).where('employee_employment_id', '=', g.third.employmentId).execute());
    expect(await run()).toBe(0);
    await setRows(g.roundId, { employee_submitted_at: new Date('2027-03-21T11:00:00Z') });
    expect(await run()).toBe(1);
    expect(await run()).toBe(0);

    at('2027-03-24T09:00:00Z');
    await setRows(g.roundId, { state: 'meeting', meeting_at: new Date('2027-03-25T12:00:00Z') });
    expect(await run()).toBe(4);
    await setRows(g.roundId, { state: 'signing' });
    expect(await run()).toBe(4);

    const c = await counts(f.companyId);
    for (const kind of ['round_invitation', 'preparation_due_soon', 'preparation_overdue', 'both_prepared', 'meeting_tomorrow', 'sign_off_waiting']) {
      expect(c.of(f.leader.employmentId, kind), `leader ${kind}`).toBe(1);
    }
    for (const kind of ['round_invitation', 'preparation_due_soon', 'preparation_overdue', 'meeting_tomorrow', 'sign_off_waiting']) {
      for (const m of members) expect(c.of(m, kind), `member ${kind}`).toBe(1);
    }
    for (const m of members) expect(c.of(m, 'both_prepared')).toBe(0);
    // The leader's links go to the anchor row; each member's to their own row.
    expect(c.rows.filter((r) => r.employment_id === f.leader.employmentId).every((r) => r.path === `/dialogues/${g.anchor}`)).toBe(true);
    for (const r of g.rows) {
      expect(c.rows.filter((n) => n.employment_id === r.employee_employment_id).every((n) => n.path === `/dialogues/${r.id}`)).toBe(true);
    }
    // One mail per reminder for the leader as well (no digest chosen): six, not eighteen.
    const leaderMails = (await newestMails(t.deps, f.leader.email, 50)).filter((m) => m.template === 'reminder');
    expect(leaderMails).toHaveLength(6);
    expect(await run()).toBe(0);
  });

  it('an ordinary MUS still reminds both sides', async () => {
    const f = await createCompany(t.deps);
    at('2027-03-01T09:00:00Z');
    const leader = await loggedIn(t.app, f.leader.email);
    const res = await leader.post('/rounds', { name: 'MUS 2027', form: 'builtin:mus-da', target: `team:${f.teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
    expect(res.statusCode).toBe(303);
    // Two employees in the team: two dialogues, each with the leader, so the leader gets two.
    expect(await unsafeSendDueReminders(t.deps, f.companyId)).toBe(4);
    expect((await counts(f.companyId)).of(f.leader.employmentId, 'round_invitation')).toBe(2);
  });
});

describe('M6 M18 a GRUS member asks for an individual MUS: the leader is told (issue 4)', () => {
  it('in the app and by e-mail, once per request, inside the caller transaction, with no reason or name', async () => {
    const g = await grusOfThree();
    const { f } = g;
    const row = g.rows.find((r) => r.employee_employment_id === f.colleague.employmentId);
    const dialogueId = row?.id ?? '';
    at('2027-03-05T09:00:00Z');
    const requestId = randomUUID();
    const input = { companyId: f.companyId, leaderEmploymentId: f.leader.employmentId, dialogueId, requestId };
    // As requestMus does: in the member's own tenant transaction.
    const member = { companyId: f.companyId, userId: f.colleague.userId };
    expect(await withTenant(t.deps.database, member, (trx) => notifyMusRequested(trx, t.deps, input))).toBe(true);
    expect(await withTenant(t.deps.database, member, (trx) => notifyMusRequested(trx, t.deps, input))).toBe(false);
    // A rolled-back request leaves nothing behind.
    const other = { ...input, requestId: randomUUID() };
    await expect(
      withTenant(t.deps.database, member, async (trx) => {
        await notifyMusRequested(trx, t.deps, other);
        throw new Error('the request failed');
      }),
    ).rejects.toThrow('the request failed');

    const c = await counts(f.companyId);
    expect(c.of(f.leader.employmentId, 'mus_requested')).toBe(1);
    expect(c.rows.find((r) => r.reminder === 'mus_requested')?.path).toBe(`/dialogues/${dialogueId}`);
    const mails = (await newestMails(t.deps, f.leader.email)).filter((m) => m.template === 'reminder');
    expect(mails).toHaveLength(1);
    const mail = mails[0];
    expect(mail?.text).toMatch(/individuel medarbejdersamtale/);
    expect(mail?.text).toContain(f.name);
    expect(mail?.link).toMatch(new RegExp(`/dialogues/${dialogueId}$`));
    for (const p of [f.colleague, f.employee, g.third]) {
      expect(`${mail?.subject}${mail?.text}${mail?.html}`).not.toContain(p.name);
      expect(`${mail?.subject}${mail?.text}${mail?.html}`).not.toContain(p.email);
    }

    // The leader sees it in the app, with the dialogue link, and can open the member's dialogue.
    const leader = await loggedIn(t.app, f.leader.email);
    const list = await leader.get('/notifications');
    expect(list.body).toContain('En medarbejder i en gruppesamtale beder om en individuel samtale');
    expect(list.body).toContain(`href="/dialogues/${dialogueId}"`);
    expect((await leader.get(`/dialogues/${dialogueId}`)).statusCode).toBe(200);
  });

  it('the leader may switch the e-mail off (the in-app notification stays); the mail is in their language', async () => {
    const g = await grusOfThree();
    const { f } = g;
    const dialogueId = g.rows[0]?.id ?? '';
    const leader = await loggedIn(t.app, f.leader.email);
    const page = await leader.get('/account/reminders');
    expect(page.body).toContain('value="mus_requested"');
    expect(page.body).toContain('En medarbejder i en gruppesamtale beder om en individuel samtale');
    // Only the invitations by e-mail: this kind is off.
    expect((await leader.post('/account/reminders', { on: 'round_invitation' })).statusCode).toBe(303);
    expect((await sys((trx) => trx.selectFrom('employments').select('reminders_off').where('id', '=', f.leader.employmentId).executeTakeFirstOrThrow())).reminders_off).toContain('mus_requested');
    expect((await leader.get('/account/reminders')).body).not.toMatch(/value="mus_requested" checked/);

    const before = (await newestMails(t.deps, f.leader.email, 50)).length;
    const input = { companyId: f.companyId, leaderEmploymentId: f.leader.employmentId, dialogueId, requestId: randomUUID() };
    expect(await withTenant(t.deps.database, { companyId: f.companyId, userId: f.employee.userId }, (trx) => notifyMusRequested(trx, t.deps, input))).toBe(true);
    expect((await newestMails(t.deps, f.leader.email, 50)).length).toBe(before);
    expect((await counts(f.companyId)).of(f.leader.employmentId, 'mus_requested')).toBe(1);

    // Switched on again, in English.
    await sys((trx) => trx.updateTable('employments').set({ language: 'en', reminders_off: [] }).where('id', '=', f.leader.employmentId).execute());
    const again = { ...input, requestId: randomUUID() };
    await withTenant(t.deps.database, { companyId: f.companyId, userId: f.employee.userId }, (trx) => notifyMusRequested(trx, t.deps, again));
    const mail = (await newestMails(t.deps, f.leader.email))[0];
    expect(mail?.text).toMatch(/asked for an individual employee dialogue/);
  });
});
