/**
 * Issue 8: a round's reminders go out on the right days through a real SMTP server, each once,
 * mirrored in the app; people choose which come by e-mail or a daily digest; leaders nudge; no
 * mail names another person or carries anything from the dialogue (M6, M18).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { deliverMail, startSmtpServer, type TestSmtp } from './helpers/mail.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { unsafeSendDigests, unsafeSendDueReminders } from '../src/modules/reminders/reminders.service.ts';
import { closeMailTransport } from '../src/platform/mail/transport.ts';
import { recordSicknessFromApi } from '../src/modules/dialogues/dialogues.service.ts';

let t: TestApp;
let smtp: TestSmtp;

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await createTestApp({ SMTP_URL: smtp.url, SMTP_REQUIRE_TLS: 'false' });
});
afterAll(async () => {
  closeMailTransport(t.deps.config);
  await t?.close();
  await smtp?.close();
});

const DAY = 86_400_000;
/** The test clock starts 2027-03-01 09:00Z; createDialogue's round has its deadline 2027-03-15. */
const at = (iso: string) => {
  t.clock.current = new Date(iso);
};

async function run(f: CompanyFixture) {
  const n = await unsafeSendDueReminders(t.deps, f.companyId);
  // A delivery that failed for a moment (a busy machine) is retried after its backoff, as the job
  // would: a few minutes later on the same day.
  for (let i = 0; i < 4; i++) {
    const r = await deliverMail(t.deps, [f.employee.email, f.leader.email, f.colleague.email]);
    if (r.retrying === 0) break;
    t.clock.advance(3 * 60_000);
  }
  return n;
}

const arrived = (address: string) => smtp.received.filter((m) => m.to.includes(address));

describe('round reminders by e-mail (issue 8)', () => {
  it('invite both sides once, warn 3 days before the deadline and the day after it, on those days only', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    at('2027-03-01T09:00:00Z');
    expect(await run(f)).toBe(2);
    expect(await run(f)).toBe(0);
    const invite = arrived(f.employee.email).at(-1);
    expect(invite?.subject).toBe('Samtale: du har en opgave');
    expect(invite?.text).toContain(f.name);
    expect(invite?.text).toContain(`/dialogues/${d.dialogueId}`);
    // M6/M18: never the other person's name or anything from the dialogue.
    for (const m of [...arrived(f.employee.email), ...arrived(f.leader.email)]) {
      for (const other of [f.leader.name, f.employee.name, f.leader.email, f.employee.email]) expect(m.text + m.html).not.toContain(other);
      expect(m.text + m.html).not.toContain('Kursus i projektledelse');
    }
    at('2027-03-11T09:00:00Z');
    expect(await run(f)).toBe(0);
    at('2027-03-12T09:00:00Z');
    expect(await run(f)).toBe(2);
    expect(arrived(f.employee.email).at(-1)?.text).toContain('15.');
    // The employee prepares; the day after the deadline only the leader is overdue.
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('dialogues').set({ employee_submitted_at: new Date('2027-03-14T10:00:00Z'), state: 'preparing' }).where('id', '=', d.dialogueId).execute());
    at('2027-03-16T08:00:00Z');
    const before = arrived(f.employee.email).length;
    expect(await run(f)).toBe(1);
    expect(arrived(f.employee.email).length).toBe(before);
    expect(arrived(f.leader.email).at(-1)?.text).toMatch(/overskredet/);
    // Both prepared: the leader may book the meeting (once).
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('dialogues').set({ leader_submitted_at: new Date('2027-03-16T09:00:00Z') }).where('id', '=', d.dialogueId).execute());
    expect(await run(f)).toBe(1);
    expect(arrived(f.leader.email).at(-1)?.text).toMatch(/mødet kan nu aftales/);
    expect(await run(f)).toBe(0);
  });

  it('the day before the meeting both are reminded; signing, agreement follow-up and sickness dialogues too', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    at('2027-03-20T09:00:00Z');
    await run(f); // the invitations
    await unsafeSystemTransaction(t.deps.database, (trx) => trx.updateTable('dialogues').set({ state: 'meeting', meeting_at: new Date('2027-03-21T12:00:00Z') }).where('id', '=', d.dialogueId).execute());
    expect(await run(f)).toBe(2);
    expect(arrived(f.employee.email).at(-1)?.text).toMatch(/i morgen/);
    await unsafeSystemTransaction(t.deps.database, async (trx) => {
      await trx.updateTable('dialogues').set({ state: 'signing' }).where('id', '=', d.dialogueId).execute();
      await trx.updateTable('agreements').set({ follow_up: '2027-03-20' }).where('id', '=', d.agreementId).execute();
    });
    // Two signatures waiting and the agreement's owner (the employee).
    expect(await run(f)).toBe(3);
    expect(arrived(f.employee.email).some((m) => /følges op/.test(m.text))).toBe(true);
    // A sickness report makes a dialogue for the leader to hold: one reminder.
    // As the integration API does: inside the company's own transaction.
    await withTenant(t.deps.database, { companyId: f.companyId }, (trx) =>
      recordSicknessFromApi(trx, { companyId: f.companyId, employmentId: f.colleague.employmentId, from: '2027-03-20', to: null, apiTokenId: crypto.randomUUID(), who: { companyId: f.companyId }, now: t.clock.now() }),
    );
    expect(await run(f)).toBe(1);
    expect(arrived(f.leader.email).at(-1)?.text).toMatch(/sygefraværssamtale/);
  });

  it('people choose which reminders come by e-mail (in the app they always are), or one digest a day', async () => {
    const f = await createCompany(t.deps);
    await createDialogue(t.deps, f);
    at('2027-03-01T09:00:00Z');
    const employee = await loggedIn(t.app, f.employee.email);
    const leader = await loggedIn(t.app, f.leader.email);
    expect((await employee.get('/account/reminders')).statusCode).toBe(200);
    // The employee turns the invitation mail off; the leader chooses a digest.
    const others = ['preparation_due_soon', 'preparation_overdue', 'both_prepared', 'meeting_tomorrow', 'sign_off_waiting', 'agreement_follow_up', 'sickness_dialogue_due'];
    const form = new URLSearchParams(others.map((k) => ['on', k]));
    expect((await employee.post('/account/reminders', Object.fromEntries(form))).statusCode).toBe(303);
    await leader.get('/account/reminders');
    expect((await leader.post('/account/reminders', { on: 'round_invitation', digest: '1' })).statusCode).toBe(303);
    const mailsBefore = arrived(f.employee.email).length + arrived(f.leader.email).length;
    expect(await run(f)).toBe(2);
    expect(arrived(f.employee.email).length + arrived(f.leader.email).length).toBe(mailsBefore);
    // Both still see it in the app.
    expect((await employee.get('/notifications')).body).toContain('Invitation til en ny samtale');
    expect((await leader.get('/notifications')).body).toContain('Invitation til en ny samtale');
    // The digest: one mail for the leader, listing the day's reminder; once a day.
    expect(await unsafeSendDigests(t.deps, f.companyId)).toBe(1);
    expect(await unsafeSendDigests(t.deps, f.companyId)).toBe(0);
    await deliverMail(t.deps, [f.leader.email]);
    const digest = arrived(f.leader.email).at(-1);
    expect(digest?.subject).toBe('Samtale: dagens opgaver');
    expect(digest?.text).toContain('/notifications');
    await employee.post('/notifications/read');
    expect((await employee.get('/notifications')).body).not.toContain('class="unread"');
  });

  it('a leader nudges the employee of their own dialogue, once a day; nobody else may', async () => {
    const f = await createCompany(t.deps);
    const d = await createDialogue(t.deps, f);
    at('2027-03-05T09:00:00Z');
    const leader = await loggedIn(t.app, f.leader.email);
    expect((await leader.get(`/dialogues/${d.dialogueId}`)).body).toContain(`action="/dialogues/${d.dialogueId}/nudge"`);
    expect((await leader.post(`/dialogues/${d.dialogueId}/nudge`)).headers.location).toBe(`/dialogues/${d.dialogueId}?done=nudged`);
    expect((await leader.post(`/dialogues/${d.dialogueId}/nudge`)).headers.location).toBe(`/dialogues/${d.dialogueId}?done=nudgeAlready`);
    await deliverMail(t.deps, [f.employee.email]);
    expect(arrived(f.employee.email).at(-1)?.text).toMatch(/mindet om en samtale/);
    const colleague = await loggedIn(t.app, f.colleague.email);
    await colleague.get('/dashboard');
    expect((await colleague.post(`/dialogues/${d.dialogueId}/nudge`)).statusCode).toBe(404);
    t.clock.advance(DAY);
    const nextDay = await loggedIn(t.app, f.leader.email);
    expect((await nextDay.post(`/dialogues/${d.dialogueId}/nudge`)).headers.location).toBe(`/dialogues/${d.dialogueId}?done=nudged`);
  });

  it('security notices are mirrored in the app as well (and cannot be switched off)', async () => {
    const f = await createCompany(t.deps);
    at('2027-04-01T09:00:00Z');
    const stranger = new Agent(t.app);
    await stranger.get('/login');
    for (let i = 0; i < 3; i++) await stranger.post('/login', { email: f.colleague.email, password: `wrong ${i}` });
    const me = await loggedIn(t.app, f.colleague.email);
    const list = await me.get('/notifications');
    expect(list.body).toContain('Dit login blev spærret efter forkerte forsøg');
    expect((await me.get('/account/reminders')).body).not.toContain('spærret');
  });
});
