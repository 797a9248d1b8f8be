/**
 * The mail outbox: what a mail may contain (M6, M18), who may write and read the outbox (M8),
 * and delivery through a real SMTP server with retries, backoff and TLS.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany, createStaff, type CompanyFixture } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { newestMails, startSmtpServer, type TestSmtp } from './helpers/mail.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { enqueueMail, MAIL_TEMPLATES, REMINDER_KINDS, type MailModels, type MailTemplate } from '../src/platform/mail/mail.ts';
import { renderMail } from '../src/platform/mail/templates.ts';
import { backoffMs, mailDeliveryJob, unsafeDeliverDueMail } from '../src/platform/mail/delivery.ts';
import { closeMailTransport, mailDir } from '../src/platform/mail/transport.ts';
import { registeredJobs, runDueJobs } from '../src/platform/jobs/jobs.ts';
import { LANGUAGES } from '../src/platform/i18n/i18n.ts';
import { loadConfig } from '../src/config.ts';

const FUTURE = new Date('2027-03-08T12:00:00Z');
const HOSTILE_NAME = '<script>alert(1)</script>Åse';

/** A model per template: allowed fields filled with hostile values, plus fields no mail may carry. */
const FORBIDDEN = {
  colleagueName: 'Bjørn Kollegasen',
  leaderName: 'Leder Lauritzen',
  answers: 'HEMMELIGT SVAR 42',
  answer: 'my private answer',
  score: 'SCORE-4711',
  notes: 'PRIVATE NOTE about burnout',
  fileName: 'loenforhandling.pdf',
  email: 'someone.else@example.org',
  otherPerson: 'Other Person',
};
const FORBIDDEN_VALUES = Object.values(FORBIDDEN);

function hostileModel(template: MailTemplate): MailModels[MailTemplate] & Record<string, unknown> {
  const firstName = HOSTILE_NAME;
  switch (template) {
    case 'invitation':
      return { ...FORBIDDEN, firstName, companyName: 'Firma <b>& Co</b>', path: '/invitation/tok123', expiresAt: FUTURE };
    case 'password_reset':
    case 'account_unlock':
    case 'email_change_confirm':
      return { ...FORBIDDEN, firstName, path: '/link/tok456', expiresAt: FUTURE };
    case 'lockout':
      return { ...FORBIDDEN, firstName, until: FUTURE };
    case 'second_factor_changed':
      return { ...FORBIDDEN, firstName, change: 'removed', at: FUTURE };
    case 'new_device_login':
    case 'password_changed':
    case 'email_changed_notice':
      return { ...FORBIDDEN, firstName, at: FUTURE };
    case 'reminder':
      return { ...FORBIDDEN, firstName, companyName: 'Firma <b>& Co</b>', reminder: 'preparation_due_soon', deadline: FUTURE, path: '/link/tok-dialogue' };
    case 'digest':
      return { ...FORBIDDEN, firstName, companyName: 'Firma <b>& Co</b>', items: [{ reminder: 'meeting_tomorrow', deadline: FUTURE }, { reminder: 'nudge' }], path: '/link/tok-notifications' };
    case 'support_access':
      return { ...FORBIDDEN, firstName, companyName: 'Firma <b>& Co</b>', change: 'given', at: FUTURE, until: FUTURE, path: '/link/tok-settings' };
    case 'company_termination':
      return { ...FORBIDDEN, firstName, companyName: 'Firma <b>& Co</b>', change: 'started', purgeAt: FUTURE, path: '/link/tok-termination' };
  }
}

let t: TestApp;
let a: CompanyFixture;
let b: CompanyFixture;

beforeAll(async () => {
  t = await createTestApp();
  a = await createCompany(t.deps);
  b = await createCompany(t.deps);
});
afterAll(async () => {
  closeMailTransport(t.deps.config);
  await t?.close();
});

describe('M6 M18 what an e-mail may contain', () => {
  for (const template of MAIL_TEMPLATES) {
    it(`${template}: no other person's data, escaped first name, link only into the portal, in da/en/sv`, () => {
      const subjects = new Set<string>();
      for (const lang of LANGUAGES) {
        const m = renderMail(template, hostileModel(template), lang, 'https://samtale.example');
        const all = `${m.subject}\n${m.text}\n${m.html}`;
        for (const v of FORBIDDEN_VALUES) expect(all, `${template}/${lang} leaks ${v}`).not.toContain(v);
        // The name is in the text as written, escaped in the HTML, and never in the subject.
        expect(m.text).toContain(HOSTILE_NAME);
        expect(m.html).not.toContain('<script>');
        expect(m.html).toContain('&lt;script>alert(1)&lt;/script>Åse');
        expect(m.subject).not.toContain('Åse');
        expect(m.subject).not.toMatch(/[\r\n]/);
        if (template === 'invitation') {
          expect(m.html).not.toContain('<b>');
          expect(m.html).toContain('&lt;b>&amp; Co&lt;/b>');
        }
        const links = [...all.matchAll(/https?:\/\/[^\s"<]+/g)].map((x) => x[0]);
        for (const l of links) expect(l.startsWith('https://samtale.example/')).toBe(true);
        if ('path' in hostileModel(template)) expect(m.link).toMatch(/^https:\/\/samtale\.example\/(invitation|link)\/tok/);
        subjects.add(m.subject);
      }
      // Three languages, three different subjects (nothing falls back to one language).
      expect(subjects.size).toBe(3);
    });
  }

  it('every reminder kind (incl. a GRUS member asking for an individual MUS) has its own line in da/en/sv and nothing more', () => {
    for (const reminder of REMINDER_KINDS) {
      const lines = new Set<string>();
      for (const lang of LANGUAGES) {
        const model = { ...FORBIDDEN, reason: 'GRUND: jeg vil tale om min chef', firstName: HOSTILE_NAME, companyName: 'Firma', reminder, path: '/dialogues/tok' };
        const m = renderMail('reminder', model, lang, 'https://samtale.example');
        const all = `${m.subject}\n${m.text}\n${m.html}`;
        for (const v of [...FORBIDDEN_VALUES, 'GRUND']) expect(all, `${reminder}/${lang} leaks ${v}`).not.toContain(v);
        expect(m.text).toContain('Firma');
        expect(m.link).toBe('https://samtale.example/dialogues/tok');
        lines.add(m.text.split('\n')[2] ?? '');
      }
      expect(lines.size, reminder).toBe(3);
    }
    expect(renderMail('reminder', { firstName: 'Anna', companyName: 'Firma', reminder: 'mus_requested', path: '/dialogues/x' }, 'en', undefined).text).toMatch(/individual employee dialogue/);
  });

  it('refuses links that leave the portal and drops unknown fields before the row is written', async () => {
    for (const bad of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'relative/path', '/a b']) {
      await expect(
        withTenant(t.deps.database, { companyId: a.companyId }, (trx) =>
          enqueueMail(trx, { to: a.employee.email, lang: 'da', template: 'password_reset', model: { firstName: 'X', path: bad, expiresAt: FUTURE } }),
        ),
      ).rejects.toThrow(/invalid/);
    }
    const id = await withTenant(t.deps.database, { companyId: a.companyId }, (trx) =>
      enqueueMail(trx, { to: a.employee.email, lang: 'en', template: 'password_changed', model: { firstName: 'Anna', at: FUTURE, ...FORBIDDEN } as MailModels['password_changed'] }),
    );
    const row = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
    expect(Object.keys(row.model).sort()).toEqual(['at', 'firstName']);
    expect(row.company_id).toBe(a.companyId);
    expect(row.status).toBe('pending');
  });
});

describe('M8 the outbox belongs to the system', () => {
  it('the app role may add mail for its own company only, and read none', async () => {
    await withTenant(t.deps.database, { companyId: a.companyId }, (trx) =>
      enqueueMail(trx, { to: a.employee.email, lang: 'da', template: 'new_device_login', model: { firstName: 'Anna', at: FUTURE } }),
    );
    // Another company's id, or no company, inside a company's transaction: refused by the policy.
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId }, (trx) =>
        enqueueMail(trx, { to: b.employee.email, lang: 'da', template: 'new_device_login', model: { firstName: 'B', at: FUTURE }, companyId: b.companyId }),
      ),
    ).rejects.toThrow(/row-level security|policy/);
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId }, (trx) =>
        enqueueMail(trx, { to: b.employee.email, lang: 'da', template: 'new_device_login', model: { firstName: 'B', at: FUTURE }, companyId: null }),
      ),
    ).rejects.toThrow(/row-level security|policy/);
    // Without a company context (staff, before login) the mail has no company.
    const id = await withTenant(t.deps.database, { lookupEmail: a.employee.email }, (trx) =>
      enqueueMail(trx, { to: a.employee.email, lang: 'da', template: 'password_reset', model: { firstName: 'Anna', path: '/reset/x', expiresAt: FUTURE } }),
    );
    const row = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('mail_outbox').select('company_id').where('id', '=', id).executeTakeFirstOrThrow());
    expect(row.company_id).toBeNull();
    // Reading, changing or deleting mail is not granted at all, not even one's own company's.
    for (const q of [sql`select count(*) from mail_outbox`, sql`update mail_outbox set status = 'sent'`, sql`delete from mail_outbox`]) {
      await expect(withTenant(t.deps.database, { companyId: a.companyId }, (trx) => q.execute(trx))).rejects.toThrow(/permission denied/);
    }
  });

  it('a mail exists only if the change that caused it commits', async () => {
    const to = `rollback-${Date.now()}@test.example`;
    await expect(
      withTenant(t.deps.database, { companyId: a.companyId }, async (trx) => {
        await enqueueMail(trx, { to, lang: 'da', template: 'password_changed', model: { firstName: 'R', at: FUTURE } });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await newestMails(t.deps, to)).toEqual([]);
  });
});

describe('file transport and the development mail page', () => {
  it('writes .eml files, shows them to staff only, and reports counts on /readyz', async () => {
    const to = `file-${Date.now()}@test.example`;
    await withTenant(t.deps.database, { companyId: a.companyId }, (trx) =>
      enqueueMail(trx, { to, lang: 'sv', template: 'invitation', model: { firstName: 'Sven', companyName: 'Firma AB', path: '/invitation/abc', expiresAt: FUTURE } }),
    );
    const before = (await t.app.inject({ url: '/readyz' })).json();
    expect(before.checks.mail).toMatchObject({ transport: 'file', status: 'ok' });
    expect(before.checks.mail.pending).toBeGreaterThanOrEqual(1);

    const pending = await newestMails(t.deps, to);
    expect(pending[0]).toMatchObject({ status: 'pending', template: 'invitation', link: 'http://localhost:3000/invitation/abc' });

    await unsafeDeliverDueMail(t.deps, { scope: { recipients: [to] } });
    const [sent] = await newestMails(t.deps, to);
    expect(sent).toMatchObject({ status: 'sent', subject: 'Du är inbjuden till Samtale', link: 'http://localhost:3000/invitation/abc' });
    expect(sent?.html).toContain('Hej Sven');
    expect(fs.existsSync(path.join(mailDir(t.deps.config), `${sent?.id}.eml`))).toBe(true);
    // Once sent, the row no longer holds the link.
    const row = await unsafeSystemTransaction(t.deps.database, (trx) => trx.selectFrom('mail_outbox').selectAll().where('id', '=', sent?.id ?? '').executeTakeFirstOrThrow());
    expect(row.model).toEqual({});

    const staff = await loggedIn(t.app, (await createStaff(t.deps)).email);
    const list = await staff.get('/staff/dev/mail');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain(to);
    const one = await staff.get(`/staff/dev/mail?id=${sent?.id}`);
    expect(one.statusCode).toBe(200);
    expect(one.body).toContain('http://localhost:3000/invitation/abc');
    expect((await staff.get('/staff/dev/mail?id=00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    expect((await staff.get('/staff/dev/mail?id=../../etc/passwd')).statusCode).toBe(404);

    const admin = await loggedIn(t.app, a.admin.email);
    expect((await admin.get('/staff/dev/mail')).statusCode).toBe(404);
    expect((await new Agent(t.app).get('/staff/dev/mail')).statusCode).toBe(303);
  });

  it('the page does not exist with SMTP configured or in production', async () => {
    const smtp = await createTestApp({ SMTP_URL: 'smtp://127.0.0.1:1' });
    try {
      expect(smtp.app.samtaleRoutes.some((r) => r.url === '/staff/dev/mail')).toBe(false);
    } finally {
      await smtp.close();
    }
    expect(() => loadConfig({ NODE_ENV: 'production', TRUST_PROXY: 'true', PUBLIC_URL: 'https://x.example' })).toThrow(/SMTP_URL/);
  });

  it('mail settings are validated at start, naming the variable', () => {
    expect(() => loadConfig({ SMTP_URL: 'http://mail.example' })).toThrow(/SMTP_URL/);
    expect(() => loadConfig({ SMTP_URL: 'smtp://mail.example/path' })).toThrow(/SMTP_URL/);
    expect(() => loadConfig({ MAIL_MAX_ATTEMPTS: '0' })).toThrow(/MAIL_MAX_ATTEMPTS/);
    expect(() => loadConfig({ SMTP_REQUIRE_TLS: 'maybe' })).toThrow(/SMTP_REQUIRE_TLS/);
    const c = loadConfig({ SMTP_URL: 'smtps://user:p%40ss@mail.example:465' });
    expect(c.mail).toMatchObject({ transport: 'smtp', requireTls: true, maxAttempts: 10 });
  });
});

describe('delivery through a real SMTP server', () => {
  let smtp: TestSmtp;
  let s: TestApp;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    s = await createTestApp({ SMTP_URL: smtp.url, SMTP_REQUIRE_TLS: 'false', SMTP_FROM: 'Samtale <noreply@samtale.example>', PUBLIC_URL: 'https://samtale.example', MAIL_MAX_ATTEMPTS: '3' });
  });
  afterAll(async () => {
    closeMailTransport(s.deps.config);
    await s?.close();
    await smtp?.close();
  });

  // Each test app has its own database on PGlite: this company lives in s's.
  let sa: CompanyFixture;
  const mine = { scope: { companyId: '' } };
  beforeAll(async () => {
    sa = await createCompany(s.deps);
    mine.scope.companyId = sa.companyId;
  });
  const enqueue = (to: string, firstName = 'Anna') =>
    withTenant(s.deps.database, { companyId: sa.companyId }, (trx) =>
      enqueueMail(trx, { to, lang: 'da', template: 'password_reset', model: { firstName, path: '/reset/tok', expiresAt: FUTURE } }),
    );

  it('the job sends a pending mail once, with both parts, and audits it', async () => {
    const to = `smtp-${Date.now()}@test.example`;
    const id = await enqueue(to);
    const before = smtp.received.length;
    // The registered job, narrowed to this file's company (on PostgreSQL all test files share one outbox).
    expect(registeredJobs().map((j) => j.name)).toContain(mailDeliveryJob.name);
    const job = { ...mailDeliveryJob, name: `mail.deliver.test-${Date.now()}`, run: (d: typeof s.deps) => unsafeDeliverDueMail(d, mine) };
    await runDueJobs(s.deps, [job]);
    const got = smtp.received.slice(before).filter((m) => m.to.includes(to));
    expect(got).toHaveLength(1);
    expect(got[0]?.from).toBe('noreply@samtale.example');
    expect(got[0]?.subject).toBe('Nulstil din adgangskode');
    expect(got[0]?.text).toContain('https://samtale.example/reset/tok');
    expect(got[0]?.html).toContain('href="https://samtale.example/reset/tok"');
    expect(got[0]?.messageId).toBe(`<${id}@samtale.example>`);
    // Nothing left to send: another run (after the job interval) sends nothing more.
    s.clock.advance(60_000);
    await runDueJobs(s.deps, [job]);
    expect(smtp.received.filter((m) => m.to.includes(to))).toHaveLength(1);
    const events = await unsafeSystemTransaction(s.deps.database, (trx) =>
      trx.selectFrom('audit_events').select(['event_type', 'company_id', 'data']).where('object_id', '=', id).execute(),
    );
    expect(events).toEqual([{ event_type: 'mail.sent', company_id: sa.companyId, data: { template: 'password_reset' } }]);
  });

  it('while the server is down mails stay pending, and arrive after it comes back (backoff on the clock)', async () => {
    const to = `down-${Date.now()}@test.example`;
    await smtp.stop();
    try {
      const id = await enqueue(to);
      const r1 = await unsafeDeliverDueMail(s.deps, mine);
      expect(r1).toMatchObject({ sent: 0, retrying: 1, failed: 0 });
      let row = await unsafeSystemTransaction(s.deps.database, (trx) => trx.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
      expect(row).toMatchObject({ status: 'pending', attempts: 1 });
      expect(row.last_error).toMatch(/ECONNECTION|ESOCKET|ECONNREFUSED/);
      expect(row.last_error).not.toContain(to);
      expect(new Date(row.next_attempt_at ?? 0).getTime()).toBe(s.clock.now().getTime() + backoffMs(1));
      const health = (await s.app.inject({ url: '/readyz' })).json();
      expect(health.status).toBe('ready');
      expect(health.checks.mail).toMatchObject({ transport: 'smtp', status: 'unreachable' });
      expect(health.checks.mail.pending).toBeGreaterThanOrEqual(1);

      // Back before the backoff is over: nothing is tried yet.
      await smtp.start();
      s.clock.advance(backoffMs(1) - 1000);
      expect(await unsafeDeliverDueMail(s.deps, mine)).toMatchObject({ sent: 0, retrying: 0 });
      s.clock.advance(1000);
      expect(await unsafeDeliverDueMail(s.deps, mine)).toMatchObject({ sent: 1 });
      expect(smtp.received.filter((m) => m.to.includes(to))).toHaveLength(1);
      row = await unsafeSystemTransaction(s.deps.database, (trx) => trx.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
      expect(row).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
    } finally {
      await smtp.start();
    }
  });

  it('one unreachable server ends the run: the rest of the batch waits for the next attempt', async () => {
    const tag = Date.now();
    const addresses = [0, 1, 2].map((i) => `batch-${tag}-${i}@test.example`);
    await smtp.stop();
    try {
      for (const to of addresses) await enqueue(to);
      expect(await unsafeDeliverDueMail(s.deps, mine)).toEqual({ sent: 0, retrying: 3, failed: 0 });
      await smtp.start();
      s.clock.advance(backoffMs(1));
      expect(await unsafeDeliverDueMail(s.deps, mine)).toMatchObject({ sent: 3 });
      for (const to of addresses) expect(smtp.received.filter((m) => m.to.includes(to))).toHaveLength(1);
    } finally {
      await smtp.start();
    }
  });

  it('after MAIL_MAX_ATTEMPTS the mail is marked failed, audited and counted', async () => {
    const to = `fail-${Date.now()}@test.example`;
    await smtp.stop();
    try {
      const id = await enqueue(to);
      for (let i = 1; i <= 3; i++) {
        await unsafeDeliverDueMail(s.deps, mine);
        s.clock.advance(backoffMs(i));
      }
      const row = await unsafeSystemTransaction(s.deps.database, (trx) => trx.selectFrom('mail_outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
      expect(row).toMatchObject({ status: 'failed', attempts: 3 });
      const events = await unsafeSystemTransaction(s.deps.database, (trx) =>
        trx.selectFrom('audit_events').select(['event_type', 'data']).where('object_id', '=', id).execute(),
      );
      expect(events).toHaveLength(1);
      expect(events[0]?.event_type).toBe('mail.failed');
      expect(JSON.stringify(events[0]?.data)).not.toContain(to);
      // A failed mail is never retried.
      await smtp.start();
      s.clock.advance(24 * 3600_000);
      await unsafeDeliverDueMail(s.deps, mine);
      expect(smtp.received.filter((m) => m.to.includes(to))).toHaveLength(0);
      expect((await s.app.inject({ url: '/readyz' })).json().checks.mail.failed).toBeGreaterThanOrEqual(1);
    } finally {
      await smtp.start();
    }
  });

  it('two runners on one database deliver each mail exactly once', async () => {
    const tag = Date.now();
    const addresses = Array.from({ length: 12 }, (_, i) => `pair-${tag}-${i}@test.example`);
    for (const to of addresses) await enqueue(to);
    const second = await createTestApp({ SMTP_URL: smtp.url, SMTP_REQUIRE_TLS: 'false' });
    // On PostgreSQL the second runner has its own connection pool to the same database; PGlite
    // has one connection, so there both runners share it.
    const otherDeps = inject('databaseUrl') ? { ...second.deps, clock: s.clock } : { ...s.deps, config: second.deps.config };
    try {
      const results = await Promise.all([unsafeDeliverDueMail(s.deps, { batch: 3, ...mine }), unsafeDeliverDueMail(otherDeps, { batch: 3, ...mine })]);
      expect(results.reduce((n, r) => n + r.sent, 0)).toBeGreaterThanOrEqual(addresses.length);
      for (const to of addresses) expect(smtp.received.filter((m) => m.to.includes(to)), to).toHaveLength(1);
    } finally {
      closeMailTransport(second.deps.config);
      await second.close();
    }
  });
});

describe('TLS to the SMTP server', () => {
  it('with STARTTLS required, a server that offers no TLS gets no mail; one with a trusted certificate does', async () => {
    const plain = await startSmtpServer();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = await startSmtpServer({ tls: { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') } });
    const strict = await createTestApp({ SMTP_URL: plain.url });
    const secure = await createTestApp({ SMTP_URL: `smtp://localhost:${tls.port}`, SMTP_CA_FILE: path.join(dir, 'cert.pem') });
    try {
      const to = `tls-${Date.now()}@test.example`;
      await withTenant(strict.deps.database, {}, (trx) =>
        enqueueMail(trx, { to, lang: 'en', template: 'password_changed', model: { firstName: 'T', at: FUTURE } }),
      );
      expect(await unsafeDeliverDueMail(strict.deps, { scope: { recipients: [to] } })).toMatchObject({ sent: 0, retrying: 1 });
      expect(plain.received).toHaveLength(0);
      const [row] = await newestMails(strict.deps, to);
      expect(row?.status).toBe('pending');
      const why = await unsafeSystemTransaction(strict.deps.database, (trx) => trx.selectFrom('mail_outbox').select('last_error').where('id', '=', row?.id ?? '').executeTakeFirstOrThrow());
      expect(why.last_error).toMatch(/TLS/);

      const to2 = `tls2-${Date.now()}@test.example`;
      await withTenant(secure.deps.database, {}, (trx) => enqueueMail(trx, { to: to2, lang: 'en', template: 'password_changed', model: { firstName: 'T', at: FUTURE } }));
      expect(await unsafeDeliverDueMail(secure.deps, { scope: { recipients: [to2] } })).toMatchObject({ sent: 1 });
      expect(tls.received.filter((m) => m.to.includes(to2))).toHaveLength(1);
    } finally {
      closeMailTransport(strict.deps.config);
      closeMailTransport(secure.deps.config);
      await strict.close();
      await secure.close();
      await plain.close();
      await tls.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
