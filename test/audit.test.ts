/**
 * M20: the audit trail is append-only for the app and hash-chained per company; `samtale audit
 * verify` finds a row changed, removed or cut off by someone who got past the database's rules.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.ts';
import { createCompany } from './helpers/factories.ts';
import { Agent, loggedIn } from './helpers/agent.ts';
import { unsafeSystemTransaction, withTenant } from '../src/platform/db/context.ts';
import { audit } from '../src/platform/audit/audit.ts';
import { unsafeVerifyAuditChains } from '../src/platform/audit/verify.ts';
import { unsafeShipAuditEvents, type AuditLogLine } from '../src/platform/audit/ship.ts';
import { openDatabase } from '../src/platform/db/database.ts';

const run = promisify(execFile);
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t?.close());

/** Changes the database behind the app's back, as a superuser could. */
async function tamper(statement: string) {
  await t.deps.database.ownerSession(async (q) => {
    await q(`alter table audit_events disable trigger audit_events_no_update; ${statement}; alter table audit_events enable trigger audit_events_no_update;`);
  });
}

async function chainOf(companyId: string) {
  return unsafeSystemTransaction(t.deps.database, (trx) =>
    trx.selectFrom('audit_events').select(['id', 'chain_seq', 'prev_hash', 'row_hash']).where('company_id', '=', companyId).orderBy('chain_seq').execute(),
  );
}

describe('M20 audit trail', () => {
  it('numbers and links every company\'s rows into its own chain', async () => {
    const f = await createCompany(t.deps);
    await loggedIn(t.app, f.admin.email);
    await loggedIn(t.app, f.employee.email);
    const rows = await chainOf(f.companyId);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    rows.forEach((r, i) => {
      expect(Number(r.chain_seq)).toBe(i + 1);
      expect(r.row_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.prev_hash).toBe(i === 0 ? '' : rows[i - 1]?.row_hash);
    });
    const [report] = await unsafeVerifyAuditChains(t.deps.database, { companyId: f.companyId });
    expect(report).toMatchObject({ chain: f.companyId, ok: true, rows: rows.length });
  });

  it('the app role can add rows but never change or delete one', async () => {
    const f = await createCompany(t.deps);
    const ctx = { companyId: f.companyId, userId: f.admin.userId };
    await withTenant(t.deps.database, ctx, (trx) => audit(trx, { companyId: f.companyId, actorUserId: f.admin.userId }, { type: 'settings.language_changed', data: { language: 'en' } }));
    await expect(withTenant(t.deps.database, ctx, (trx) => trx.updateTable('audit_events').set({ event_type: 'x' }).where('company_id', '=', f.companyId).execute())).rejects.toThrow();
    await expect(withTenant(t.deps.database, ctx, (trx) => trx.deleteFrom('audit_events').where('company_id', '=', f.companyId).execute())).rejects.toThrow();
    // Not even the system role: the trigger refuses.
    await expect(unsafeSystemTransaction(t.deps.database, (trx) => trx.deleteFrom('audit_events').where('company_id', '=', f.companyId).execute())).rejects.toThrow(/append-only|audit/i);
  });

  it('verify reports the first changed row, a removed row and a cut-off tail', async () => {
    const changed = await createCompany(t.deps);
    for (const who of [changed.admin, changed.leader, changed.employee]) await loggedIn(t.app, who.email);
    const rows = await chainOf(changed.companyId);
    const victim = rows[1];
    await tamper(`update audit_events set data = '{"known": false}' where id = ${Number(victim?.id)}`);
    const [r1] = await unsafeVerifyAuditChains(t.deps.database, { companyId: changed.companyId });
    expect(r1).toMatchObject({ ok: false, broken: { seq: 2, id: Number(victim?.id), reason: 'changed' } });

    const removed = await createCompany(t.deps);
    for (const who of [removed.admin, removed.leader, removed.employee]) await loggedIn(t.app, who.email);
    const rows2 = await chainOf(removed.companyId);
    await tamper(`delete from audit_events where id = ${Number(rows2[1]?.id)}`);
    const [r2] = await unsafeVerifyAuditChains(t.deps.database, { companyId: removed.companyId });
    expect(r2).toMatchObject({ ok: false, broken: { seq: 2, reason: 'missing' } });

    const cut = await createCompany(t.deps);
    for (const who of [cut.admin, cut.leader]) await loggedIn(t.app, who.email);
    const rows3 = await chainOf(cut.companyId);
    await tamper(`delete from audit_events where id = ${Number(rows3.at(-1)?.id)}`);
    const [r3] = await unsafeVerifyAuditChains(t.deps.database, { companyId: cut.companyId });
    expect(r3).toMatchObject({ ok: false, broken: { seq: rows3.length, reason: 'missing' } });

    // The other chains are untouched.
    const intact = await createCompany(t.deps);
    await loggedIn(t.app, intact.admin.email);
    const [r4] = await unsafeVerifyAuditChains(t.deps.database, { companyId: intact.companyId });
    expect(r4?.ok).toBe(true);
  });

  it('`samtale audit verify` exits 0 on an intact trail and 1, naming the row, after tampering', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samtale-audit-'));
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SAMTALE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
    const cli = (...args: string[]) => run('node_modules/.bin/tsx', ['src/main.ts', ...args], { env });
    try {
      await cli('company', 'create', '--name', 'Revision A/S', '--admin-name', 'Rikke Revisor', '--admin-email', 'rikke@revision.example');
      const ok = await cli('audit', 'verify');
      expect(ok.stdout).toMatch(/^ok\s+\S+: 1 rows/m);
      const db = await openDatabase({ dataDir });
      let companyId = '';
      await db.ownerSession(async (q) => {
        companyId = String((await q('select id from companies limit 1', []))[0]?.id);
        await q(`alter table audit_events disable trigger audit_events_no_update; update audit_events set ip = '203.0.113.9'; alter table audit_events enable trigger audit_events_no_update;`);
      });
      await db.close();
      const broken = await cli('audit', 'verify', '--company', companyId).then(
        () => ({ code: 0, stdout: '' }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(`BROKEN  ${companyId}: at row 1 (changed`);
      const bad = await cli('audit', 'verify', '--company', 'nope').catch((e: { code: number }) => e);
      expect((bad as { code: number }).code).toBe(2);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps the chains apart: rows without a company form the platform chain', async () => {
    await new Agent(t.app).login(`nobody-${Date.now()}@test.example`, 'wrong');
    const rows = await unsafeSystemTransaction(t.deps.database, async (trx) =>
      (await sql<{ n: number }>`select count(*)::int as n from audit_events where company_id is null and chain_seq is null`.execute(trx)).rows[0],
    );
    expect(rows?.n).toBe(0);
    const reports = await unsafeVerifyAuditChains(t.deps.database);
    expect(reports.some((r) => r.chain === 'platform')).toBe(true);
  });

  it('ships committed rows to the JSON log once, in chain order, and never a rolled-back one', async () => {
    const f = await createCompany(t.deps);
    await loggedIn(t.app, f.admin.email);
    await withTenant(t.deps.database, { companyId: f.companyId, userId: f.admin.userId }, async (trx) => {
      await audit(trx, { companyId: f.companyId, actorUserId: f.admin.userId }, { type: 'settings.language_changed', data: { language: 'sv' } });
    });
    await expect(
      withTenant(t.deps.database, { companyId: f.companyId, userId: f.admin.userId }, async (trx) => {
        await audit(trx, { companyId: f.companyId, actorUserId: f.admin.userId }, { type: 'settings.language_changed', data: { language: 'rolled-back' } });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const lines: AuditLogLine[] = [];
    await unsafeShipAuditEvents(t.deps, (l) => lines.push(l));
    const mine = lines.filter((l) => l.chain === f.companyId);
    expect(mine.map((l) => l.seq)).toEqual(mine.map((_, i) => i + 1));
    expect(mine.map((l) => l.event)).toContain('settings.language_changed');
    expect(JSON.stringify(mine)).not.toContain('rolled-back');
    expect(mine.every((l) => l.stream === 'audit' && /^[0-9a-f]{64}$/.test(l.hash))).toBe(true);
    const again: AuditLogLine[] = [];
    await unsafeShipAuditEvents(t.deps, (l) => again.push(l));
    expect(again.filter((l) => l.chain === f.companyId)).toEqual([]);
  });
});
