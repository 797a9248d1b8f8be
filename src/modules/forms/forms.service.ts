/**
 * Forms and versions. These functions run inside a transaction the caller opened and authorized
 * (starting a round is the dialogues service's decision); they never open one themselves.
 *
 * Design note: a version is immutable (no update grant, and a trigger refuses updates even for
 * the owner). "Editing" a form always inserts version n+1; a dialogue points at the exact
 * version it started with, so a running dialogue never changes under its participants' feet.
 */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../platform/db/context.ts';
import { audit, type AuditWho } from '../../platform/audit/audit.ts';
import { NotFoundError } from '../../platform/errors.ts';
import { BUILTIN_FORMS, findBuiltin } from './builtin.ts';
import { formDefinitionSchema, type FormDefinition } from './form-definition.ts';
import * as repo from './forms.repository.ts';

export type FormChoice = { value: string; name: string; language: string; kind: string };

/**
 * The kinds a round of individual dialogues is started with. A sickness-absence dialogue comes
 * from a sickness report, never from a round; GRUS needs group dialogues, which are not built yet,
 * so its form is not offered rather than misused as an individual dialogue.
 */
export const ROUND_KINDS: readonly string[] = ['mus', 'onboarding'];

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
