/**
 * M15 (issue 6): employees who leave. Firing ends the person's sessions in the company at once;
 * an admin may rehire for 14 days; then the retention runner purges the personal data (and the
 * login identity if nothing else uses it) but keeps the dialogues for the leader's archive, which
 * goes after 5 years. Every global run here is scoped to this file's companies (onlyCompanyIds):
 * on PostgreSQL all test files share one database.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, giveTotpFactor, type CompanyFixture, type DialogueFixture } from './helpers/factories.ts';
import { loggedIn, type Agent } from './helpers/agent.ts';
import { createAvailableDialogueFile, createAvailableFile } from './helpers/files.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { audit } from '../src/platform/audit/audit.ts';
import { openDatabase } from '../src/platform/db/database.ts';
import { formatDate } from '../src/platform/i18n/i18n.ts';
import { runDueJobs } from '../src/platform/jobs/jobs.ts';
import type { AppDeps } from '../src/platform/deps.ts';
import { runRetention, retentionJob } from '../src/modules/retention/runner.ts';
import { unsafePurgeTransaction, addYears } from '../src/modules/retention/steps.ts';
import { retentionCommand } from '../src/cli/retention.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const DAY = 86_400_000;
const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

function run(companies: string[], opts: { asOf?: Date; dryRun?: boolean } = {}) {
  const lines: string[] = [];
  return runRetention(t.deps, { asOf: opts.asOf ?? t.clock.now(), dryRun: opts.dryRun ?? false, log: (l) => lines.push(l), onlyCompanyIds: companies }).then((r) => ({ ...r, lines }));
}
const purgedBy = (r: Awaited<ReturnType<typeof run>>, step: string) => r.steps.find((s) => s.name === step)?.purged ?? -1;

const employment = (id: string) => sys((trx) => trx.selectFrom('employments').selectAll().where('id', '=', id).executeTakeFirst());
const user = (id: string) => sys((trx) => trx.selectFrom('users').select(['id', 'email']).where('id', '=', id).executeTakeFirst());

async function addView(f: CompanyFixture, objectType: 'dialogue' | 'file', objectId: string) {
  await sys((trx) =>
    trx.insertInto('document_views').values({ company_id: f.companyId, object_type: objectType, object_id: objectId, viewer_user_id: f.leader.userId, viewer_staff_id: null, viewer_role: 'leader' }).execute(),
  );
}
const views = (f: CompanyFixture, objectId: string) =>
  sys((trx) => trx.selectFrom('document_views').select('id').where('company_id', '=', f.companyId).where('object_id', '=', objectId).execute());

describe('M15 append-only tables open only to a purge transaction', () => {
  let f: CompanyFixture;
  let fileId: string;
  beforeAll(async () => {
    f = await createCompany(t.deps);
    fileId = await createAvailableFile(t.deps, f);
    await addView(f, 'file', fileId);
    await sys((trx) => audit(trx, { companyId: f.companyId }, { type: 'files.available', objectType: 'file', objectId: fileId }));
  });

  it('refuses deletes by the system role without the purge setting, and by the app role with it', async () => {
    await expect(sys((trx) => trx.deleteFrom('document_views').where('object_id', '=', fileId).execute())).rejects.toThrow(/append-only/);
    await expect(sys((trx) => trx.deleteFrom('audit_events').where('company_id', '=', f.companyId).execute())).rejects.toThrow(/append-only/);
    await expect(
      withTenant(t.deps.database, { companyId: f.companyId, userId: f.admin.userId }, async (trx) => {
        await sql`select set_config('samtale.purge', 'on', true)`.execute(trx);
        await trx.deleteFrom('document_views').where('object_id', '=', fileId).execute();
      }),
    ).rejects.toThrow();
    // Updates are never allowed, not even inside a purge.
    await expect(
      unsafePurgeTransaction(t.deps, (trx) => trx.updateTable('audit_events').set({ event_type: 'files.infected' }).where('company_id', '=', f.companyId).execute()),
    ).rejects.toThrow(/append-only/);
    expect(await views(f, fileId)).toHaveLength(1);
  });

  it('lets a purge transaction delete them', async () => {
    // Audit rows: deleted and rolled back, so the company's hash chain stays whole for other tests.
    const rollback = new Error('rollback');
    let deleted = 0n;
    await expect(
      unsafePurgeTransaction(t.deps, async (trx) => {
        deleted = (await trx.deleteFrom('audit_events').where('company_id', '=', f.companyId).executeTakeFirst()).numDeletedRows;
        throw rollback;
      }),
    ).rejects.toBe(rollback);
    expect(deleted).toBeGreaterThan(0n);
    await unsafePurgeTransaction(t.deps, (trx) => trx.deleteFrom('document_views').where('object_id', '=', fileId).execute());
    expect(await views(f, fileId)).toHaveLength(0);
  });
});

describe('M15 a fired employee: purged on day 15, not on day 13; rehire until then', () => {
  let a: CompanyFixture;
  let admin: Agent;
  let dialogue: DialogueFixture;
  let inboxFile: string;
  let attachment: string;
  const firedAt = () => new Date('2027-03-01T09:00:00Z');

  beforeAll(async () => {
    a = await createCompany(t.deps);
    admin = await loggedIn(t.app, a.admin.email);
    dialogue = await createDialogue(t.deps, a);
    inboxFile = await createAvailableFile(t.deps, a);
    attachment = await createAvailableDialogueFile(t.deps, a, dialogue.dialogueId, dialogue.agreementId);
    await addView(a, 'file', inboxFile);
    await addView(a, 'file', attachment);
    await addView(a, 'dialogue', dialogue.dialogueId);
    await giveTotpFactor(t.deps, a.employee.userId);
    await sys(async (trx) => {
      await trx
        .insertInto('dialogue_answers')
        .values({ company_id: a.companyId, dialogue_id: dialogue.dialogueId, question_id: 'q1', side: 'employee', value: 'Mit svar', version: 1, updated_by: a.employee.employmentId })
        .execute();
      await trx.insertInto('delegations').values({ id: randomUUID(), company_id: a.companyId, employment_id: a.employee.employmentId, responsibility: 'dialog_access_edp', team_id: a.otherTeamId, department_id: null }).execute();
      await trx.insertInto('notifications').values({ id: randomUUID(), company_id: a.companyId, employment_id: a.employee.employmentId, reminder: 'prepare', deadline: null, path: `/dialogues/${dialogue.dialogueId}`, read_at: null, digested_at: null }).execute();
      await trx.updateTable('employments').set({ title: 'Udvikler' }).where('id', '=', a.employee.employmentId).execute();
    });
  });

  it('firing ends the sessions at once and shows the purge date', async () => {
    expect(t.clock.now().toISOString()).toBe(firedAt().toISOString());
    const victim = await loggedIn(t.app, a.employee.email);
    expect((await victim.get('/dashboard')).statusCode).toBe(200);
    expect((await admin.post(`/org/employees/${a.employee.employmentId}/fire`)).statusCode).toBe(303);
    expect((await admin.post(`/org/employees/${a.colleague.employmentId}/fire`)).statusCode).toBe(303);
    const gone = await victim.get('/dashboard');
    expect(gone.statusCode).toBe(303);
    expect(gone.headers.location).toContain('/login');
    const purge = formatDate('da', new Date(firedAt().getTime() + 14 * DAY));
    const page = await admin.get(`/org/employees/${a.employee.employmentId}`);
    expect(page.body).toContain(`slettes ${purge}`);
    expect((await admin.get('/org/employees')).body).toContain(purge);
  });

  it('day 13: nothing is purged and the admin can still rehire', async () => {
    t.clock.advance(13 * DAY);
    const r = await run([a.companyId]);
    expect(purgedBy(r, 'employees.personal-data')).toBe(0);
    expect((await employment(a.employee.employmentId))?.purged_at).toBeNull();
    expect(await user(a.employee.userId)).toBeDefined();
    admin = await loggedIn(t.app, a.admin.email);
    const rehired = await admin.post(`/org/employees/${a.colleague.employmentId}/rehire`);
    expect(rehired.statusCode).toBe(303);
    expect((await employment(a.colleague.employmentId))?.fired_at).toBeNull();
  });

  it('a dry run on day 15 reports the purge and changes nothing', async () => {
    const r = await run([a.companyId], { asOf: new Date(t.clock.now().getTime() + 2 * DAY), dryRun: true });
    expect(purgedBy(r, 'employees.personal-data')).toBe(1);
    expect(r.lines.join('\n')).toContain(`would purge personal data of employment ${a.employee.employmentId}`);
    expect((await employment(a.employee.employmentId))?.purged_at).toBeNull();
    expect(await user(a.employee.userId)).toBeDefined();
    expect(await views(a, inboxFile)).toHaveLength(1);
  });

  it('day 15: rehire is refused, the run purges the personal data and the login identity', async () => {
    t.clock.advance(2 * DAY);
    admin = await loggedIn(t.app, a.admin.email);
    const late = await admin.post(`/org/employees/${a.employee.employmentId}/rehire`);
    expect(late.statusCode).toBe(409);
    expect(late.body).toContain('mere end 14 dage');

    const r = await run([a.companyId]);
    expect(purgedBy(r, 'employees.personal-data')).toBe(1);
    expect(r.lines.join('\n')).toContain(`purged personal data of employment ${a.employee.employmentId}`);

    const row = await employment(a.employee.employmentId);
    expect(row).toMatchObject({ user_id: null, title: '', display_name: a.employee.name, team_id: a.teamId });
    expect(row?.purged_at).not.toBeNull();
    expect(row?.fired_at).not.toBeNull();
    expect(await user(a.employee.userId)).toBeUndefined();
    const left = await sys(async (trx) => ({
      factors: await trx.selectFrom('totp_factors').select('id').where('user_id', '=', a.employee.userId).execute(),
      sessions: await trx.selectFrom('sessions').select('id').where('user_id', '=', a.employee.userId).execute(),
      delegations: await trx.selectFrom('delegations').select('id').where('employment_id', '=', a.employee.employmentId).execute(),
      notifications: await trx.selectFrom('notifications').select('id').where('employment_id', '=', a.employee.employmentId).execute(),
      inbox: await trx.selectFrom('files').select('id').where('id', '=', inboxFile).execute(),
      attachment: await trx.selectFrom('files').select('id').where('id', '=', attachment).execute(),
      dialogue: await trx.selectFrom('dialogues').select('id').where('id', '=', dialogue.dialogueId).execute(),
      answers: await trx.selectFrom('dialogue_answers').select('value').where('dialogue_id', '=', dialogue.dialogueId).execute(),
      agreements: await trx.selectFrom('agreements').select('id').where('dialogue_id', '=', dialogue.dialogueId).execute(),
    }));
    expect(left.factors).toHaveLength(0);
    expect(left.sessions).toHaveLength(0);
    expect(left.delegations).toHaveLength(0);
    expect(left.notifications).toHaveLength(0);
    expect(left.inbox).toHaveLength(0);
    expect(await views(a, inboxFile)).toHaveLength(0);
    // The leader's archive: the dialogue and all it holds stay.
    expect(left.attachment).toHaveLength(1);
    expect(left.dialogue).toHaveLength(1);
    expect(left.answers).toEqual([{ value: 'Mit svar' }]);
    expect(left.agreements).toHaveLength(1);
    expect(await views(a, attachment)).toHaveLength(1);
    expect(await views(a, dialogue.dialogueId)).toHaveLength(1);

    // Audited as "system", with counts and no personal data.
    const ev = await sys((trx) =>
      trx.selectFrom('audit_events').selectAll().where('company_id', '=', a.companyId).where('event_type', '=', 'retention.employee_purged').execute(),
    );
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ actor_user_id: null, actor_staff_id: null, object_id: a.employee.employmentId });
    const data = JSON.stringify(ev[0]?.data);
    expect(data).toContain('"actor":"system"');
    expect(data).toContain('"identityDeleted":true');
    expect(data).not.toContain(a.employee.email);
    expect(data).not.toContain(a.employee.name);

    // The colleague who was rehired is untouched; a second run purges nothing.
    expect((await employment(a.colleague.employmentId))?.purged_at).toBeNull();
    expect(purgedBy(await run([a.companyId]), 'employees.personal-data')).toBe(0);
  });

  it('after the purge: rehire is refused with a clear message; the page shows what is kept', async () => {
    const res = await admin.post(`/org/employees/${a.employee.employmentId}/rehire`);
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('blev slettet 14 dage efter fratrædelsen');
    const page = await admin.get(`/org/employees/${a.employee.employmentId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(a.employee.name);
    expect(page.body).toContain(`lederens arkiv til ${formatDate('da', addYears(firedAt(), 5))}`);
    expect(page.body).not.toContain(a.employee.email);
    const edit = await admin.post(`/org/employees/${a.employee.employmentId}`, { title: 'x', role: 'employee', language: 'da', placement: `team:${a.teamId}` });
    expect(edit.statusCode).toBeGreaterThanOrEqual(400);
    expect(edit.statusCode).toBeLessThan(500);
    expect((await admin.get('/org/employees')).body).not.toContain(a.employee.name);
    // Whatever path tries it, the database never lets a purged employment be un-fired.
    await expect(sys((trx) => trx.updateTable('employments').set({ fired_at: null }).where('id', '=', a.employee.employmentId).execute())).rejects.toThrow(/employments_purged_stays_fired/);
    // The leader's pages still work with a purged employee in them (never a 5xx).
    const leader = await loggedIn(t.app, a.leader.email);
    for (const url of ['/dialogues', `/dialogues/${dialogue.dialogueId}`, '/dashboard', `/org/teams/${a.teamId}`]) {
      expect((await leader.get(url)).statusCode, url).toBeLessThan(500);
    }
    // Before year 5 the responsible leader still reads the dialogue, and finds it in the archive.
    expect((await leader.get(`/dialogues/${dialogue.dialogueId}`)).statusCode).toBe(200);
    const archive = await leader.get('/archive');
    expect(archive.statusCode).toBe(200);
    expect(archive.body).toContain(a.employee.name);
    expect(archive.body).toContain(`/dialogues/${dialogue.dialogueId}`);
    for (const url of [`/org/teams/${a.teamId}`, '/org', '/org/employees']) {
      expect((await admin.get(url)).statusCode, url).toBeLessThan(500);
    }
  });

  it('year 5: the archived dialogues stay until then and are purged after, with the employment row', async () => {
    const before = await run([a.companyId], { asOf: new Date(addYears(firedAt(), 5).getTime() - DAY) });
    expect(purgedBy(before, 'employees.archive')).toBe(0);
    expect(await sys((trx) => trx.selectFrom('dialogues').select('id').where('id', '=', dialogue.dialogueId).execute())).toHaveLength(1);

    const dry = await run([a.companyId], { asOf: new Date(addYears(firedAt(), 5).getTime() + DAY), dryRun: true });
    expect(dry.lines.join('\n')).toContain(`would purge the archive of employment ${a.employee.employmentId}`);
    expect(await employment(a.employee.employmentId)).toBeDefined();

    const after = await run([a.companyId], { asOf: new Date(addYears(firedAt(), 5).getTime() + DAY) });
    expect(purgedBy(after, 'employees.archive')).toBe(1);
    const left = await sys(async (trx) => ({
      dialogue: await trx.selectFrom('dialogues').select('id').where('id', '=', dialogue.dialogueId).execute(),
      answers: await trx.selectFrom('dialogue_answers').select('value').where('dialogue_id', '=', dialogue.dialogueId).execute(),
      agreements: await trx.selectFrom('agreements').select('id').where('dialogue_id', '=', dialogue.dialogueId).execute(),
      attachment: await trx.selectFrom('files').select('id').where('id', '=', attachment).execute(),
      chunks: await trx.selectFrom('file_chunks').select('seq').where('file_id', '=', attachment).execute(),
    }));
    expect(left).toEqual({ dialogue: [], answers: [], agreements: [], attachment: [], chunks: [] });
    expect(await views(a, attachment)).toHaveLength(0);
    expect(await views(a, dialogue.dialogueId)).toHaveLength(0);
    expect(await employment(a.employee.employmentId)).toBeUndefined();
    const leader = await loggedIn(t.app, a.leader.email);
    const archive = await leader.get('/archive');
    expect(archive.statusCode).toBe(200);
    expect(archive.body).not.toContain(a.employee.name);
    expect(archive.body).not.toContain(dialogue.dialogueId);
    expect((await leader.get(`/dialogues/${dialogue.dialogueId}`)).statusCode).toBe(404);
    const ev = await sys((trx) =>
      trx.selectFrom('audit_events').select(['data', 'actor_user_id']).where('company_id', '=', a.companyId).where('event_type', '=', 'retention.archive_purged').executeTakeFirstOrThrow(),
    );
    expect(ev.actor_user_id).toBeNull();
    expect(JSON.stringify(ev.data)).toContain('"dialogues":1');
  });
});

describe('M15 a fired leader', () => {
  it('loses personal data and ownerships on day 15; at year 5 the row stays nameless while others\' dialogues point at it', async () => {
    const g = await createCompany(t.deps);
    const dialogue = await createDialogue(t.deps, g);
    const firedAt = t.clock.now();
    const admin = await loggedIn(t.app, g.admin.email);
    expect((await admin.post(`/org/employees/${g.leader.employmentId}/fire`)).statusCode).toBe(303);
    const r = await run([g.companyId], { asOf: new Date(firedAt.getTime() + 15 * DAY) });
    expect(purgedBy(r, 'employees.personal-data')).toBe(1);
    const owner = await sys((trx) => trx.selectFrom('departments').select('owner_employment_id').where('id', '=', g.departmentId).executeTakeFirstOrThrow());
    expect(owner.owner_employment_id).toBeNull();
    // The employee's dialogue (led by the purged leader) still opens for the employee.
    const employee = await loggedIn(t.app, g.employee.email);
    expect((await employee.get(`/dialogues/${dialogue.dialogueId}`)).statusCode).toBeLessThan(500);

    const year5 = new Date(addYears(firedAt, 5).getTime() + DAY);
    const after = await run([g.companyId], { asOf: year5 });
    expect(purgedBy(after, 'employees.archive')).toBe(1);
    expect(after.lines.join('\n')).toContain('kept without name');
    expect(await employment(g.leader.employmentId)).toMatchObject({ display_name: null, user_id: null });
    expect(await sys((trx) => trx.selectFrom('dialogues').select('id').where('id', '=', dialogue.dialogueId).execute())).toHaveLength(1);
    // Nothing left to do for it: later runs stay quiet, dry or not.
    expect(purgedBy(await run([g.companyId], { asOf: year5, dryRun: true }), 'employees.archive')).toBe(0);
    expect(purgedBy(await run([g.companyId], { asOf: year5 }), 'employees.archive')).toBe(0);
  });
});

describe('M15 a member who anchors a GRUS', () => {
  it('at year 5 loses their own part, while the group keeps its shared part', async () => {
    const h = await createCompany(t.deps);
    const anchor = await createDialogue(t.deps, h);
    const member = randomUUID();
    await sys(async (trx) => {
      await trx.updateTable('dialogues').set({ group_id: anchor.dialogueId }).where('id', '=', anchor.dialogueId).execute();
      await trx
        .insertInto('dialogues')
        .values({ id: member, company_id: h.companyId, round_id: anchor.roundId, form_version_id: anchor.formVersionId, employee_employment_id: h.colleague.employmentId, leader_employment_id: h.leader.employmentId, team_id: h.teamId, group_id: anchor.dialogueId })
        .execute();
      for (const side of ['employee', 'shared'] as const) {
        await trx
          .insertInto('dialogue_answers')
          .values({ company_id: h.companyId, dialogue_id: anchor.dialogueId, question_id: 'q1', side, value: `svar ${side}`, version: 1, updated_by: h.employee.employmentId })
          .execute();
      }
    });
    const firedAt = t.clock.now();
    const admin = await loggedIn(t.app, h.admin.email);
    expect((await admin.post(`/org/employees/${h.employee.employmentId}/fire`)).statusCode).toBe(303);
    expect(purgedBy(await run([h.companyId], { asOf: new Date(firedAt.getTime() + 15 * DAY) }), 'employees.personal-data')).toBe(1);
    const year5 = new Date(addYears(firedAt, 5).getTime() + DAY);
    const r = await run([h.companyId], { asOf: year5 });
    expect(r.lines.join('\n')).toContain('1 shared GRUS dialogue(s) kept for the group');
    const left = await sys(async (trx) => ({
      dialogues: (await trx.selectFrom('dialogues').select('id').where('id', 'in', [anchor.dialogueId, member]).execute()).length,
      answers: await trx.selectFrom('dialogue_answers').select('side').where('dialogue_id', '=', anchor.dialogueId).execute(),
      agreements: await trx.selectFrom('agreements').select('id').where('dialogue_id', '=', anchor.dialogueId).execute(),
    }));
    expect(left).toEqual({ dialogues: 2, answers: [{ side: 'shared' }], agreements: [] });
    expect(await employment(h.employee.employmentId)).toMatchObject({ display_name: null });
    expect(purgedBy(await run([h.companyId], { asOf: year5 }), 'employees.archive')).toBe(0);
  });
});

describe('M15 a person employed in two companies keeps the login identity', () => {
  it('purges the employment in one company only, keeping the identity and the other company', async () => {
    const b = await createCompany(t.deps);
    const c = await createCompany(t.deps);
    const otherEmployment = randomUUID();
    await sys(async (trx) => {
      await trx.insertInto('employments').values({ id: otherEmployment, company_id: c.companyId, user_id: b.employee.userId, team_id: c.teamId, department_id: null }).execute();
      await trx
        .insertInto('sessions')
        .values({ id: randomUUID(), token_hash: randomUUID(), user_id: b.employee.userId, staff_id: null, company_id: c.companyId, csrf_token: 'x', ip: null, user_agent: null, expires_at: new Date(t.clock.now().getTime() + 30 * DAY) })
        .execute();
    });
    await giveTotpFactor(t.deps, b.employee.userId);
    const admin = await loggedIn(t.app, b.admin.email);
    expect((await admin.post(`/org/employees/${b.employee.employmentId}/fire`)).statusCode).toBe(303);
    const r = await run([b.companyId, c.companyId], { asOf: new Date(t.clock.now().getTime() + 15 * DAY) });
    expect(purgedBy(r, 'employees.personal-data')).toBe(1);
    expect(r.lines.join('\n')).toContain('kept (other employment)');
    expect((await employment(b.employee.employmentId))?.user_id).toBeNull();
    expect(await user(b.employee.userId)).toBeDefined();
    expect((await employment(otherEmployment))?.user_id).toBe(b.employee.userId);
    const left = await sys(async (trx) => ({
      factors: await trx.selectFrom('totp_factors').select('id').where('user_id', '=', b.employee.userId).execute(),
      sessions: await trx.selectFrom('sessions').select('company_id').where('user_id', '=', b.employee.userId).execute(),
    }));
    expect(left.factors).toHaveLength(1);
    expect(left.sessions).toEqual([{ company_id: c.companyId }]);
  });
});

describe('M15 the retention job and the CLI', () => {
  it('the job runs once with two runners', async () => {
    const d = await createCompany(t.deps);
    const admin = await loggedIn(t.app, d.admin.email);
    expect((await admin.post(`/org/employees/${d.member.employmentId}/fire`)).statusCode).toBe(303);
    t.clock.advance(15 * DAY);
    const url = inject('databaseUrl');
    const otherDb = url ? await openDatabase({ databaseUrl: url, poolSize: 2 }) : undefined;
    const other: AppDeps = { ...t.deps, database: otherDb ?? t.deps.database };
    try {
      const job = retentionJob({ onlyCompanyIds: [d.companyId], name: `test.retention-${randomUUID().slice(0, 8)}` });
      const outcomes = (await Promise.all([runDueJobs(t.deps, [job]), runDueJobs(other, [job]), runDueJobs(t.deps, [job])])).flat();
      expect(outcomes).toHaveLength(1);
      expect(outcomes[0]).toMatchObject({ ok: true, result: { 'employees.personal-data': 1 } });
    } finally {
      await otherDb?.close();
    }
    const ev = await sys((trx) => trx.selectFrom('audit_events').select('id').where('company_id', '=', d.companyId).where('event_type', '=', 'retention.employee_purged').execute());
    expect(ev).toHaveLength(1);
    expect((await employment(d.member.employmentId))?.purged_at).not.toBeNull();
  });

  it('`samtale retention run` prints what it would purge and what it purged', async () => {
    const e = await createCompany(t.deps);
    const admin = await loggedIn(t.app, e.admin.email);
    expect((await admin.post(`/org/employees/${e.colleague.employmentId}/fire`)).statusCode).toBe(303);
    const purgeDay = new Date(t.clock.now().getTime() + 14 * DAY).toISOString().slice(0, 10);
    const dayBefore = new Date(t.clock.now().getTime() + 13 * DAY).toISOString().slice(0, 10);
    const ctx = { config: t.deps.config, openDeps: async () => ({ ...t.deps, database: { ...t.deps.database, close: async () => undefined } }) };
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
    const err = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
    try {
      expect(await retentionCommand.run(['--as-of', 'not-a-date'], ctx)).toBe(2);
      expect(await retentionCommand.run(['--as-of', dayBefore, '--company', e.companyId], ctx)).toBe(0);
      expect(out.join('\n')).toContain('employees.personal-data: 0 purged');
      out.length = 0;
      expect(await retentionCommand.run(['--as-of', purgeDay, '--dry-run', '--company', e.companyId], ctx)).toBe(0);
      expect(out.join('\n')).toContain(`would purge personal data of employment ${e.colleague.employmentId}`);
      expect(out.join('\n')).toContain('employees.personal-data: 1 would be purged');
      expect((await employment(e.colleague.employmentId))?.purged_at).toBeNull();
      out.length = 0;
      expect(await retentionCommand.run(['--as-of', purgeDay, '--company', e.companyId], ctx)).toBe(0);
      expect(out.join('\n')).toContain(`purged personal data of employment ${e.colleague.employmentId}`);
      expect(out.join('\n')).toContain('employees.personal-data: 1 purged');
    } finally {
      spy.mockRestore();
      err.mockRestore();
    }
    expect((await employment(e.colleague.employmentId))?.purged_at).not.toBeNull();
  });
});
