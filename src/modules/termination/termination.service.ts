/**
 * Companies that leave (issue 6, M16).
 *
 * A company admin (with the second factor again) on /org/settings/termination, or a platform
 * operator with `samtale company terminate`, starts the termination: companies.status becomes
 * 'terminating', every admin gets an e-mail, and for 14 days an admin (or the operator) can
 * cancel. Two days before the end the admins get a second e-mail (once). On day 14 the retention
 * runner's step `companies.purge` (also `samtale retention run --as-of`):
 *   1. re-checks the termination inside a transaction (FOR UPDATE; a cancel that committed first
 *      wins), and writes the TOMBSTONE to the key store (company id, dates, who asked; no name),
 *      which is outside the data and its backups;
 *   2. destroys the company's data key in the key store: from this moment every copy of its
 *      sealed text and files, in the database and in every data backup, is unreadable;
 *   3. deletes its file chunks in batches, then in one purge transaction (unsafePurgeTransaction:
 *      the append-only tables may lose rows there) its audit trail, document views and audit
 *      chain head, the company row (every tenant table follows by foreign key) and the login
 *      identities that had no other employment;
 *   4. marks the tombstone purged and writes a platform audit event done by "system".
 * reapplyTombstones runs before the app serves requests and in `samtale migrate`: a company that
 * has a tombstone but rows in the database (an old backup was restored) is purged again.
 *
 * Functions named unsafe* cross companies (system transactions) and are listed in docs/security.md.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor, UserActor } from '../../platform/auth/actor.ts';
import { unsafeSystemTransaction, withTenant, type Tx } from '../../platform/db/context.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { ownAccountContext } from '../../platform/auth/own-account.ts';
import { checkThrottle, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { afterBlocksStarted, firstNameOf } from '../../platform/auth/login-notices.ts';
import { enqueueMail } from '../../platform/mail/mail.ts';
import type { RelyingParty } from '../../platform/auth/webauthn.ts';
import { confirmSecondFactor, reauthFactor, type ReauthFactor } from '../twofactor/passkeys.service.ts';
import { ownerOf } from '../twofactor/twofactor.policy.ts';
import { keyringFor } from '../../platform/crypto/keyring.ts';
import type { Tombstone } from '../../platform/crypto/keystore.ts';
import { addDays, retentionSteps, unsafePurgeTransaction, type RetentionOptions, type RetentionStep } from '../retention/steps.ts';

export const TERMINATION_DAYS = 14;
export const WARN_DAYS_BEFORE = 2;
export const PAGE_PATH = '/org/settings/termination';
const CHUNK_BATCH = 200;

export type Termination = {
  id: string;
  requestedAt: Date;
  purgeAfter: Date;
  requestedBy: { kind: 'admin'; name: string | null } | { kind: 'operator' };
  reason: string | null;
};

export type TerminationPage = { companyName: string; current: Termination | undefined; factor: ReauthFactor };

export function mayManageTermination(actor: Actor | undefined): actor is UserActor {
  return actor?.kind === 'user' && actor.role === 'company_admin';
}

function admin(actor: Actor | undefined): UserActor {
  if (!mayManageTermination(actor)) throw new NotFoundError();
  return actor;
}

async function openTermination(trx: Tx, companyId: string): Promise<Termination | undefined> {
  const r = await trx
    .selectFrom('company_terminations as t')
    .leftJoin('employments as e', 'e.id', 't.requested_by_employment')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .select(['t.id', 't.requested_at', 't.purge_after', 't.requested_by_employment', 't.reason', 'u.name'])
    .where('t.company_id', '=', companyId)
    .where('t.cancelled_at', 'is', null)
    .executeTakeFirst();
  if (!r) return undefined;
  return {
    id: r.id,
    requestedAt: new Date(r.requested_at),
    purgeAfter: new Date(r.purge_after),
    requestedBy: r.requested_by_employment ? { kind: 'admin', name: r.name ?? null } : { kind: 'operator' },
    reason: r.reason,
  };
}

export async function getTerminationPage(deps: AppDeps, actor: Actor | undefined): Promise<TerminationPage> {
  const a = admin(actor);
  return withTenant(deps.database, { companyId: a.companyId, userId: a.userId }, async (trx) => ({
    companyName: a.companyName,
    current: await openTermination(trx, a.companyId),
    factor: await reauthFactor(trx, ownerOf(a)),
  }));
}

/** Tells every active company admin by e-mail (first name, company, the purge time, a link). */
async function mailAdmins(trx: Tx, companyId: string, companyName: string, change: 'started' | 'two_days_left' | 'cancelled', purgeAt: Date): Promise<number> {
  const admins = await trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['u.email', 'u.name', 'e.language'])
    .where('e.company_id', '=', companyId)
    .where('e.role', '=', 'company_admin')
    .where('e.fired_at', 'is', null)
    .execute();
  for (const a of admins) {
    await enqueueMail(trx, {
      to: a.email,
      lang: a.language,
      template: 'company_termination',
      companyId,
      model: { firstName: firstNameOf(a.name), companyName, change, purgeAt, path: PAGE_PATH },
    });
  }
  return admins.length;
}

export type StartInput = { confirm: boolean; reason: string; code: string; passkeyResponse: string; rp: RelyingParty; source: string; ip: string };
export type StartErrors = { confirm?: 'required'; reason?: 'tooLong'; code?: 'required' | 'wrong' | 'needFactor' };
export type StartResult = { ok: true; purgeAfter: Date } | { ok: false; errors: StartErrors } | { ok: false; already: true };

/** Checks the admin's second factor; a wrong one counts towards M7 like a failed login. */
async function secondFactorProblem(trx: Tx, deps: AppDeps, a: UserActor, input: StartInput): Promise<StartErrors['code']> {
  const now = deps.clock.now();
  const owner = ownerOf(a);
  const factor = await reauthFactor(trx, owner);
  if (factor === 'none') return 'needFactor';
  if ((factor === 'totp' && input.code.trim() === '') || (factor === 'passkey' && input.passkeyResponse === '')) return 'required';
  const subject = subjectFor(a.email);
  const throttle = await checkThrottle(trx, subject, input.source, now);
  const ok = !throttle.blocked && (await confirmSecondFactor(trx, a, { code: input.code, passkeyResponse: input.passkeyResponse, rp: input.rp, ip: input.ip, now }));
  if (ok) return undefined;
  const who = whoFromActor(a, input.ip);
  await audit(trx, who, { type: 'auth.second_factor.failed', data: { step: 'company_termination' } });
  const started = await recordFailure(trx, subject, input.source, throttle.knownSource, now);
  await afterBlocksStarted(trx, { owner, subject, started, who, now, lookupEmail: a.email.toLowerCase() });
  return 'wrong';
}

async function insertTermination(
  trx: Tx,
  companyId: string,
  now: Date,
  by: { employmentId: string } | { operator: string },
  reason: string | null,
): Promise<{ id: string; purgeAfter: Date } | undefined> {
  const existing = await trx.selectFrom('company_terminations').select('id').where('company_id', '=', companyId).where('cancelled_at', 'is', null).forUpdate().executeTakeFirst();
  if (existing) return undefined;
  const id = randomUUID();
  const purgeAfter = addDays(now, TERMINATION_DAYS);
  await trx
    .insertInto('company_terminations')
    .values({
      id,
      company_id: companyId,
      requested_at: now,
      purge_after: purgeAfter,
      requested_by_employment: 'employmentId' in by ? by.employmentId : null,
      requested_by_operator: 'operator' in by ? by.operator : null,
      reason,
    })
    .execute();
  await trx.updateTable('companies').set({ status: 'terminating' }).where('id', '=', companyId).execute();
  return { id, purgeAfter };
}

export async function startTermination(deps: AppDeps, actor: Actor | undefined, input: StartInput): Promise<StartResult> {
  const a = admin(actor);
  const errors: StartErrors = {};
  if (!input.confirm) errors.confirm = 'required';
  const reason = input.reason.trim();
  if (reason.length > 500) errors.reason = 'tooLong';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const now = deps.clock.now();
  return withTenant(deps.database, ownAccountContext(a), async (trx): Promise<StartResult> => {
    if (await openTermination(trx, a.companyId)) return { ok: false, already: true };
    const p = await secondFactorProblem(trx, deps, a, input);
    if (p) return { ok: false, errors: { code: p } };
    const made = await insertTermination(trx, a.companyId, now, { employmentId: a.employmentId }, reason || null);
    if (!made) return { ok: false, already: true };
    await audit(trx, whoFromActor(a, input.ip), { type: 'company.termination_requested', objectType: 'company_termination', objectId: made.id, data: { purgeAfter: made.purgeAfter.toISOString(), by: 'company_admin' } });
    await mailAdmins(trx, a.companyId, a.companyName, 'started', made.purgeAfter);
    return { ok: true, purgeAfter: made.purgeAfter };
  });
}

export type CancelResult = 'cancelled' | 'none' | 'too_late';

async function cancelIn(trx: Tx, companyId: string, companyName: string, now: Date, by: string): Promise<{ result: CancelResult; id?: string }> {
  const open = await trx.selectFrom('company_terminations').select(['id', 'purge_after']).where('company_id', '=', companyId).where('cancelled_at', 'is', null).forUpdate().executeTakeFirst();
  if (!open) return { result: 'none' };
  // Once the purge is due it may already be under way: too late to cancel.
  if (new Date(open.purge_after) <= now) return { result: 'too_late' };
  await trx.updateTable('company_terminations').set({ cancelled_at: now, cancelled_by: by }).where('id', '=', open.id).execute();
  await trx.updateTable('companies').set({ status: 'active' }).where('id', '=', companyId).execute();
  await mailAdmins(trx, companyId, companyName, 'cancelled', new Date(open.purge_after));
  return { result: 'cancelled', id: open.id };
}

export async function cancelTermination(deps: AppDeps, actor: Actor | undefined, ip: string): Promise<CancelResult> {
  const a = admin(actor);
  const now = deps.clock.now();
  return withTenant(deps.database, ownAccountContext(a), async (trx) => {
    const r = await cancelIn(trx, a.companyId, a.companyName, now, `company_admin:${a.employmentId}`);
    if (r.result === 'cancelled') await audit(trx, whoFromActor(a, ip), { type: 'company.termination_cancelled', objectType: 'company_termination', objectId: r.id ?? '', data: { by: 'company_admin' } });
    return r.result;
  });
}

// ---- operators (CLI) -------------------------------------------------------------------------

/** The operator's name for the records: the machine user running the CLI. */
export function operatorName(): string {
  try {
    return os.userInfo().username.slice(0, 100) || 'unknown';
  } catch {
    return 'unknown';
  }
}

export type OperatorStart = { ok: true; purgeAfter: Date; admins: number } | { ok: false; reason: 'no_company' | 'already' };

export async function unsafeStartTerminationByOperator(deps: AppDeps, companyId: string, reason: string, operator: string): Promise<OperatorStart> {
  const now = deps.clock.now();
  return unsafeSystemTransaction(deps.database, async (trx): Promise<OperatorStart> => {
    const company = await trx.selectFrom('companies').select(['id', 'name']).where('id', '=', companyId).forUpdate().executeTakeFirst();
    if (!company) return { ok: false, reason: 'no_company' };
    const made = await insertTermination(trx, companyId, now, { operator: `operator:${operator}` }, reason.trim().slice(0, 500) || null);
    if (!made) return { ok: false, reason: 'already' };
    await audit(trx, { companyId }, { type: 'company.termination_requested', objectType: 'company_termination', objectId: made.id, data: { purgeAfter: made.purgeAfter.toISOString(), by: 'operator', operator } });
    const admins = await mailAdmins(trx, companyId, company.name, 'started', made.purgeAfter);
    return { ok: true, purgeAfter: made.purgeAfter, admins };
  });
}

export async function unsafeCancelTerminationByOperator(deps: AppDeps, companyId: string, operator: string): Promise<CancelResult | 'no_company'> {
  const now = deps.clock.now();
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const company = await trx.selectFrom('companies').select(['id', 'name']).where('id', '=', companyId).executeTakeFirst();
    if (!company) return 'no_company';
    const r = await cancelIn(trx, companyId, company.name, now, `operator:${operator}`);
    if (r.result === 'cancelled') await audit(trx, { companyId }, { type: 'company.termination_cancelled', objectType: 'company_termination', objectId: r.id ?? '', data: { by: 'operator', operator } });
    return r.result;
  });
}

// ---- the daily steps (retention runner) ------------------------------------------------------

function scoped<Q extends { where: (...args: never[]) => Q }>(q: Q, opts: RetentionOptions): Q {
  if (!opts.onlyCompanyIds) return q;
  const w = q.where as unknown as (col: string, op: string, value: readonly string[]) => Q;
  return opts.onlyCompanyIds.length === 0 ? w.call(q, 'company_id', 'in', ['00000000-0000-0000-0000-000000000000']) : w.call(q, 'company_id', 'in', opts.onlyCompanyIds);
}

/** "Two days left": once per termination, when the purge is at most two days away. */
export const terminationNoticeStep: RetentionStep = {
  name: 'companies.termination-notice',
  async run(deps, opts) {
    const lines: string[] = [];
    const soon = addDays(opts.asOf, WARN_DAYS_BEFORE);
    const due = await unsafeSystemTransaction(deps.database, (trx) =>
      scoped(
        trx
          .selectFrom('company_terminations')
          .select(['id', 'company_id'])
          .where('cancelled_at', 'is', null)
          .where('warned_at', 'is', null)
          .where('purge_after', '<=', soon)
          .where('purge_after', '>', opts.asOf),
        opts,
      ).execute(),
    );
    let sent = 0;
    for (const d of due) {
      if (opts.dryRun) {
        lines.push(`company ${d.company_id}: would mail the admins that two days are left`);
        continue;
      }
      const done = await unsafeSystemTransaction(deps.database, async (trx) => {
        const t = await trx
          .selectFrom('company_terminations')
          .select(['id', 'purge_after'])
          .where('id', '=', d.id)
          .where('cancelled_at', 'is', null)
          .where('warned_at', 'is', null)
          .forUpdate()
          .executeTakeFirst();
        if (!t) return undefined;
        const company = await trx.selectFrom('companies').select('name').where('id', '=', d.company_id).executeTakeFirstOrThrow();
        await trx.updateTable('company_terminations').set({ warned_at: opts.asOf }).where('id', '=', t.id).execute();
        const admins = await mailAdmins(trx, d.company_id, company.name, 'two_days_left', new Date(t.purge_after));
        await audit(trx, { companyId: d.company_id }, { type: 'company.termination_warned', objectType: 'company_termination', objectId: t.id, data: { actor: 'system', admins } });
        return admins;
      });
      if (done !== undefined) {
        sent++;
        lines.push(`company ${d.company_id}: mailed ${done} admin(s) that two days are left`);
      }
    }
    return { purged: sent, lines };
  },
};

/** Login identities looked at and deleted per query in a company purge. */
const IDENTITY_BATCH = 1000;

export type PurgeOutcome = { companyId: string; fileChunks: number; identities: number; auditEvents: number };

/**
 * Deletes every row and file of the company and destroys its key. Callers decide eligibility
 * (the due termination, or a tombstone); safe to repeat, also half-way through.
 */
export async function unsafePurgeCompany(deps: AppDeps, companyId: string, tombstone: Tombstone, at: Date): Promise<PurgeOutcome> {
  const ring = keyringFor(deps.config);
  const store = ring.store;
  // 1. The record first: if anything below fails, start-up (reapplyTombstones) finishes it.
  await store.putTombstone({ ...tombstone, purgedAt: null });
  // 2. Unreadable everywhere from now on (this node at once, others within KEY_CACHE_SECONDS).
  await ring.destroy(companyId, at);
  // 3. File content in batches (the largest part), each in a short transaction.
  let fileChunks = 0;
  for (;;) {
    const n = await unsafeSystemTransaction(deps.database, async (trx) => {
      const batch = await trx.selectFrom('file_chunks').select(['file_id', 'seq']).where('company_id', '=', companyId).limit(CHUNK_BATCH).execute();
      if (batch.length === 0) return 0;
      const r = await trx
        .deleteFrom('file_chunks')
        .where('company_id', '=', companyId)
        .where((eb) => eb.or(batch.map((b) => eb.and([eb('file_id', '=', b.file_id), eb('seq', '=', b.seq)]))))
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    });
    fileChunks += n;
    if (n === 0) break;
  }
  // 4. Everything else in one transaction.
  const rest = await unsafePurgeTransaction(deps, async (trx) => {
    const users = await trx.selectFrom('employments').select('user_id').where('company_id', '=', companyId).where('user_id', 'is not', null).execute();
    const auditEvents = Number((await trx.deleteFrom('audit_events').where('company_id', '=', companyId).executeTakeFirst()).numDeletedRows);
    await trx.deleteFrom('document_views').where('company_id', '=', companyId).execute();
    await sql`delete from audit_chain_heads where chain = ${companyId}`.execute(trx);
    await sql`delete from audit_shipped where chain = ${companyId}`.execute(trx);
    await trx.deleteFrom('companies').where('id', '=', companyId).execute();
    // Login identities with no employment left anywhere go too (with their factors and sessions),
    // set-based in slices: one query per slice, not per person (a company can have 10,000 people).
    let identities = 0;
    const userIds = [...new Set(users.flatMap((u) => (u.user_id ? [u.user_id] : [])))];
    for (let i = 0; i < userIds.length; i += IDENTITY_BATCH) {
      const slice = userIds.slice(i, i + IDENTITY_BATCH);
      const gone = await trx
        .selectFrom('users')
        .select(['id', 'email'])
        .where('id', 'in', slice)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('employments as e').select('e.id').whereRef('e.user_id', '=', 'users.id'))))
        .execute();
      if (gone.length === 0) continue;
      await trx.deleteFrom('mail_outbox').where((eb) => eb(eb.fn('lower', ['recipient']), 'in', gone.map((u) => u.email.toLowerCase()))).execute();
      await trx.deleteFrom('login_throttle').where('subject', 'in', gone.map((u) => subjectFor(u.email))).execute();
      await trx.deleteFrom('users').where('id', 'in', gone.map((u) => u.id)).execute();
      identities += gone.length;
    }
    return { auditEvents, identities };
  });
  const finished: Tombstone = { ...tombstone, purgedAt: tombstone.purgedAt ?? at.toISOString() };
  await store.putTombstone(finished);
  await unsafeSystemTransaction(deps.database, (trx) =>
    audit(trx, { companyId: null }, { type: 'company.purged', objectType: 'company', objectId: companyId, data: { actor: 'system', fileChunks, identities: rest.identities, auditEvents: rest.auditEvents } }),
  );
  return { companyId, fileChunks, ...rest };
}

/** Day 14: purges every company whose termination is due and was not cancelled. */
export const companyPurgeStep: RetentionStep = {
  name: 'companies.purge',
  async run(deps, opts) {
    const lines: string[] = [];
    const due = await unsafeSystemTransaction(deps.database, (trx) =>
      scoped(trx.selectFrom('company_terminations').select(['id', 'company_id']).where('cancelled_at', 'is', null).where('purge_after', '<=', opts.asOf), opts).execute(),
    );
    let purged = 0;
    for (const d of due) {
      if (opts.dryRun) {
        lines.push(`company ${d.company_id}: would purge every row and file and destroy its key`);
        continue;
      }
      // Re-check inside a transaction: a cancel that committed first wins.
      const t = await unsafeSystemTransaction(deps.database, (trx) =>
        trx
          .selectFrom('company_terminations')
          .selectAll()
          .where('id', '=', d.id)
          .where('cancelled_at', 'is', null)
          .where('purge_after', '<=', opts.asOf)
          .forUpdate()
          .executeTakeFirst(),
      );
      if (!t) continue;
      const r = await unsafePurgeCompany(
        deps,
        t.company_id,
        {
          companyId: t.company_id,
          requestedAt: new Date(t.requested_at).toISOString(),
          requestedBy: t.requested_by_employment ? `company_admin:${t.requested_by_employment}` : (t.requested_by_operator ?? 'operator:unknown'),
          purgeAfter: new Date(t.purge_after).toISOString(),
          purgedAt: null,
        },
        opts.asOf,
      );
      purged++;
      lines.push(`company ${r.companyId}: purged (${r.fileChunks} file chunk(s), ${r.auditEvents} audit event(s), ${r.identities} login identit${r.identities === 1 ? 'y' : 'ies'}); key destroyed; tombstone kept`);
    }
    return { purged, lines };
  },
};

retentionSteps.push(terminationNoticeStep, companyPurgeStep);

/**
 * After restoring an old data backup: every company with a tombstone that has rows again is
 * purged again, and its key stays destroyed. Runs before the app serves requests (serve) and in
 * `samtale migrate`. Returns one line per company it purged (empty when there was nothing).
 * `onlyCompanyIds` is for tests (test files share one key store and one PostgreSQL database).
 */
export async function reapplyTombstones(deps: AppDeps, testing: { onlyCompanyIds?: readonly string[] } = {}): Promise<string[]> {
  const ring = keyringFor(deps.config);
  const lines: string[] = [];
  const only = testing.onlyCompanyIds ? new Set(testing.onlyCompanyIds) : undefined;
  const stones = (await ring.store.tombstones()).filter((s) => !only || only.has(s.companyId));
  if (stones.length === 0) return lines;
  const present = new Set(
    (
      await unsafeSystemTransaction(deps.database, (trx) =>
        trx
          .selectFrom('companies')
          .select('id')
          .where(
            'id',
            'in',
            stones.map((s) => s.companyId),
          )
          .execute(),
      )
    ).map((r) => r.id),
  );
  const now = deps.clock.now();
  for (const s of stones) {
    if (!present.has(s.companyId) && s.purgedAt) continue;
    if (!present.has(s.companyId)) {
      // A purge that stopped after the company row went: only the record is left to finish.
      await ring.destroy(s.companyId, now);
      await ring.store.putTombstone({ ...s, purgedAt: now.toISOString() });
      continue;
    }
    const r = await unsafePurgeCompany(deps, s.companyId, { ...s, reappliedAt: now.toISOString() }, now);
    await unsafeSystemTransaction(deps.database, (trx) =>
      audit(trx, { companyId: null }, { type: 'company.purge_reapplied', objectType: 'company', objectId: s.companyId, data: { actor: 'system', fileChunks: r.fileChunks, identities: r.identities } }),
    );
    lines.push(`company ${s.companyId} (purged ${s.purgedAt ?? 'before'}) was back in the database: purged again (${r.fileChunks} file chunk(s), ${r.identities} login identit${r.identities === 1 ? 'y' : 'ies'})`);
  }
  return lines;
}
