/**
 * M13, M19, P4: support sees a company's data only while the company's admin has given consent,
 * enforced by the database itself; giving and withdrawing need the admin's second factor.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, createStaff, giveTotpFactor, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction, withSupport, withTenant, type Tx } from '../src/platform/db/context.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { newestMails } from './helpers/mail.ts';
import { recordSicknessFromApi } from '../src/modules/dialogues/dialogues.service.ts';

let t: TestApp;
let staff: { id: string; email: string };

beforeAll(async () => {
  t = await createTestApp();
  staff = await createStaff(t.deps);
});
afterAll(async () => t?.close());

const HOUR = 3600_000;

/** What a support transaction asking for this company sees, straight through the app role. */
async function supportSees(f: CompanyFixture, now = t.clock.now()) {
  return withTenant(t.deps.database, { staffId: staff.id, companyId: f.companyId, now }, async (trx) => ({
    employments: (await trx.selectFrom('employments').select('id').execute()).length,
    users: (await trx.selectFrom('users').select('id').execute()).length,
    departments: (await trx.selectFrom('departments').select('id').execute()).length,
    audit: (await trx.selectFrom('audit_events').select('id').where('company_id', '=', f.companyId).execute()).length,
    raw: Number((await sql<{ n: number }>`select count(*)::int as n from employments where company_id = ${f.companyId}`.execute(trx)).rows[0]?.n),
  }));
}

async function adminWithFactor(f: CompanyFixture): Promise<{ agent: Agent; secret: string }> {
  const agent = await loggedIn(t.app, f.admin.email);
  const secret = await giveTotpFactor(t.deps, f.admin.userId);
  await agent.get('/org/settings/support');
  return { agent, secret };
}

const code = (secret: string) => totpCode(secret, t.clock.now());

describe('M13 support access only by consent', () => {
  it('without consent, a support transaction sees none of the company\'s rows, whatever it asks', async () => {
    const f = await createCompany(t.deps);
    expect(await supportSees(f)).toEqual({ employments: 0, users: 0, departments: 0, audit: 0, raw: 0 });
  });

  it('an admin gives consent with a reason, an expiry and the second factor; support then sees the company until it expires', async () => {
    const f = await createCompany(t.deps);
    const { agent, secret } = await adminWithFactor(f);
    const res = await agent.post('/org/settings/support/consent', { allow: '1', reason: 'Help with the MUS round', hours: '24', code: code(secret) });
    expect(res.headers.location).toBe('/org/settings/support?done=given');
    const seen = await supportSees(f);
    expect(seen.employments).toBeGreaterThan(0);
    expect(seen.raw).toBe(seen.employments);
    expect(seen.departments).toBeGreaterThan(0);
    // Another company stays closed.
    const other = await createCompany(t.deps);
    expect((await supportSees(other)).employments).toBe(0);
    // The staff's company list shows the consent.
    const s = await loggedIn(t.app, staff.email);
    const list = await s.get('/staff/companies');
    expect(list.body).toMatch(new RegExp(`${f.companyId}[\\s\\S]*?(adgang til|access until)`));
    // After 24 hours it is over by itself.
    expect((await supportSees(f, new Date(t.clock.now().getTime() + 24 * HOUR + 1000))).employments).toBe(0);
    const audit = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select(['event_type', 'data']).where('company_id', '=', f.companyId).where('event_type', 'like', 'support.%').execute(),
    );
    expect(audit).toEqual([{ event_type: 'support.consent_given', data: { hours: 24, allowEdit: false } }]);
  });

  it('withdrawing ends access at once, for open support sessions too', async () => {
    const f = await createCompany(t.deps);
    const { agent, secret } = await adminWithFactor(f);
    await agent.post('/org/settings/support/consent', { allow: '1', reason: 'Check the org chart', hours: '168', code: code(secret) });
    expect((await supportSees(f)).employments).toBeGreaterThan(0);
    t.clock.advance(31_000);
    await agent.get('/org/settings/support');
    const res = await agent.post('/org/settings/support/withdraw', { code: code(secret) });
    expect(res.headers.location).toBe('/org/settings/support?done=withdrawn');
    expect((await supportSees(f)).employments).toBe(0);
    expect((await agent.get('/org/settings/support')).body).toContain('Supporten har ikke adgang');
  });

  it('needs the second factor: none set up, missing or wrong codes are refused (wrong ones count towards M7)', async () => {
    const f = await createCompany(t.deps);
    const plain = await loggedIn(t.app, f.admin.email);
    const page = await plain.get('/org/settings/support');
    expect(page.body).toContain('/account/two-factor');
    expect((await plain.post('/org/settings/support/consent', { allow: '1', reason: 'x', hours: '24' })).statusCode).toBe(422);
    const { agent } = await adminWithFactor(f);
    expect((await agent.post('/org/settings/support/consent', { allow: '1', reason: 'x', hours: '24' })).statusCode).toBe(422);
    const wrong = await agent.post('/org/settings/support/consent', { allow: '1', reason: 'x', hours: '24', code: '000000' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('error-summary');
    expect((await supportSees(f)).employments).toBe(0);
    const failed = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('data').where('actor_user_id', '=', f.admin.userId).where('event_type', '=', 'auth.second_factor.failed').execute(),
    );
    expect(failed.map((r) => r.data)).toContainEqual({ step: 'support_consent' });
  });

  it('refuses a missing tick, an empty or long reason and a duration outside 1..168 hours, keeping what was typed', async () => {
    const f = await createCompany(t.deps);
    const { agent, secret } = await adminWithFactor(f);
    const noTick = await agent.post('/org/settings/support/consent', { reason: 'Keep me', hours: '24', code: code(secret) });
    expect(noTick.statusCode).toBe(422);
    expect(noTick.body).toContain('value="Keep me"');
    for (const body of [{ reason: '  ', hours: '24' }, { reason: 'x'.repeat(501), hours: '24' }, { reason: 'ok', hours: '0' }, { reason: 'ok', hours: '169' }, { reason: 'ok', hours: '2.5' }]) {
      expect((await agent.post('/org/settings/support/consent', { allow: '1', ...body, code: code(secret) })).statusCode).toBe(422);
    }
    expect((await supportSees(f)).employments).toBe(0);
  });

  it('M19: staff can never give themselves consent, even through the app role directly', async () => {
    const f = await createCompany(t.deps);
    await expect(
      withTenant(t.deps.database, { staffId: staff.id, companyId: f.companyId }, (trx) =>
        trx
          .insertInto('support_consents')
          .values({ id: crypto.randomUUID(), company_id: f.companyId, granted_by: f.admin.employmentId, reason: 'self', allow_edit: true, granted_at: t.clock.now(), expires_at: new Date(t.clock.now().getTime() + HOUR) })
          .execute(),
      ),
    ).rejects.toThrow();
    expect((await supportSees(f)).employments).toBe(0);
  });

  it('support enters a company with consent, reads it under a banner (audited, admins told once), and is out at the next click after withdrawal', async () => {
    const f = await createCompany(t.deps);
    const s = await loggedIn(t.app, staff.email);
    // Without consent: not found, and nothing is written.
    expect((await s.post(`/staff/companies/${f.companyId}/enter`)).statusCode).toBe(404);
    const { agent, secret } = await adminWithFactor(f);
    await agent.post('/org/settings/support/consent', { allow: '1', reason: 'Ticket 123', hours: '2', code: code(secret) });
    expect(await mailsTo(f.admin.email, 'support_access')).toBe(1);
    await s.get('/staff/companies');
    expect((await s.post(`/staff/companies/${f.companyId}/enter`)).headers.location).toBe('/support');
    const page = await s.get('/support');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('support-banner');
    expect(page.body).toContain(f.employee.name);
    // The admins are told of the first use only.
    await s.post(`/staff/companies/${f.companyId}/enter`);
    expect(await mailsTo(f.admin.email, 'support_access')).toBe(2);
    // The admins see what support did.
    const activity = await agent.get('/org/settings/support/activity');
    expect(activity.body).toContain('Gik ind i virksomheden');
    expect(activity.body).toContain('organisation');
    // Withdrawn: the very next request shows nothing of the company.
    t.clock.advance(31_000);
    await agent.get('/org/settings/support');
    await agent.post('/org/settings/support/withdraw', { code: code(secret) });
    expect(await mailsTo(f.admin.email, 'support_access')).toBe(3);
    const after = await s.get('/support');
    expect(after.statusCode).toBe(303);
    const list = await s.get('/staff/companies');
    expect(list.body).not.toContain(f.employee.name);
  });

  it('support\'s access ends by itself at the expiry, even inside an open session', async () => {
    const f = await createCompany(t.deps);
    const s = await loggedIn(t.app, staff.email);
    const { agent, secret } = await adminWithFactor(f);
    await agent.post('/org/settings/support/consent', { allow: '1', reason: 'Short look', hours: '1', code: code(secret) });
    await s.get('/staff/companies');
    await s.post(`/staff/companies/${f.companyId}/enter`);
    expect((await s.get('/support')).statusCode).toBe(200);
    t.clock.advance(25 * 60_000);
    await s.get('/staff/companies');
    t.clock.advance(25 * 60_000);
    await s.get('/staff/companies');
    t.clock.advance(11 * 60_000);
    const ended = await s.get('/staff/companies');
    expect(ended.body).toMatch(/consent has ended|samtykke er slut/);
    expect((await s.get('/support')).statusCode).toBe(303);
  });

  it('M14: support reads a dialogue with consent; the dialogue\'s "viewed by" shows support; after withdrawal the next click is refused', async () => {
    const f = await createCompany(t.deps);
    const dialogue = await createDialogue(t.deps, f);
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.get(`/dialogues/${dialogue.dialogueId}`)).statusCode).toBe(200);
    const { agent, secret } = await adminWithFactor(f);
    await agent.post('/org/settings/support/consent', { allow: '1', reason: 'The employee cannot see their answers', hours: '24', code: code(secret) });
    const s = await loggedIn(t.app, staff.email);
    await s.post(`/staff/companies/${f.companyId}/enter`);
    const list = await s.get('/support/dialogues');
    expect(list.body).toContain(`/support/dialogues/${dialogue.dialogueId}`);
    const read = await s.get(`/support/dialogues/${dialogue.dialogueId}`);
    expect(read.statusCode).toBe(200);
    expect(read.body).toContain(f.employee.name);
    // The employee sees support among the viewers, marked as support; repeated views are compact.
    await employee.get(`/dialogues/${dialogue.dialogueId}`);
    const mine = await employee.get(`/dialogues/${dialogue.dialogueId}`);
    const viewed = /<section class="viewed-by"[\s\S]*?<\/section>/.exec(mine.body)?.[0] ?? '';
    expect(viewed).toContain('Samtale support');
    expect(viewed).toContain(f.employee.name);
    expect(viewed).toMatch(/\(3 gange\)/);
    const rows = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('document_views').select(['viewer_role', 'viewer_staff_id']).where('object_id', '=', dialogue.dialogueId).execute(),
    );
    expect(rows.filter((r) => r.viewer_role === 'support')).toHaveLength(1);
    expect(rows.filter((r) => r.viewer_role === 'employee')).toHaveLength(3);
    // Withdrawn: support's next click shows nothing.
    t.clock.advance(31_000);
    await agent.get('/org/settings/support');
    await agent.post('/org/settings/support/withdraw', { code: code(secret) });
    const refused = await s.get(`/support/dialogues/${dialogue.dialogueId}`);
    expect(refused.statusCode).toBe(303);
    expect(refused.body).not.toContain(f.employee.name);
  });

  it('M19: the support role reads no secrets and changes nothing, even with consent', async () => {
    const f = await createCompany(t.deps);
    const { agent, secret } = await adminWithFactor(f);
    await agent.post('/org/settings/support/consent', { allow: '1', reason: 'Check', hours: '24', code: code(secret), allowEdit: '1' });
    const ctx = { staffId: staff.id, companyId: f.companyId, now: t.clock.now() };
    expect((await withSupport(t.deps.database, ctx, (trx) => trx.selectFrom('users').select(['id', 'name']).execute())).length).toBeGreaterThan(0);
    const attempts: [string, (trx: Tx) => Promise<unknown>][] = [
      ['password hashes', (trx) => trx.selectFrom('users').select('password_hash').execute()],
      ['second factors', (trx) => trx.selectFrom('totp_factors').select('secret').execute()],
      ['session tokens', (trx) => trx.selectFrom('sessions').select('token_hash').execute()],
      ['account links', (trx) => trx.selectFrom('account_tokens').select('token_hash').execute()],
      ['writes', (trx) => trx.updateTable('employments').set({ title: 'changed by support' }).where('company_id', '=', f.companyId).execute()],
      ['self-consent', (trx) => trx.updateTable('support_consents').set({ allow_edit: true }).execute()],
      ['sickness', (trx) => trx.selectFrom('sickness_reports').selectAll().execute()],
    ];
    for (const [what, attempt] of attempts) {
      await expect(withSupport(t.deps.database, ctx, attempt), what).rejects.toThrow(/permission denied/);
    }
  });

  it('M19: sickness-absence dialogues are health data: support neither lists nor opens them', async () => {
    const f = await createCompany(t.deps);
    const sick = await withTenant(t.deps.database, { companyId: f.companyId }, (trx) =>
      recordSicknessFromApi(trx, { companyId: f.companyId, employmentId: f.employee.employmentId, from: t.clock.now().toISOString().slice(0, 10), to: null, apiTokenId: crypto.randomUUID(), who: { companyId: f.companyId }, now: t.clock.now() }),
    );
    expect(sick.dialogueId).toBeTruthy();
    const { agent, secret } = await adminWithFactor(f);
    await agent.post('/org/settings/support/consent', { allow: '1', reason: 'Check', hours: '24', code: code(secret) });
    const s = await loggedIn(t.app, staff.email);
    await s.post(`/staff/companies/${f.companyId}/enter`);
    expect((await s.get('/support/dialogues')).body).not.toContain(sick.dialogueId ?? 'none');
    expect((await s.get(`/support/dialogues/${sick.dialogueId}`)).statusCode).toBe(404);
  });
});

async function mailsTo(address: string, template: string): Promise<number> {
  return (await newestMails(t.deps, address, 50)).filter((m) => m.template === template).length;
}
