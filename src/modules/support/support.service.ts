/**
 * Support access by the customer's consent (issue 5; M13, M19, P4).
 *
 * A company admin ticks "Allow Samtale support to access our data" with a reason and an expiry
 * (default 24 hours, at most 7 days), and optionally a second tick "support may also make
 * changes". Giving and withdrawing both need the admin's second factor again (an app code, or a
 * passkey); an admin without one is asked to set it up first. A wrong factor counts towards the
 * M7 block like a failed login.
 *
 * The database enforces it (migrations/012_support_consent.sql): app_company_id() answers a
 * company to a staff transaction only while a consent row for it is open and unexpired, so every
 * tenant policy admits support exactly then. Withdrawing closes the row, and the very next query
 * of an open support session sees nothing.
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../platform/deps.ts';
import type { Actor, StaffActor, UserActor } from '../../platform/auth/actor.ts';
import { withSupport, withTenant, type Tx } from '../../platform/db/context.ts';
import { listViewers, recordView, type Viewer } from '../../platform/audit/views.ts';
import { findDialogue, listDialoguesExceptSickness, readAgreements, readAnswers, readDisagreement, readNotes, type AgreementRow, type DialogueRow, type StoredAnswer } from '../dialogues/dialogues.repository.ts';
import { getVersion } from '../forms/forms.service.ts';
import { audit, whoFromActor } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { ownAccountContext } from '../../platform/auth/own-account.ts';
import { checkThrottle, recordFailure, subjectFor } from '../../platform/auth/throttle.ts';
import { afterBlocksStarted, firstNameOf } from '../../platform/auth/login-notices.ts';
import { enqueueMail } from '../../platform/mail/mail.ts';
import type { RelyingParty } from '../../platform/auth/webauthn.ts';
import { confirmSecondFactor, reauthFactor, type ReauthFactor } from '../twofactor/passkeys.service.ts';
import { ownerOf } from '../twofactor/twofactor.policy.ts';

export const DEFAULT_HOURS = 24;
export const MAX_HOURS = 7 * 24;

export type Consent = {
  id: string;
  reason: string;
  allowEdit: boolean;
  grantedAt: Date;
  expiresAt: Date;
  withdrawnAt: Date | null;
  grantedByName: string | null;
  /** Open, not withdrawn and not expired at the clock's now. */
  active: boolean;
};

export type ConsentPage = { current: Consent | undefined; history: Consent[]; factor: ReauthFactor };

export function mayManageSupportConsent(actor: Actor | undefined): actor is UserActor {
  return actor?.kind === 'user' && actor.role === 'company_admin';
}

function admin(actor: Actor | undefined): UserActor {
  if (!mayManageSupportConsent(actor)) throw new NotFoundError();
  return actor;
}

async function consents(trx: Tx, companyId: string, now: Date): Promise<Consent[]> {
  const rows = await trx
    .selectFrom('support_consents as c')
    .leftJoin('employments as e', 'e.id', 'c.granted_by')
    .leftJoin('users as u', 'u.id', 'e.user_id')
    .select(['c.id', 'c.reason', 'c.allow_edit', 'c.granted_at', 'c.expires_at', 'c.withdrawn_at', 'u.name'])
    .where('c.company_id', '=', companyId)
    .orderBy('c.granted_at', 'desc')
    .limit(20)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    reason: r.reason,
    allowEdit: r.allow_edit,
    grantedAt: new Date(r.granted_at),
    expiresAt: new Date(r.expires_at),
    withdrawnAt: r.withdrawn_at ? new Date(r.withdrawn_at) : null,
    grantedByName: r.name ?? null,
    active: r.withdrawn_at === null && new Date(r.expires_at) > now,
  }));
}

export async function getConsentPage(deps: AppDeps, actor: Actor | undefined): Promise<ConsentPage> {
  const a = admin(actor);
  const now = deps.clock.now();
  return withTenant(deps.database, { companyId: a.companyId, userId: a.userId }, async (trx) => {
    const all = await consents(trx, a.companyId, now);
    return { current: all.find((c) => c.active), history: all, factor: await reauthFactor(trx, ownerOf(a)) };
  });
}

export type ConsentInput = {
  reason: string;
  hours: number;
  allowEdit: boolean;
  code: string;
  passkeyResponse: string;
  rp: RelyingParty;
  source: string;
  ip: string;
};
export type ConsentErrors = { allow?: 'required'; reason?: 'required' | 'tooLong'; hours?: 'range'; code?: 'required' | 'wrong' | 'needFactor' };
export type ConsentResult = { ok: true } | { ok: false; errors: ConsentErrors };

/** Tells every company admin by e-mail (first name, company, time; a link to this page). */
async function mailAdmins(trx: Tx, companyId: string, companyName: string, change: 'given' | 'used' | 'withdrawn', at: Date, until?: Date): Promise<void> {
  const admins = await trx
    .selectFrom('employments as e')
    .innerJoin('users as u', 'u.id', 'e.user_id')
    .select(['e.id', 'u.email', 'u.name', 'e.language'])
    .where('e.company_id', '=', companyId)
    .where('e.role', '=', 'company_admin')
    .where('e.fired_at', 'is', null)
    .execute();
  for (const admin of admins) {
    // Mirrored in the app (issue 8).
    await trx
      .insertInto('notifications')
      .values({ id: randomUUID(), company_id: companyId, employment_id: admin.id, reminder: 'support_access', deadline: null, path: '/org/settings/support', created_at: at, digested_at: at })
      .execute();
    await enqueueMail(trx, {
      to: admin.email,
      lang: admin.language,
      template: 'support_access',
      companyId,
      model: { firstName: firstNameOf(admin.name), companyName, change, at, until, path: '/org/settings/support' },
    });
  }
}

/** Checks the admin's second factor; a wrong one counts towards M7. Returns an error or undefined. */
async function secondFactorProblem(trx: Tx, deps: AppDeps, a: UserActor, input: Pick<ConsentInput, 'code' | 'passkeyResponse' | 'rp' | 'source' | 'ip'>): Promise<ConsentErrors['code']> {
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
  await audit(trx, who, { type: 'auth.second_factor.failed', data: { step: 'support_consent' } });
  const started = await recordFailure(trx, subject, input.source, throttle.knownSource, now);
  await afterBlocksStarted(trx, { owner, subject, started, who, now, lookupEmail: a.email.toLowerCase() });
  return 'wrong';
}

export async function giveConsent(deps: AppDeps, actor: Actor | undefined, input: ConsentInput): Promise<ConsentResult> {
  const a = admin(actor);
  const errors: ConsentErrors = {};
  const reason = input.reason.trim();
  if (reason === '') errors.reason = 'required';
  else if (reason.length > 500) errors.reason = 'tooLong';
  if (!Number.isInteger(input.hours) || input.hours < 1 || input.hours > MAX_HOURS) errors.hours = 'range';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const now = deps.clock.now();
  const problem = await withTenant(deps.database, ownAccountContext(a), async (trx) => {
    const p = await secondFactorProblem(trx, deps, a, input);
    if (p) return p;
    // One open consent at a time: a new one replaces the previous one.
    await trx.updateTable('support_consents').set({ withdrawn_at: now, withdrawn_by: a.employmentId }).where('company_id', '=', a.companyId).where('withdrawn_at', 'is', null).execute();
    const id = randomUUID();
    const expiresAt = new Date(now.getTime() + input.hours * 3600_000);
    await trx
      .insertInto('support_consents')
      .values({ id, company_id: a.companyId, granted_by: a.employmentId, reason, allow_edit: input.allowEdit, granted_at: now, expires_at: expiresAt })
      .execute();
    await audit(trx, whoFromActor(a, input.ip), { type: 'support.consent_given', objectType: 'support_consent', objectId: id, data: { hours: input.hours, allowEdit: input.allowEdit } });
    await mailAdmins(trx, a.companyId, a.companyName, 'given', now, expiresAt);
    return undefined;
  });
  return problem ? { ok: false, errors: { code: problem } } : { ok: true };
}

export async function withdrawConsent(deps: AppDeps, actor: Actor | undefined, input: Pick<ConsentInput, 'code' | 'passkeyResponse' | 'rp' | 'source' | 'ip'>): Promise<ConsentResult> {
  const a = admin(actor);
  const now = deps.clock.now();
  const problem = await withTenant(deps.database, ownAccountContext(a), async (trx) => {
    const p = await secondFactorProblem(trx, deps, a, input);
    if (p) return p;
    const closed = await trx
      .updateTable('support_consents')
      .set({ withdrawn_at: now, withdrawn_by: a.employmentId })
      .where('company_id', '=', a.companyId)
      .where('withdrawn_at', 'is', null)
      .returning('id')
      .execute();
    for (const c of closed) await audit(trx, whoFromActor(a, input.ip), { type: 'support.consent_withdrawn', objectType: 'support_consent', objectId: c.id });
    if (closed.length > 0) await mailAdmins(trx, a.companyId, a.companyName, 'withdrawn', now);
    return undefined;
  });
  return problem ? { ok: false, errors: { code: problem } } : { ok: true };
}

/** For the staff's company list: which companies support may enter now, and until when. */
export async function activeConsentsForStaff(trx: Tx, now: Date): Promise<Map<string, { expiresAt: Date; allowEdit: boolean }>> {
  const rows = await trx
    .selectFrom('support_consents')
    .select(['company_id', 'expires_at', 'allow_edit'])
    .where('withdrawn_at', 'is', null)
    .where('expires_at', '>', now)
    .execute();
  return new Map(rows.map((r) => [r.company_id, { expiresAt: new Date(r.expires_at), allowEdit: r.allow_edit }]));
}

// ---- Support staff inside a company -------------------------------------------------------------

/** The transaction context of support inside a company: admitted by the database only with consent. */
export function supportContext(actor: StaffActor, companyId: string, now: Date) {
  return { staffId: actor.staffId, companyId, now };
}

/**
 * Support enters a company whose consent is open: the session carries the company from now on
 * (checked again on every request). The first entry under a consent tells the company's admins.
 * Without an open consent the company is not found (404), exactly as if it did not exist.
 */
export async function enterCompany(deps: AppDeps, actor: StaffActor, companyId: string, ip: string): Promise<void> {
  const now = deps.clock.now();
  await withSupport(deps.database, supportContext(actor, companyId, now), async (trx) => {
    const consent = await trx
      .selectFrom('support_consents as c')
      .innerJoin('companies as co', 'co.id', 'c.company_id')
      .select(['c.id', 'c.first_used_at', 'co.name'])
      .where('c.company_id', '=', companyId)
      .where('c.withdrawn_at', 'is', null)
      .where('c.expires_at', '>', now)
      .executeTakeFirst();
    if (!consent) throw new NotFoundError();
    await trx.updateTable('sessions').set({ company_id: companyId }).where('id', '=', actor.sessionId).execute();
    await audit(trx, { companyId, actorStaffId: actor.staffId, ip }, { type: 'support.entered', objectType: 'support_consent', objectId: consent.id });
    if (!consent.first_used_at) {
      await trx.updateTable('support_consents').set({ first_used_at: now }).where('id', '=', consent.id).execute();
      await mailAdmins(trx, companyId, consent.name, 'used', now);
    }
  });
}

export async function leaveCompany(deps: AppDeps, actor: StaffActor, ip: string): Promise<void> {
  const now = deps.clock.now();
  const companyId = actor.support?.companyId;
  // Recorded on the platform's chain: the consent may already have ended.
  await withTenant(deps.database, { staffId: actor.staffId, now }, async (trx) => {
    if (companyId) await audit(trx, { companyId: null, actorStaffId: actor.staffId, ip }, { type: 'support.left', objectType: 'company', objectId: companyId });
    await trx.updateTable('sessions').set({ company_id: null }).where('id', '=', actor.sessionId).execute();
  });
}

export type SupportOverview = {
  departments: { id: string; name: string; parentId: string | null }[];
  teams: { id: string; name: string; departmentId: string }[];
  people: { name: string; title: string | null; role: string; teamId: string | null; fired: boolean }[];
};

/** The company's organisation, read-only, for support with consent; the read is audited. */
export async function supportOverview(deps: AppDeps, actor: StaffActor, ip: string): Promise<SupportOverview> {
  const support = actor.support;
  if (!support) throw new NotFoundError();
  const now = deps.clock.now();
  return withSupport(deps.database, supportContext(actor, support.companyId, now), async (trx) => {
    const departments = await trx.selectFrom('departments').select(['id', 'name', 'parent_id']).orderBy('name').execute();
    // The database admits nothing once consent has ended: answer as if the company were gone.
    if (departments.length === 0) throw new NotFoundError();
    const teams = await trx.selectFrom('teams').select(['id', 'name', 'department_id']).orderBy('name').execute();
    const people = await trx
      .selectFrom('employments as e')
      .innerJoin('users as u', 'u.id', 'e.user_id')
      .select(['u.name', 'e.title', 'e.role', 'e.team_id', 'e.fired_at'])
      .orderBy('u.name')
      .execute();
    await audit(trx, { companyId: support.companyId, actorStaffId: actor.staffId, ip }, { type: 'support.viewed', data: { page: 'organisation' } });
    return {
      departments: departments.map((d) => ({ id: d.id, name: d.name, parentId: d.parent_id })),
      teams: teams.map((t) => ({ id: t.id, name: t.name, departmentId: t.department_id })),
      people: people.map((p) => ({ name: p.name, title: p.title, role: p.role, teamId: p.team_id, fired: p.fired_at !== null })),
    };
  });
}

export type SupportActivity = { at: Date; eventType: string; page: string | null }[];

/** For company admins: what support did in the company (every support read and write is audited). */
export async function supportActivity(deps: AppDeps, actor: Actor | undefined): Promise<SupportActivity> {
  const a = admin(actor);
  return withTenant(deps.database, { companyId: a.companyId, userId: a.userId }, async (trx) => {
    const rows = await trx
      .selectFrom('audit_events')
      .select(['created_at', 'event_type', 'data'])
      .where('company_id', '=', a.companyId)
      .where('actor_staff_id', 'is not', null)
      .orderBy('id', 'desc')
      .limit(200)
      .execute();
    return rows.map((r) => {
      const data = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Record<string, unknown>;
      return { at: new Date(r.created_at), eventType: r.event_type, page: typeof data.page === 'string' ? data.page : null };
    });
  });
}

export type SupportDialogueRow = { id: string; state: string; roundName: string | null; formName: string; employeeName: string; leaderName: string };

/** The company's dialogues for support with consent (read-only, no sickness-absence ones; the read is audited). */
export async function supportDialogues(deps: AppDeps, actor: StaffActor, ip: string): Promise<SupportDialogueRow[]> {
  const support = actor.support;
  if (!support) throw new NotFoundError();
  return withSupport(deps.database, supportContext(actor, support.companyId, deps.clock.now()), async (trx) => {
    // Sickness-absence dialogues are health data: support never sees them, not even listed.
    const rows = await listDialoguesExceptSickness(trx, 500);
    await audit(trx, { companyId: support.companyId, actorStaffId: actor.staffId, ip }, { type: 'support.viewed', data: { page: 'dialogues' } });
    return rows.map((r) => ({ id: r.id, state: r.state, roundName: r.round_name, formName: r.form_name, employeeName: r.employee_name, leaderName: r.leader_name }));
  });
}

export type SupportDialogue = {
  dialogue: DialogueRow;
  form: Awaited<ReturnType<typeof getVersion>>;
  answers: StoredAnswer[];
  notes: string;
  agreements: AgreementRow[];
  disagreement: string | null;
  viewers: Viewer[];
};

/**
 * One dialogue for support with consent, read-only: the read writes its "viewed by" row (shown
 * to everyone who opens the dialogue, marked as support) and an audit event, in the same
 * transaction.
 */
export async function supportDialogue(deps: AppDeps, actor: StaffActor, id: string, ip: string): Promise<SupportDialogue> {
  const support = actor.support;
  if (!support) throw new NotFoundError();
  const now = deps.clock.now();
  return withSupport(deps.database, supportContext(actor, support.companyId, now), async (trx) => {
    const d = await findDialogue(trx, id);
    if (!d || d.form_kind === 'sickness') throw new NotFoundError();
    await recordView(trx, { companyId: support.companyId, objectType: 'dialogue', objectId: d.id, viewer: { staffId: actor.staffId }, role: 'support', at: now });
    await audit(trx, { companyId: support.companyId, actorStaffId: actor.staffId, ip }, { type: 'support.viewed', objectType: 'dialogue', objectId: d.id, data: { page: 'dialogue' } });
    return {
      dialogue: d,
      form: await getVersion(trx, d.form_version_id),
      answers: await readAnswers(trx, d.id),
      notes: (await readNotes(trx, d.id)).text,
      agreements: await readAgreements(trx, d.id),
      disagreement: await readDisagreement(trx, d.id),
      viewers: await listViewers(trx, 'dialogue', d.id),
    };
  });
}
