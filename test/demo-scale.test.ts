/**
 * The benchmark data set (`samtale demo --scale`, bench/README.md) at a tiny scale: the counts
 * add up, the generated people can log in and work through the real app, the audit chains hold,
 * and the generator refuses a database with real data and production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIsolatedTestApp, createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { unsafeVerifyAuditChains } from '../src/platform/audit/verify.ts';
import { unsafeSendDueReminders } from '../src/modules/reminders/reminders.service.ts';
import { ScaleRefused, scaleEmail, unsafeFindScaleMark, unsafeGenerateScale, type ScaleOptions } from '../src/modules/demo/demo.ts';

const TINY: ScaleOptions = { companies: 3, employees: 32, years: 3, bigCompany: 20 };

let t: TestApp;
let password = '';

beforeAll(async () => {
  // A database of its own: the generator needs an empty one, also when the run shares PostgreSQL.
  t = await createIsolatedTestApp();
  const r = await unsafeGenerateScale(t.deps, TINY);
  expect(r.status).toBe('generated');
  password = r.password ?? '';
}, 120_000);
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);

describe('demo --scale', () => {
  it('generates the requested companies, people and years of dialogues', async () => {
    const counts = (await unsafeGenerateScale(t.deps, TINY)).counts;
    // Teams of ten: the big company (20) has 2 teams, the other two (6 each) one each.
    const leaders = 2 + 1 + 1;
    expect(counts.companies).toBe(3);
    expect(counts.employments).toBe(32 + leaders + 3);
    expect(counts.users).toBe(32 + leaders + 3);
    expect(counts.dialogue_rounds).toBe(3 * 3);
    expect(counts.dialogues).toBe(32 * 3);
    // The two closed years: both sides signed, two agreements a dialogue.
    expect(counts.dialogue_signatures).toBe(32 * 2 * 2);
    expect(counts.agreements).toBe(32 * 2 * 2);
    const states = await sys((trx) => trx.selectFrom('dialogues').select(['state']).select((eb) => eb.fn.countAll<number>().as('n')).groupBy('state').execute());
    const byState = Object.fromEntries(states.map((s) => [s.state, Number(s.n)]));
    expect(byState.closed).toBe(64);
    expect((byState.invited ?? 0) + (byState.preparing ?? 0) + (byState.meeting ?? 0)).toBe(32);
    // Scale answers in 1..5 for the statistics.
    const scale = await sys((trx) => trx.selectFrom('dialogue_answers').select('value').where('question_id', '=', 'wellbeing').execute());
    expect(scale.length).toBeGreaterThan(64);
    for (const a of scale) expect(a.value).toMatch(/^[1-5]$/);
  });

  it('is marked as a bench database and a second run with the same scale does nothing', async () => {
    expect((await unsafeFindScaleMark(t.deps))?.complete).toBe(true);
    const again = await unsafeGenerateScale(t.deps, TINY);
    expect(again.status).toBe('already-loaded');
    expect(again.password).toBeUndefined();
    await expect(unsafeGenerateScale(t.deps, { ...TINY, companies: 4 })).rejects.toBeInstanceOf(ScaleRefused);
  });

  it('has sent the running round\'s invitations already: the first reminders run has nothing to send', async () => {
    const companies = await sys((trx) => trx.selectFrom('companies').select('id').execute());
    let sent = 0;
    for (const c of companies) sent += await unsafeSendDueReminders(t.deps, c.id);
    expect(sent).toBe(0);
  });

  it('keeps every audit chain intact (rows went through the chain trigger)', async () => {
    const reports = await unsafeVerifyAuditChains(t.deps.database);
    expect(reports.length).toBeGreaterThanOrEqual(3);
    for (const r of reports) expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('lets a generated leader log in, open a dialogue, autosave an answer and see round statistics', async () => {
    const leader = await loggedIn(t.app, scaleEmail.leader(0, 0), password);
    const mine = await sys((trx) =>
      trx
        .selectFrom('dialogues as d')
        .innerJoin('employments as e', 'e.id', 'd.leader_employment_id')
        .innerJoin('users as u', 'u.id', 'e.user_id')
        .innerJoin('employments as ee', 'ee.id', 'd.employee_employment_id')
        .innerJoin('users as eu', 'eu.id', 'ee.user_id')
        .select(['d.id', 'd.state', 'd.round_id', 'eu.name as employee'])
        .where('u.email', '=', scaleEmail.leader(0, 0))
        .execute(),
    );
    expect(mine.length).toBe(30);
    const preparing = mine.find((d) => d.state === 'preparing');
    const closed = mine.find((d) => d.state === 'closed');
    if (!preparing || !closed) throw new Error('missing generated states');
    const page = await leader.get(`/dialogues/${preparing.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(preparing.employee.split(' ')[0]);
    // The leader's own answer to a shared-preparation question exists at version 1: autosave to 2.
    const save = await leader.post(`/dialogues/${preparing.id}/answers`, { q_proud: 'Nyt svar', v_proud: '1' }, { headers: { 'hx-request': 'true' } });
    expect(save.statusCode).toBe(200);
    const stored = await sys((trx) => trx.selectFrom('dialogue_answers').select(['value', 'version']).where('dialogue_id', '=', preparing.id).where('question_id', '=', 'proud').where('side', '=', 'leader').executeTakeFirstOrThrow());
    // Stored sealed with the company's key (issue 6) where encryption is on; read back in clear.
    expect(stored.version).toBe(2);
    expect(stored.value === 'Nyt svar' || stored.value.startsWith('sx1:')).toBe(true);
    expect((await leader.get(`/dialogues/${preparing.id}`)).body).toContain('Nyt svar');
    // Generated text (written in clear, as before encryption) opens too.
    const closedPage = await leader.get(`/dialogues/${closed.id}`);
    expect(closedPage.statusCode).toBe(200);
    expect(closedPage.body).toMatch(/Mødelokale|samarbejde|travl|fordybelse|Overleveringen|Kunderne|projektledelse|arbejdsmængden|præsentationsteknik/);

    const hr = await loggedIn(t.app, scaleEmail.admin(0), password);
    expect((await hr.get('/dashboard')).statusCode).toBe(200);
    expect((await hr.get(`/rounds/${closed.round_id ?? ''}/statistics`)).statusCode).toBe(200);
    // An employee of another company logs in with the same password and sees only their own.
    const employee = await loggedIn(t.app, scaleEmail.employee(1, 0), password);
    expect((await employee.get(`/dialogues/${preparing.id}`)).statusCode).toBe(404);
  });
});

describe('demo --scale refuses', () => {
  let other: TestApp;
  beforeAll(async () => {
    other = await createTestApp();
  });
  afterAll(async () => other?.close());

  it('a database with companies that is not a bench database', async () => {
    await createCompany(other.deps);
    await expect(unsafeGenerateScale(other.deps, TINY)).rejects.toThrow(/not empty and not a bench database/);
  });

  it('production', async () => {
    const prod = { ...other.deps, config: { ...other.deps.config, env: 'production' as const } };
    await expect(unsafeGenerateScale(prod, TINY)).rejects.toThrow(/production/);
  });

  it('a scale that does not add up', async () => {
    await expect(unsafeGenerateScale(other.deps, { ...TINY, employees: 20 })).rejects.toBeInstanceOf(ScaleRefused);
  });
});
