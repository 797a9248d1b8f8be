/**
 * Signing a dialogue with the second factor: a current TOTP code instead of the password, for
 * people with a confirmed authenticator app. Wrong codes count towards the same M7 block as wrong
 * passwords at the login; a code is good once (replay refused).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, giveTotpFactor, PASSWORD } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction } from '../src/platform/db/context.ts';
import { totpCode } from '../src/platform/auth/totp.ts';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

const sys = <T,>(fn: Parameters<typeof unsafeSystemTransaction<T>>[1]) => unsafeSystemTransaction(t.deps.database, fn);
const signatures = (dialogueId: string) => sys((trx) => trx.selectFrom('dialogue_signatures').select(['side', 'employment_id']).where('dialogue_id', '=', dialogueId).execute());

async function signingDialogue() {
  const f = await createCompany(t.deps);
  const { dialogueId } = await createDialogue(t.deps, f);
  await sys((trx) => trx.updateTable('dialogues').set({ state: 'signing' }).where('id', '=', dialogueId).execute());
  return { f, dialogueId };
}

describe('M7 signing with the second factor (TOTP)', () => {
  it('signs with a current code from the authenticator app instead of the password', async () => {
    const { f, dialogueId } = await signingDialogue();
    const employee = await loggedIn(t.app, f.employee.email);
    const secret = await giveTotpFactor(t.deps, f.employee.userId);
    const page = await employee.get(`/dialogues/${dialogueId}`);
    expect(page.body).toContain('Eller en kode fra din godkendelsesapp');
    expect(page.body).toContain('autocomplete="one-time-code"');
    const code = totpCode(secret, t.clock.now());
    const res = await employee.post(`/dialogues/${dialogueId}/sign`, { password: '', code });
    expect(res.statusCode).toBe(303);
    expect(await signatures(dialogueId)).toEqual([{ side: 'employee', employment_id: f.employee.employmentId }]);
    const events = await sys((trx) => trx.selectFrom('audit_events').select(['event_type', 'data']).where('company_id', '=', f.companyId).where('event_type', '=', 'dialogues.signed').execute());
    expect(events[0]?.data).toMatchObject({ side: 'employee', factor: 'totp' });

    // The same code is good once: a second dialogue cannot be signed with it (replay).
    const second = await createDialogue(t.deps, f);
    await sys((trx) => trx.updateTable('dialogues').set({ state: 'signing' }).where('id', '=', second.dialogueId).execute());
    const replay = await employee.post(`/dialogues/${second.dialogueId}/sign`, { password: '', code });
    expect(replay.statusCode).toBe(422);
    expect(replay.body).toContain('Koden er forkert eller udløbet');
    expect(await signatures(second.dialogueId)).toEqual([]);
  });

  it('counts wrong codes towards the login block: after 3, even a right code is refused', async () => {
    const { f, dialogueId } = await signingDialogue();
    const employee = await loggedIn(t.app, f.employee.email);
    const secret = await giveTotpFactor(t.deps, f.employee.userId);
    const right = totpCode(secret, t.clock.now());
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 3; i++) {
      const r = await employee.post(`/dialogues/${dialogueId}/sign`, { code: wrong });
      expect(r.statusCode).toBe(422);
      expect(r.body).toContain('Koden er forkert eller udløbet. Du har ikke skrevet under.');
    }
    const blocked = await employee.post(`/dialogues/${dialogueId}/sign`, { code: right });
    expect(blocked.statusCode).toBe(422);
    expect(await signatures(dialogueId)).toEqual([]);
    // The password is blocked just the same.
    expect((await employee.post(`/dialogues/${dialogueId}/sign`, { password: PASSWORD })).statusCode).toBe(422);
    const events = await sys((trx) => trx.selectFrom('audit_events').select(['event_type', 'data']).where('company_id', '=', f.companyId).execute());
    const refused = events.filter((e) => e.event_type === 'dialogues.sign.refused');
    expect(refused.length).toBe(5);
    expect(refused.filter((e) => (e.data as { reason?: string }).reason === 'totp')).toHaveLength(4);
    expect(events.some((e) => e.event_type === 'auth.lockout')).toBe(true);
  });

  it('asks for the password or a code, and explains when there is no authenticator app', async () => {
    const { f, dialogueId } = await signingDialogue();
    const employee = await loggedIn(t.app, f.employee.email);
    // No factor: the page asks only for the password, a code is refused with a clear message.
    expect((await employee.get(`/dialogues/${dialogueId}`)).body).not.toContain('one-time-code');
    const noFactor = await employee.post(`/dialogues/${dialogueId}/sign`, { code: '123456' });
    expect(noFactor.statusCode).toBe(422);
    expect(noFactor.body).toContain('Du har ingen godkendelsesapp sat op');
    const empty = await employee.post(`/dialogues/${dialogueId}/sign`, { password: '' });
    expect(empty.statusCode).toBe(422);
    expect(empty.body).toContain('Skriv din adgangskode eller en kode fra din godkendelsesapp.');
    // English and Swedish speak the same rule.
    await employee.post('/settings/language', { language: 'en' });
    expect((await employee.post(`/dialogues/${dialogueId}/sign`, { code: '123456' })).body).toContain('You have no authenticator app set up');
    await employee.post('/settings/language', { language: 'sv' });
    expect((await employee.post(`/dialogues/${dialogueId}/sign`, { code: '123456' })).body).toContain('Du har ingen autentiseringsapp');
    expect(await signatures(dialogueId)).toEqual([]);
    // The password still works.
    expect((await employee.post(`/dialogues/${dialogueId}/sign`, { password: PASSWORD })).statusCode).toBe(303);
  });

  it('the leader of a GRUS signs the whole group with one code', async () => {
    const f = await createCompany(t.deps);
    const leader = await loggedIn(t.app, f.leader.email);
    const res = await leader.post('/rounds', { name: 'GRUS 2027', form: 'builtin:grus-da', target: `team:${f.teamId}`, preparation_deadline: '2027-03-20', meeting_from: '2027-03-21', meeting_to: '2027-04-30' });
    const roundId = /\/rounds\/([0-9a-f-]{36})/.exec(String(res.headers.location))?.[1] ?? '';
    const rows = await sys((trx) => trx.selectFrom('dialogues').select(['id', 'group_id']).where('round_id', '=', roundId).execute());
    await sys((trx) => trx.updateTable('dialogues').set({ state: 'signing' }).where('round_id', '=', roundId).execute());
    const secret = await giveTotpFactor(t.deps, f.leader.userId);
    const anchor = rows[0]?.group_id ?? '';
    expect((await leader.post(`/dialogues/${anchor}/sign`, { code: totpCode(secret, t.clock.now()) })).statusCode).toBe(303);
    for (const r of rows) expect(await signatures(r.id)).toEqual([{ side: 'leader', employment_id: f.leader.employmentId }]);
  });
});
