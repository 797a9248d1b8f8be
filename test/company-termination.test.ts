/**
 * M16 companies that leave: termination with the second factor, 14 days to cancel, e-mails at the
 * start and two days before (once), then every row and file purged, the key destroyed, a tombstone
 * kept in the key store, and a company brought back by an old backup purged again at start-up.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createDialogue, giveTotpFactor, type CompanyFixture } from './helpers/factories.ts';
import { loggedIn } from './helpers/agent.ts';
import { createAvailableFile, pdf } from './helpers/files.ts';
import { newestMails } from './helpers/mail.ts';
import { totpCode } from '../src/platform/auth/totp.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { openText, sealText, KeyDestroyedError } from '../src/platform/crypto/envelope.ts';
import { keyringFor } from '../src/platform/crypto/keyring.ts';
import { contentStore } from '../src/platform/storage/store.ts';
import { companyPurgeStep, reapplyTombstones, terminationNoticeStep, unsafeStartTerminationByOperator } from '../src/modules/termination/termination.service.ts';
import { runRetention } from '../src/modules/retention/runner.ts';
import { companyCancelTerminationCommand, companyTerminateCommand } from '../src/cli/company-termination.ts';
import type { CliContext } from '../src/cli/registry.ts';
import type { AppDeps } from '../src/platform/deps.ts';
import type { RetentionOptions } from '../src/modules/retention/steps.ts';

const DAY = 86_400_000;
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

function cli(): CliContext {
  const deps: AppDeps = { ...t.deps, database: { ...t.deps.database, close: async () => undefined } };
  return { config: t.deps.config, openDeps: async () => deps };
}

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; out: string[] }> {
  const out: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (s: string) => void out.push(s);
  console.error = (s: string) => void out.push(s);
  try {
    return { value: await fn(), out };
  } finally {
    console.log = log;
    console.error = err;
  }
}

const opts = (f: CompanyFixture, asOf: Date, dryRun = false): RetentionOptions => ({ asOf, dryRun, log: () => undefined, onlyCompanyIds: [f.companyId] });

async function status(companyId: string) {
  return unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('companies').select('status').where('id', '=', companyId).executeTakeFirst());
}

async function terminationMails(email: string) {
  return (await newestMails(t.deps, email, 50)).filter((m) => m.template === 'company_termination');
}

/** Every row anywhere that belongs to the company (each table with a company_id column). */
async function rowsOf(companyId: string): Promise<Record<string, number>> {
  return unsafeSystemTransaction(t.deps.database, async (trx) => {
    const tables = await sql<{ table_name: string }>`select table_name from information_schema.columns
      where table_schema = 'public' and column_name = 'company_id' order by table_name`.execute(trx);
    const out: Record<string, number> = {};
    for (const { table_name } of tables.rows) {
      const r = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table_name)} where company_id = ${companyId}`.execute(trx);
      if ((r.rows[0]?.n ?? 0) > 0) out[table_name] = r.rows[0]?.n ?? 0;
    }
    const c = await trx.selectFrom('companies').select('id').where('id', '=', companyId).execute();
    if (c.length) out.companies = c.length;
    return out;
  });
}

describe('M16 company termination by an admin needs the second factor', () => {
  let f: CompanyFixture;
  let secret: string;

  beforeAll(async () => {
    f = await createCompany(t.deps);
    secret = await giveTotpFactor(t.deps, f.admin.userId);
  });

  it('only company admins reach the page; others get 404', async () => {
    const employee = await loggedIn(t.app, f.employee.email);
    expect((await employee.get('/org/settings/termination')).statusCode).toBe(404);
    expect((await employee.post('/org/settings/termination/start', { confirm: '1' })).statusCode).toBe(404);
    expect((await employee.post('/org/settings/termination/cancel')).statusCode).toBe(404);
    const admin = await loggedIn(t.app, f.admin.email);
    const page = await admin.get('/org/settings/termination');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('name="code"');
    expect(page.body).toContain('<label');
  });

  it('refuses without the tick, without a code and with a wrong code; starts with the right code and mails every admin once', async () => {
    const admin = await loggedIn(t.app, f.admin.email);
    await admin.get('/org/settings/termination');
    const noTick = await admin.post('/org/settings/termination/start', { code: totpCode(secret, t.clock.now()) });
    expect(noTick.statusCode).toBe(422);
    expect(noTick.body).toContain('Sæt kryds');
    const noCode = await admin.post('/org/settings/termination/start', { confirm: '1' });
    expect(noCode.statusCode).toBe(422);
    const wrong = await admin.post('/org/settings/termination/start', { confirm: '1', code: '000000' === totpCode(secret, t.clock.now()) ? '111111' : '000000' });
    expect(wrong.statusCode).toBe(422);
    expect((await status(f.companyId))?.status).toBe('active');
    const failed = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select('id').where('company_id', '=', f.companyId).where('event_type', '=', 'auth.second_factor.failed').execute(),
    );
    expect(failed.length).toBeGreaterThanOrEqual(1);

    t.clock.advance(31_000);
    const ok = await admin.post('/org/settings/termination/start', { confirm: '1', reason: 'Vi skifter system', code: totpCode(secret, t.clock.now()) });
    expect(ok.statusCode).toBe(303);
    expect((await status(f.companyId))?.status).toBe('terminating');
    const page = await admin.get('/org/settings/termination?done=started');
    expect(page.body).toContain('Kontoen er opsagt');
    expect(page.body).toContain('Fortryd opsigelsen');

    const mails = await terminationMails(f.admin.email);
    expect(mails).toHaveLength(1);
    expect(mails[0]?.subject).toBe('Samtale: jeres konto er opsagt');
    expect(mails[0]?.text).toContain(f.name);
    expect(mails[0]?.link).toMatch(/\/org\/settings\/termination$/);
    expect(await terminationMails(f.employee.email)).toHaveLength(0);

    // A second start is a conflict, not a second termination.
    t.clock.advance(31_000);
    const again = await admin.post('/org/settings/termination/start', { confirm: '1', code: totpCode(secret, t.clock.now()) });
    expect(again.statusCode).toBe(409);
    const audit = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select(['actor_user_id', 'data']).where('company_id', '=', f.companyId).where('event_type', '=', 'company.termination_requested').execute(),
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]?.actor_user_id).toBe(f.admin.userId);
  });

  it('can be cancelled on day 13; nothing is purged on day 15 then', async () => {
    const started = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('company_terminations').select(['requested_at', 'purge_after']).where('company_id', '=', f.companyId).executeTakeFirstOrThrow(),
    );
    expect(new Date(started.purge_after).getTime() - new Date(started.requested_at).getTime()).toBe(14 * DAY);
    t.clock.advance(13 * DAY);
    const admin = await loggedIn(t.app, f.admin.email);
    await admin.get('/org/settings/termination');
    const res = await admin.post('/org/settings/termination/cancel');
    expect(res.statusCode).toBe(303);
    expect((await admin.get(res.headers.location as string)).body).toContain('Opsigelsen er fortrudt');
    expect((await status(f.companyId))?.status).toBe('active');
    expect((await terminationMails(f.admin.email)).map((m) => m.subject)).toContain('Samtale: opsigelsen er fortrudt');
    const day15 = new Date(t.clock.now().getTime() + 2 * DAY);
    expect((await companyPurgeStep.run(t.deps, opts(f, day15))).purged).toBe(0);
    expect((await terminationNoticeStep.run(t.deps, opts(f, day15))).purged).toBe(0);
    expect((await status(f.companyId))?.status).toBe('active');
  });
});

describe('M16 a terminated company is purged on day 15: rows, files, key; a tombstone remains', () => {
  let f: CompanyFixture;
  let other: CompanyFixture;
  let sealedNote: string;
  const noteRow = randomUUID();
  let start: Date;

  beforeAll(async () => {
    f = await createCompany(t.deps);
    other = await createCompany(t.deps);
    await createDialogue(t.deps, f);
    await createAvailableFile(t.deps, f, pdf('plain chunk from before'));
    // A file written through the store: sealed with the company's key.
    const fileId = randomUUID();
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx
        .insertInto('files')
        .values({ id: fileId, company_id: f.companyId, purpose: 'inbox', uploaded_by: f.employee.employmentId, name: 'x.pdf', kind: 'pdf', content_type: 'application/pdf', size_bytes: 0, state: 'available' })
        .execute(),
    );
    const w = contentStore.writer({ companyId: f.companyId, run: (fn) => withTenant(t.deps.database, { companyId: f.companyId }, fn) }, fileId);
    await w.write(pdf('sealed chunk'));
    await w.finish();
    sealedNote = await sealText(f.companyId, 'dialogue_notes', noteRow, 'a private note');
    // Logins leave audit events, sessions and document views.
    await loggedIn(t.app, f.admin.email);
    await loggedIn(t.app, f.employee.email);
    start = t.clock.now();
  });

  it('an operator starts it by CLI; the admins are mailed at the start and once two days before', async () => {
    const bad = await quietly(() => companyTerminateCommand.run(['--company', 'nope', '--reason', 'x'], cli()));
    expect(bad.value).toBe(2);
    const noReason = await quietly(() => companyTerminateCommand.run(['--company', f.companyId], cli()));
    expect(noReason.value).toBe(2);
    const r = await quietly(() => companyTerminateCommand.run(['--company', f.companyId, '--reason', 'Contract ended'], cli()));
    expect(r.value).toBe(0);
    expect(r.out.join('\n')).toContain('1 admin(s) e-mailed');
    expect((await status(f.companyId))?.status).toBe('terminating');
    expect((await quietly(() => companyTerminateCommand.run(['--company', f.companyId, '--reason', 'again'], cli()))).value).toBe(2);
    expect(await terminationMails(f.admin.email)).toHaveLength(1);

    // Day 11: not yet. Day 12: "two days left", once, also when the step runs again.
    expect((await terminationNoticeStep.run(t.deps, opts(f, new Date(start.getTime() + 11 * DAY)))).purged).toBe(0);
    expect((await terminationNoticeStep.run(t.deps, opts(f, new Date(start.getTime() + 12 * DAY + 3600_000), true))).lines[0]).toContain('would mail');
    expect(await terminationMails(f.admin.email)).toHaveLength(1);
    expect((await terminationNoticeStep.run(t.deps, opts(f, new Date(start.getTime() + 12 * DAY + 3600_000)))).purged).toBe(1);
    expect((await terminationNoticeStep.run(t.deps, opts(f, new Date(start.getTime() + 13 * DAY)))).purged).toBe(0);
    const mails = await terminationMails(f.admin.email);
    expect(mails).toHaveLength(2);
    expect(mails.map((m) => m.subject)).toContain('Samtale: jeres data slettes om to dage');
  });

  it('is not purged on day 13, nor by a dry run on day 15', async () => {
    expect((await companyPurgeStep.run(t.deps, opts(f, new Date(start.getTime() + 13 * DAY)))).purged).toBe(0);
    const dry = await companyPurgeStep.run(t.deps, opts(f, new Date(start.getTime() + 15 * DAY), true));
    expect(dry.lines[0]).toContain('would purge');
    expect(Object.keys(await rowsOf(f.companyId)).length).toBeGreaterThan(5);
    expect(await openText(f.companyId, 'dialogue_notes', noteRow, sealedNote)).toBe('a private note');
  });

  it('on day 15 the retention run purges every row and file, destroys the key and keeps a tombstone', async () => {
    const before = await rowsOf(f.companyId);
    expect(before.file_chunks).toBe(2);
    expect(before.audit_events).toBeGreaterThan(0);
    // The employee also works for the other company: that login identity must stay.
    const secondJob = randomUUID();
    await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx
        .insertInto('employments')
        .values({ id: secondJob, company_id: other.companyId, user_id: f.employee.userId, role: 'leader', title: 'second job', language: 'da', team_id: null, department_id: other.departmentId, fired_at: null, fired_by: null })
        .execute(),
    );
    const otherBefore = await rowsOf(other.companyId);
    const report = await runRetention(t.deps, opts(f, new Date(start.getTime() + 15 * DAY)));
    const step = report.steps.find((s) => s.name === 'companies.purge');
    expect(step?.purged).toBe(1);
    expect(step?.lines[0]).toContain('key destroyed');

    expect(await rowsOf(f.companyId)).toEqual({});
    const people = [f.admin, f.leader, f.colleague, f.delegate, f.member];
    const users = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('users').select('id').where('id', 'in', people.map((p) => p.userId)).execute());
    expect(users).toEqual([]);
    const kept = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('users').select('id').where('id', '=', f.employee.userId).execute());
    expect(kept).toEqual([{ id: f.employee.userId }]);
    // Nothing of the other company was touched.
    expect(await rowsOf(other.companyId)).toEqual(otherBefore);

    // The key is gone: a ciphertext saved before can never be opened, and no new key is made.
    await expect(openText(f.companyId, 'dialogue_notes', noteRow, sealedNote)).rejects.toBeInstanceOf(KeyDestroyedError);
    await expect(sealText(f.companyId, 'dialogue_notes', randomUUID(), 'x')).rejects.toBeInstanceOf(KeyDestroyedError);

    const ring = keyringFor(t.deps.config);
    const stone = (await ring.store.tombstones()).find((s) => s.companyId === f.companyId);
    expect(stone).toMatchObject({ companyId: f.companyId, requestedBy: expect.stringMatching(/^operator:/) });
    expect(stone?.purgedAt).toBeTruthy();
    expect(JSON.stringify(stone)).not.toContain(f.name);

    const purged = await unsafeSystemTransaction(t.deps.database, (trx) =>
      trx.selectFrom('audit_events').select(['company_id', 'actor_user_id', 'actor_staff_id', 'data']).where('event_type', '=', 'company.purged').where('object_id', '=', f.companyId).execute(),
    );
    expect(purged).toHaveLength(1);
    expect(purged[0]).toMatchObject({ company_id: null, actor_user_id: null, actor_staff_id: null });
    expect(purged[0]?.data).toMatchObject({ actor: 'system', fileChunks: 2 });

    // Running again finds nothing; the operator cannot cancel what is gone.
    expect((await companyPurgeStep.run(t.deps, opts(f, new Date(start.getTime() + 16 * DAY)))).purged).toBe(0);
    expect((await quietly(() => companyCancelTerminationCommand.run(['--company', f.companyId], cli()))).value).toBe(2);
  });

  it('a company brought back by an old backup is purged again by reapplyTombstones, and stays unreadable', async () => {
    // Simulate restoring a backup taken before the purge: the rows come back by raw SQL.
    await unsafeSystemTransaction(t.deps.database, async (trx) => {
      await sql`insert into companies (id, name, status) values (${f.companyId}, ${f.name}, 'terminating')`.execute(trx);
      await sql`insert into users (id, email, name) values (${f.admin.userId}, ${f.admin.email}, ${f.admin.name})`.execute(trx);
      await sql`insert into audit_events (company_id, event_type) values (${f.companyId}, 'auth.login.succeeded')`.execute(trx);
      await sql`insert into mail_outbox (id, company_id, recipient, language, template, model) values (${randomUUID()}, ${f.companyId}, ${f.admin.email}, 'da', 'lockout', '{"firstName":"x"}')`.execute(trx);
    });
    const dept = randomUUID();
    await unsafeSystemTransaction(t.deps.database, async (trx) => {
      await sql`insert into departments (id, company_id, name) values (${dept}, ${f.companyId}, 'Root')`.execute(trx);
      await sql`insert into employments (id, company_id, user_id, role, department_id) values (${randomUUID()}, ${f.companyId}, ${f.admin.userId}, 'company_admin', ${dept})`.execute(trx);
    });
    expect(Object.keys(await rowsOf(f.companyId)).length).toBeGreaterThan(2);
    const lines = await reapplyTombstones(t.deps, { onlyCompanyIds: [f.companyId, other.companyId] });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(f.companyId);
    expect(lines[0]).toContain('purged again');
    expect(await rowsOf(f.companyId)).toEqual({});
    expect(await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('users').select('id').where('id', '=', f.admin.userId).execute())).toEqual([]);
    await expect(openText(f.companyId, 'dialogue_notes', noteRow, sealedNote)).rejects.toBeInstanceOf(KeyDestroyedError);
    // Nothing to do the second time; the other company is untouched.
    expect(await reapplyTombstones(t.deps, { onlyCompanyIds: [f.companyId, other.companyId] })).toEqual([]);
    expect((await status(other.companyId))?.status).toBe('active');
    const stone = (await keyringFor(t.deps.config).store.tombstones()).find((s) => s.companyId === f.companyId);
    expect(stone?.reappliedAt).toBeTruthy();
  });
});

describe('M16 an operator can cancel a termination by CLI while the 14 days last', () => {
  it('cancels on day 13 and mails the admins; on day 15 the purge finds nothing', async () => {
    const f = await createCompany(t.deps);
    const start = t.clock.now();
    expect((await quietly(() => companyTerminateCommand.run(['--company', f.companyId, '--reason', 'test'], cli()))).value).toBe(0);
    t.clock.advance(13 * DAY);
    const r = await quietly(() => companyCancelTerminationCommand.run(['--company', f.companyId], cli()));
    expect(r.value).toBe(0);
    expect((await status(f.companyId))?.status).toBe('active');
    expect((await quietly(() => companyCancelTerminationCommand.run(['--company', f.companyId], cli()))).value).toBe(2);
    expect((await companyPurgeStep.run(t.deps, opts(f, new Date(start.getTime() + 15 * DAY)))).purged).toBe(0);
    expect((await terminationMails(f.admin.email)).map((m) => m.subject).sort()).toEqual(['Samtale: jeres konto er opsagt', 'Samtale: opsigelsen er fortrudt'].sort());
  });

  it('refuses to cancel once the purge is due', async () => {
    const f = await createCompany(t.deps);
    expect((await quietly(() => companyTerminateCommand.run(['--company', f.companyId, '--reason', 'test'], cli()))).value).toBe(0);
    t.clock.advance(14 * DAY + 1000);
    const r = await quietly(() => companyCancelTerminationCommand.run(['--company', f.companyId], cli()));
    expect(r.value).toBe(2);
    expect(r.out.join('\n')).toContain('Too late');
  });
});

describe('M16 with the key store in its own PostgreSQL database', () => {
  const base = inject('databaseUrl');
  it.skipIf(!base)('purges, destroys the key and keeps the tombstone in the key-store database; reapplies from there', async () => {
    const name = `samtale_keystore_${Date.now()}_${process.pid}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    const app2 = await createTestApp({ KEYSTORE_DATABASE_URL: u.toString(), SAMTALE_MASTER_KEY: randomBytes(32).toString('base64') });
    try {
      const f = await createCompany(app2.deps);
      const row = randomUUID();
      const sealed = await sealText(f.companyId, 'agreements', row, 'kept in the key-store database');
      const ring = keyringFor(app2.deps.config);
      expect(ring.store.kind).toBe('postgres');
      expect(await ring.store.get(`company-${f.companyId}`)).toMatchObject({ keyId: `company-${f.companyId}` });
      const started = await unsafeStartTerminationByOperator(app2.deps, f.companyId, 'drill', 'tester');
      expect(started.ok).toBe(true);
      const asOf = new Date(app2.clock.now().getTime() + 15 * DAY);
      expect((await companyPurgeStep.run(app2.deps, opts(f, asOf))).purged).toBe(1);
      expect(await ring.store.get(`company-${f.companyId}`)).toBe('destroyed');
      await expect(openText(f.companyId, 'agreements', row, sealed)).rejects.toBeInstanceOf(KeyDestroyedError);
      expect((await ring.store.tombstones()).map((s) => s.companyId)).toEqual([f.companyId]);
      await unsafeSystemTransaction(app2.deps.database, (trx) => sql`insert into companies (id, name) values (${f.companyId}, 'back from a backup')`.execute(trx));
      expect(await reapplyTombstones(app2.deps, { onlyCompanyIds: [f.companyId] })).toHaveLength(1);
      expect(await rowsOf(f.companyId)).toEqual({});
    } finally {
      await app2.close();
      await keyringFor(app2.deps.config).store.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    }
  });
});
