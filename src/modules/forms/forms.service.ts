/**
 * Forms and versions. These functions run inside a transaction the caller opened and authorized
 * (starting a round is the dialogues service's decision); they never open one themselves.
 *
 * Design note: a version is immutable (no update grant, and a trigger refuses updates even for
 * the owner). "Editing" a form always inserts version n+1; a dialogue points at the exact
 * version it started with, so a running dialogue never changes under its participants' feet.
 */
import { randomUUID } from 'node:crypto';
import { withTenant, type Tx } from '../../platform/db/context.ts';
import type { AppDeps } from '../../platform/deps.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import type { FormKind, Language } from '../../platform/db/schema.ts';
import { audit, whoFromActor, type AuditWho } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { BUILTIN_FORMS, findBuiltin } from './builtin.ts';
import { formDefinitionSchema, type FormDefinition } from './form-definition.ts';
import * as repo from './forms.repository.ts';
import { BUILDER_KINDS, draftFromDefinition, validateDraft, type Draft, type DraftErrors } from './forms.builder.ts';

export type FormChoice = { value: string; name: string; language: string; kind: string };

/**
 * The kinds a round is started with: individual dialogues (MUS, onboarding) and group dialogues
 * (GRUS, one per team). A sickness-absence dialogue comes from a sickness report, never from a
 * round.
 */
export const ROUND_KINDS: readonly string[] = ['mus', 'onboarding', 'grus'];

/** What a round can be started with: the built-in forms, then the company's own forms. */
export async function listFormChoices(trx: Tx): Promise<FormChoice[]> {
  const own = await repo.listOwnForms(trx);
  return [
    ...BUILTIN_FORMS.map((f) => ({ value: `builtin:${f.key}`, name: f.name, language: f.language, kind: f.kind })),
    ...own.filter((f) => f.latest !== null).map((f) => ({ value: f.id, name: f.name, language: f.language, kind: f.kind })),
  ].filter((f) => ROUND_KINDS.includes(f.kind));
}

/**
 * The newest version of a built-in form in this company, copying it in on first use (and storing
 * a new version when the code's definition has a higher version than the company's copy).
 */
export async function ensureBuiltinVersion(trx: Tx, who: AuditWho & { companyId: string }, key: string, at: Date): Promise<string> {
  const builtin = findBuiltin(key);
  if (!builtin) throw new NotFoundError();
  let form = await repo.findFormByBuiltinKey(trx, who.companyId, key);
  if (!form) {
    const id = randomUUID();
    await repo.insertForm(trx, { id, company_id: who.companyId, builtin_key: key, kind: builtin.kind, name: builtin.name, language: builtin.language });
    form = { id, name: builtin.name, kind: builtin.kind, language: builtin.language };
  }
  const latest = await repo.latestVersion(trx, form.id);
  if (latest && latest.version >= builtin.version) return latest.id;
  return createFormVersion(trx, who, form.id, builtin.definition, at, builtin.version);
}

/** The one way to change a form: a new immutable version. */
export async function createFormVersion(trx: Tx, who: AuditWho & { companyId: string }, formId: string, definition: FormDefinition, at: Date, atLeast = 1): Promise<string> {
  const parsed = formDefinitionSchema.parse(definition);
  const latest = await repo.latestVersion(trx, formId);
  const version = Math.max(atLeast, (latest?.version ?? 0) + 1);
  const id = randomUUID();
  await repo.insertVersion(trx, { id, company_id: who.companyId, form_id: formId, version, definition: JSON.stringify(parsed) });
  await audit(trx, who, { type: 'forms.version.created', objectType: 'form_version', objectId: id, data: { formId, version } }, at);
  return id;
}

/** Resolves a choice from the round form ("builtin:key" or a form id) to a version id, or undefined. */
export async function versionForChoice(trx: Tx, who: AuditWho & { companyId: string }, choice: string, at: Date): Promise<string | undefined> {
  if (choice.startsWith('builtin:')) {
    const builtin = findBuiltin(choice.slice('builtin:'.length));
    return builtin && ROUND_KINDS.includes(builtin.kind) ? ensureBuiltinVersion(trx, who, builtin.key, at) : undefined;
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(choice)) return undefined;
  const form = await repo.findForm(trx, choice);
  if (!form || !ROUND_KINDS.includes(form.kind)) return undefined;
  return (await repo.latestVersion(trx, form.id))?.id;
}

export type LoadedVersion = { id: string; version: number; formId: string; name: string; kind: string; language: string; definition: FormDefinition };

export async function getVersion(trx: Tx, id: string): Promise<LoadedVersion> {
  const v = await repo.findVersion(trx, id);
  if (!v) throw new NotFoundError();
  return { id: v.id, version: v.version, formId: v.form_id, name: v.name, kind: v.kind, language: v.language, definition: formDefinitionSchema.parse(v.definition) };
}

// ---------------------------------------------------------------- the builder (issue 4)
//
// Who: a company admin, or an employee holding `configuration` on any department (forms belong
// to the whole company, so the delegation's department does not narrow them). Everyone else gets
// "not found". Built-in forms are templates: read-only, copied into a company form to change.

export type FormsCtx = { deps: AppDeps; actor: UserActor; ip: string };

async function authorizeForms(trx: Tx, ctx: FormsCtx): Promise<void> {
  if (ctx.actor.role === 'company_admin') return;
  if (await repo.holdsConfiguration(trx, ctx.actor.employmentId)) return;
  throw new NotFoundError();
}

function runForms<T>(ctx: FormsCtx, fn: (trx: Tx) => Promise<T>): Promise<T> {
  return withTenant(ctx.deps.database, { companyId: ctx.actor.companyId, userId: ctx.actor.userId }, async (trx) => {
    await authorizeForms(trx, ctx);
    return fn(trx);
  });
}

const whoOf = (ctx: FormsCtx) => ({ ...whoFromActor(ctx.actor, ctx.ip), companyId: ctx.actor.companyId });

/** Whether the actor may use the builder at all (for links; the routes check again). */
export async function mayBuildForms(ctx: FormsCtx): Promise<boolean> {
  try {
    await runForms(ctx, async () => undefined);
    return true;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}

export async function listFormsPage(ctx: FormsCtx) {
  return runForms(ctx, async (trx) => ({
    own: (await repo.listOwnFormsWithUse(trx)).map((f) => ({ id: f.id, name: f.name, kind: f.kind, language: f.language, latest: f.latest === null ? null : Number(f.latest), rounds: Number(f.rounds ?? 0) })),
    builtins: BUILTIN_FORMS.map((f) => ({ key: f.key, name: f.name, kind: f.kind, language: f.language, questions: f.definition.sections.reduce((n, s) => n + s.questions.length, 0) })),
  }));
}

export type EditorData = { draft: Draft; use: { rounds: number; dialogues: number }; latest: number };

/** The newest version of a company form as an editing draft. */
export async function getEditor(ctx: FormsCtx, formId: string): Promise<EditorData> {
  return runForms(ctx, async (trx) => {
    const form = await repo.findForm(trx, formId);
    if (!form || form.builtin_key !== null) throw new NotFoundError();
    const latest = await repo.latestVersion(trx, form.id);
    if (!latest) throw new NotFoundError();
    const definition = formDefinitionSchema.parse(latest.definition);
    return {
      draft: draftFromDefinition(definition, { formId: form.id, baseVersion: latest.version, name: form.name, kind: form.kind, language: form.language }),
      use: await repo.countUse(trx, form.id),
      latest: latest.version,
    };
  });
}

/** Use counts of a form for the editor's notice (also for a re-rendered draft). */
export async function getUse(ctx: FormsCtx, formId: string): Promise<{ use: { rounds: number; dialogues: number }; latest: number }> {
  return runForms(ctx, async (trx) => {
    const form = await repo.findForm(trx, formId);
    if (!form || form.builtin_key !== null) throw new NotFoundError();
    return { use: await repo.countUse(trx, form.id), latest: (await repo.latestVersion(trx, form.id))?.version ?? 0 };
  });
}

export type SaveOutcome =
  | { ok: true; formId: string; version: number; newVersion: boolean }
  | { ok: false; reason: 'invalid'; errors: DraftErrors }
  | { ok: false; reason: 'conflict'; latest: number };

/**
 * Saves a draft: a new form with version 1, or the next version of an existing one. A draft
 * based on an older version than the newest is refused (someone saved in between) so nobody
 * overwrites a colleague's questions unseen; the caller shows the draft again with the newest
 * version as its base. A definition equal to the newest one stores no new version.
 */
export async function saveDraft(ctx: FormsCtx, draft: Draft): Promise<SaveOutcome> {
  const now = ctx.deps.clock.now();
  return runForms(ctx, async (trx) => {
    if (draft.formId === '') {
      const checked = validateDraft(draft);
      if (!checked.ok) return { ok: false, reason: 'invalid', errors: checked.errors };
      const id = randomUUID();
      await repo.insertForm(trx, { id, company_id: ctx.actor.companyId, builtin_key: null, kind: checked.kind as FormKind, name: checked.name, language: checked.language as Language });
      await audit(trx, whoOf(ctx), { type: 'forms.created', objectType: 'form', objectId: id, data: { kind: checked.kind, language: checked.language } }, now);
      await createFormVersion(trx, whoOf(ctx), id, checked.definition, now);
      return { ok: true, formId: id, version: 1, newVersion: true };
    }
    const form = await repo.findOwnFormForUpdate(trx, draft.formId);
    if (!form) throw new NotFoundError();
    const latest = await repo.latestVersion(trx, form.id);
    const previous = latest ? formDefinitionSchema.parse(latest.definition) : undefined;
    // The kind is fixed once the form exists (it decides who may read its dialogues).
    const checked = validateDraft({ ...draft, kind: form.kind }, previous);
    if (!checked.ok) return { ok: false, reason: 'invalid', errors: checked.errors };
    if (latest && String(latest.version) !== draft.baseVersion) return { ok: false, reason: 'conflict', latest: latest.version };
    if (checked.name !== form.name || checked.language !== form.language) {
      await repo.updateForm(trx, form.id, { name: checked.name, language: checked.language as Language });
      await audit(trx, whoOf(ctx), { type: 'forms.updated', objectType: 'form', objectId: form.id, data: { language: checked.language, renamed: checked.name !== form.name } }, now);
    }
    if (previous && sameDefinition(previous, checked.definition)) return { ok: true, formId: form.id, version: latest?.version ?? 1, newVersion: false };
    await createFormVersion(trx, whoOf(ctx), form.id, checked.definition, now);
    return { ok: true, formId: form.id, version: (latest?.version ?? 0) + 1, newVersion: true };
  });
}

function sameDefinition(a: FormDefinition, b: FormDefinition): boolean {
  return JSON.stringify(formDefinitionSchema.parse(a)) === JSON.stringify(formDefinitionSchema.parse(b));
}

/** Copies a built-in template into a new company form (version 1), named "Copy of ...". */
export async function copyBuiltin(ctx: FormsCtx, key: string, name: string): Promise<string> {
  const builtin = findBuiltin(key);
  if (!builtin) throw new NotFoundError();
  const now = ctx.deps.clock.now();
  return runForms(ctx, async (trx) => {
    const id = randomUUID();
    // Sickness and GRUS templates are copied as MUS forms: the builder makes forms for rounds.
    const kind: FormKind = (BUILDER_KINDS as readonly string[]).includes(builtin.kind) ? builtin.kind : 'mus';
    await repo.insertForm(trx, { id, company_id: ctx.actor.companyId, builtin_key: null, kind, name: name.slice(0, 200), language: builtin.language });
    await audit(trx, whoOf(ctx), { type: 'forms.created', objectType: 'form', objectId: id, data: { kind, language: builtin.language, copiedFrom: builtin.key } }, now);
    await createFormVersion(trx, whoOf(ctx), id, builtin.definition, now);
    return id;
  });
}
