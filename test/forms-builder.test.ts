/**
 * The form builder (issue 4) through the real app and database: who may build forms (M8), editing
 * without JavaScript (every step a form post), validation in the user's language without losing
 * what was typed, the size limit, copying a template, versioning (a running dialogue keeps its
 * version) and that a built form can start a round.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn, type Agent } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

/** The fields of a small valid form: one section, a scale question and a text question. */
function smallForm(extra: Record<string, string> = {}): Record<string, string> {
  return {
    name: 'Vores MUS',
    kind: 'mus',
    language: 'da',
    s0_id: 'intro',
    s0_title: 'Trivsel',
    s0_q0_id: 'mood',
    s0_q0_type: 'scale',
    s0_q0_text: 'Jeg trives.',
    s0_q0_by: 'employee',
    s0_q0_l1: 'Slet ikke',
    s0_q0_l2: 'Lidt',
    s0_q0_l3: 'Til dels',
    s0_q0_l4: 'Meget',
    s0_q0_l5: 'Helt',
    s0_q1_id: 'wish',
    s0_q1_type: 'text',
    s0_q1_text: 'Hvad ønsker du dig?',
    s0_q1_by: 'both',
    s0_q1_help: 'Skriv frit.',
    ...extra,
  };
}

async function formsOf(companyId: string) {
  return sys((trx) => trx.selectFrom('forms').selectAll().where('company_id', '=', companyId).where('builtin_key', 'is', null).execute());
}
async function versionsOf(formId: string) {
  return sys((trx) => trx.selectFrom('form_versions').select(['id', 'version', 'definition']).where('form_id', '=', formId).orderBy('version').execute());
}

async function createOwnForm(admin: Agent, extra: Record<string, string> = {}) {
  const res = await admin.post('/forms/edit', { ...smallForm(extra), op: 'save' });
  expect(res.statusCode, res.body.slice(0, 500)).toBe(303);
  const m = /id=([0-9a-f-]{36})/.exec(String(res.headers.location));
  if (!m?.[1]) throw new Error('no form id');
  return m[1];
}

describe('M8 form builder access', () => {
  it('is for company admins and configuration delegates; everyone else gets 404', async () => {
    const f = await createCompany(t.deps);
    for (const who of [f.employee, f.leader, f.delegate]) {
      const a = await loggedIn(t.app, who.email);
      expect((await a.get('/forms')).statusCode, who.email).toBe(404);
      expect((await a.get('/forms/edit')).statusCode).toBe(404);
      expect((await a.post('/forms/edit', { ...smallForm(), op: 'save' })).statusCode).toBe(404);
      expect((await a.post('/forms/copy', { key: 'mus-da' })).statusCode).toBe(404);
    }
    expect(await formsOf(f.companyId)).toHaveLength(0);
    // A configuration delegation (on any department) opens the builder.
    await sys((trx) => trx.insertInto('delegations').values({ id: randomUUID(), company_id: f.companyId, employment_id: f.colleague.employmentId, responsibility: 'configuration', team_id: null, department_id: f.subDepartmentId }).execute());
    const conf = await loggedIn(t.app, f.colleague.email);
    expect((await conf.get('/forms')).statusCode).toBe(200);
    await createOwnForm(conf);
    expect(await formsOf(f.companyId)).toHaveLength(1);
  });

  it('never shows or edits another company\'s form', async () => {
    const a = await createCompany(t.deps);
    const b = await createCompany(t.deps);
    const adminA = await loggedIn(t.app, a.admin.email);
    const formId = await createOwnForm(adminA, { name: 'Hemmeligt skema' });
    const adminB = await loggedIn(t.app, b.admin.email);
    expect((await adminB.get(`/forms/edit?id=${formId}`)).statusCode).toBe(404);
    expect((await adminB.get('/forms')).body).not.toContain('Hemmeligt skema');
    const res = await adminB.post('/forms/edit', { ...smallForm({ name: 'Overtaget' }), formId, baseVersion: '1', op: 'save' });
    expect(res.statusCode).toBe(404);
    expect((await versionsOf(formId)).length).toBe(1);
  });
});

describe('form builder', () => {
  let f: CompanyFixture;
  let admin: Agent;
  beforeAll(async () => {
    f = await createCompany(t.deps);
    admin = await loggedIn(t.app, f.admin.email);
  });

  it('lists own forms and built-in templates, and copies a template into an editable form', async () => {
    const list = await admin.get('/forms');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('Indbyggede skabeloner');
    expect(list.body).toContain('Utvecklingssamtal');
    const res = await admin.post('/forms/copy', { key: 'mus-en' });
    expect(res.statusCode).toBe(303);
    const page = await admin.get(String(res.headers.location));
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Kopi af Employee development dialogue');
    expect(page.body).toContain('I thrive in my work.');
    expect((await admin.post('/forms/copy', { key: 'nope' })).statusCode).toBe(422);
  });

  it('adds, moves and removes questions with plain form posts, keeping everything typed', async () => {
    const added = await admin.post('/forms/edit', { ...smallForm(), op: 'add-question:0' });
    expect(added.statusCode).toBe(200);
    expect(added.body).toContain('name="s0_q2_text"');
    expect(added.body).toContain('Hvad ønsker du dig?');
    expect(added.body).toContain('Skriv frit.');
    const moved = await admin.post('/forms/edit', { ...smallForm(), op: 'up-question:0:1' });
    expect(moved.body.indexOf('Hvad ønsker du dig?')).toBeLessThan(moved.body.indexOf('Jeg trives.'));
    const removed = await admin.post('/forms/edit', { ...smallForm(), op: 'remove-question:0:0' });
    expect(removed.body).not.toContain('Jeg trives.');
    expect(removed.body).toContain('Hvad ønsker du dig?');
    const section = await admin.post('/forms/edit', { ...smallForm(), op: 'add-section' });
    expect(section.body).toContain('name="s1_title"');
    const two = { ...smallForm(), s1_id: 'later', s1_title: 'Fremad', s1_q0_id: 'next', s1_q0_type: 'text', s1_q0_text: 'Hvad nu?', s1_q0_by: 'both' };
    const swapped = await admin.post('/forms/edit', { ...two, op: 'down-section:0' });
    expect(swapped.body.indexOf('value="Fremad"')).toBeLessThan(swapped.body.indexOf('value="Trivsel"'));
    const dropped = await admin.post('/forms/edit', { ...two, op: 'remove-section:1' });
    expect(dropped.body).not.toContain('Hvad nu?');
    expect(dropped.body).toContain('Jeg trives.');
    // A new scale question gets the form language's default labels.
    const scale = await admin.post('/forms/edit', { ...smallForm({ s0_q1_type: 'scale' }), op: 'refresh' });
    expect(scale.body).toContain('name="s0_q1_l5"');
    expect(scale.body).toContain('I meget høj grad');
  });

  it('shows every error in the user\'s language and keeps what was typed (Danish and English)', async () => {
    const bad = smallForm({ name: '', s0_q0_l3: '', s0_q1_text: '', s0_q2_id: 'c', s0_q2_type: 'single', s0_q2_text: 'Vælg <script>alert(1)</script>', s0_q2_by: 'employee', s0_q2_options: 'kun én', s0_q3_type: 'agreements', s0_q3_text: 'Aftaler', s0_q3_by: 'employee' });
    const res = await admin.post('/forms/edit', { ...bad, op: 'save' });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('class="error-summary"');
    expect(res.body).toContain('Skriv en tekst for hvert af skalaens fem trin');
    expect(res.body).toContain('Skriv mellem 2 og 20 svarmuligheder');
    expect(res.body).toContain('En aftaleliste udfyldes sammen under mødet.');
    expect(res.body).toContain('Skal udfyldes.');
    expect(res.body).toContain('href="#s0_q1_text"');
    expect(res.body).toContain('Vælg &lt;script');
    expect(res.body).not.toContain('<script>alert(1)');
    expect(res.body).toContain('Skriv frit.');
    expect(await formsOf(f.companyId).then((x) => x.filter((r) => r.name === ''))).toHaveLength(0);

    await admin.post('/settings/language', { language: 'en', returnTo: '/forms' });
    const en = await admin.post('/forms/edit', { ...bad, op: 'save' });
    expect(en.statusCode).toBe(422);
    expect(en.body).toContain('Write between 2 and 20 choices, one a line.');
    expect(en.body).toContain('An agreement list is filled in together during the meeting.');
    await admin.post('/settings/language', { language: 'da', returnTo: '/forms' });
  });

  it('refuses more than 60 questions with a clear message', async () => {
    const big: Record<string, string> = { name: 'Stort', kind: 'mus', language: 'da', s0_title: 'A', s1_title: 'B' };
    for (let i = 0; i < 40; i++) Object.assign(big, { [`s0_q${i}_type`]: 'text', [`s0_q${i}_text`]: `Spørgsmål ${i}`, [`s0_q${i}_by`]: 'employee' });
    for (let i = 0; i < 21; i++) Object.assign(big, { [`s1_q${i}_type`]: 'text', [`s1_q${i}_text`]: `Andet ${i}`, [`s1_q${i}_by`]: 'employee' });
    const res = await admin.post('/forms/edit', { ...big, op: 'save' });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('Et skema kan højst have 60 spørgsmål.');
    const more = await admin.post('/forms/edit', { ...big, s1_q20_text: '', op: 'add-question:1' });
    expect(more.statusCode).toBe(422);
    expect(more.body).toContain('Et skema kan højst have 60 spørgsmål.');
  });

  it('saves a new form as version 1, audited, and offers it when starting a round', async () => {
    const formId = await createOwnForm(admin, { name: 'Runde-skema' });
    const versions = await versionsOf(formId);
    expect(versions.map((v) => v.version)).toEqual([1]);
    const def = versions[0]?.definition as { sections: { questions: { id: string; scaleLabels?: string[] }[] }[] };
    expect(def.sections[0]?.questions.map((q) => q.id)).toEqual(['mood', 'wish']);
    const events = await sys((trx) => trx.selectFrom('audit_events').select('event_type').where('company_id', '=', f.companyId).where('object_id', 'in', [formId, versions[0]?.id ?? '']).execute());
    expect(events.map((e) => e.event_type).sort()).toEqual(['forms.created', 'forms.version.created']);
    const newRound = await admin.get('/rounds/new');
    expect(newRound.body).toContain(`value="${formId}"`);
  });

  it('makes a new version when a used form is edited; the running dialogue keeps its version', async () => {
    const formId = await createOwnForm(admin, { name: 'Versioneret' });
    const start = await admin.post('/rounds', { name: 'MUS med eget skema', form: formId, target: `team:${f.teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
    expect(start.statusCode, start.body.slice(0, 300)).toBe(303);
    const [v1] = await versionsOf(formId);
    const dialogue = await sys((trx) => trx.selectFrom('dialogues').select(['id', 'form_version_id']).where('company_id', '=', f.companyId).where('employee_employment_id', '=', f.employee.employmentId).where('form_version_id', '=', v1?.id ?? '').executeTakeFirstOrThrow());

    const editor = await admin.get(`/forms/edit?id=${formId}`);
    expect(editor.statusCode).toBe(200);
    expect(editor.body).toContain('Når du gemmer, bliver det version 2');
    const saved = await admin.post('/forms/edit', { ...smallForm({ name: 'Versioneret', s0_q0_text: 'Jeg trives rigtig godt.' }), formId, baseVersion: '1', op: 'save' });
    expect(saved.statusCode).toBe(303);
    expect(String(saved.headers.location)).toContain('version=2');
    expect((await versionsOf(formId)).map((v) => v.version)).toEqual([1, 2]);

    const after = await sys((trx) => trx.selectFrom('dialogues').select('form_version_id').where('id', '=', dialogue.id).executeTakeFirstOrThrow());
    expect(after.form_version_id).toBe(v1?.id);
    const employee = await loggedIn(t.app, f.employee.email);
    const page = await employee.get(`/dialogues/${dialogue.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Jeg trives.');
    expect(page.body).not.toContain('Jeg trives rigtig godt.');

    // Saving the same questions again stores no new version.
    const same = await admin.post('/forms/edit', { ...smallForm({ name: 'Versioneret', s0_q0_text: 'Jeg trives rigtig godt.' }), formId, baseVersion: '2', op: 'save' });
    expect(String(same.headers.location)).toContain('done=unchanged');
    expect((await versionsOf(formId)).length).toBe(2);
  });

  it('refuses a save based on an older version, keeping the typed draft', async () => {
    const formId = await createOwnForm(admin, { name: 'Samtidig' });
    await admin.post('/forms/edit', { ...smallForm({ name: 'Samtidig', s0_q1_text: 'Første ændring' }), formId, baseVersion: '1', op: 'save' });
    const res = await admin.post('/forms/edit', { ...smallForm({ name: 'Samtidig', s0_q1_text: 'Anden ændring' }), formId, baseVersion: '1', op: 'save' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('Anden ændring');
    expect(res.body).toContain('name="baseVersion" value="2"');
    expect((await versionsOf(formId)).length).toBe(2);
  });

  it('keeps a choice option id while its label stays the same across versions', async () => {
    const choice = { s0_q1_type: 'single', s0_q1_options: 'Ja tak\nNej tak' };
    const formId = await createOwnForm(admin, { name: 'Valg', ...choice });
    const [v1] = await versionsOf(formId);
    await admin.post('/forms/edit', { ...smallForm({ name: 'Valg', ...choice, s0_q1_options: 'Nej tak\nMåske\nJa tak' }), formId, baseVersion: '1', op: 'save' });
    const [, v2] = await versionsOf(formId);
    type Def = { sections: { questions: { id: string; options?: { id: string; label: string }[] }[] }[] };
    const opts = (v: unknown) => (v as Def).sections[0]?.questions[1]?.options ?? [];
    const idOf = (v: unknown, label: string) => opts(v).find((o) => o.label === label)?.id;
    expect(idOf(v2?.definition, 'Ja tak')).toBe(idOf(v1?.definition, 'Ja tak'));
    expect(idOf(v2?.definition, 'Nej tak')).toBe(idOf(v1?.definition, 'Nej tak'));
    expect(opts(v2?.definition)).toHaveLength(3);
  });
});
