/** SQL for forms and their immutable versions. Takes the open transaction first (RLS: one company). */
import type { Tx } from '../../platform/db/context.ts';
import type { FormKind, Language } from '../../platform/db/schema.ts';

/** The company's copy of a built-in form (the company named too, not left to row-level security alone). */
export async function findFormByBuiltinKey(trx: Tx, companyId: string, key: string) {
  return trx.selectFrom('forms').select(['id', 'name', 'kind', 'language']).where('company_id', '=', companyId).where('builtin_key', '=', key).executeTakeFirst();
}

export async function findForm(trx: Tx, id: string) {
  return trx.selectFrom('forms').select(['id', 'name', 'kind', 'language', 'builtin_key']).where('id', '=', id).executeTakeFirst();
}

export async function insertForm(trx: Tx, row: { id: string; company_id: string; builtin_key: string | null; kind: FormKind; name: string; language: Language }) {
  await trx.insertInto('forms').values(row).execute();
}

/** Company-made forms (not copies of built-in ones), each with its newest version number. */
export async function listOwnForms(trx: Tx) {
  return trx
    .selectFrom('forms as f')
    .select(['f.id', 'f.name', 'f.kind', 'f.language', (eb) => eb.selectFrom('form_versions as v').select((e2) => e2.fn.max('v.version').as('n')).whereRef('v.form_id', '=', 'f.id').as('latest')])
    .where('f.builtin_key', 'is', null)
    .orderBy('f.name')
    .execute();
}

export async function latestVersion(trx: Tx, formId: string) {
  return trx.selectFrom('form_versions').select(['id', 'version', 'definition']).where('form_id', '=', formId).orderBy('version', 'desc').limit(1).executeTakeFirst();
}

export async function findVersion(trx: Tx, id: string) {
  return trx
    .selectFrom('form_versions as v')
    .innerJoin('forms as f', 'f.id', 'v.form_id')
    .select(['v.id', 'v.version', 'v.definition', 'v.form_id', 'f.name', 'f.kind', 'f.language'])
    .where('v.id', '=', id)
    .executeTakeFirst();
}

export async function insertVersion(trx: Tx, row: { id: string; company_id: string; form_id: string; version: number; definition: string }) {
  await trx.insertInto('form_versions').values(row).execute();
}

// ---------------------------------------------------------------- the builder

/** The company's own forms (not built-in copies) with their newest version and how often they were used. */
export async function listOwnFormsWithUse(trx: Tx) {
  return trx
    .selectFrom('forms as f')
    .select([
      'f.id',
      'f.name',
      'f.kind',
      'f.language',
      (eb) => eb.selectFrom('form_versions as v').select((e2) => e2.fn.max('v.version').as('n')).whereRef('v.form_id', '=', 'f.id').as('latest'),
      (eb) =>
        eb
          .selectFrom('dialogue_rounds as r')
          .innerJoin('form_versions as v', 'v.id', 'r.form_version_id')
          .select((e2) => e2.fn.countAll<string>().as('n'))
          .whereRef('v.form_id', '=', 'f.id')
          .as('rounds'),
    ])
    .where('f.builtin_key', 'is', null)
    .orderBy('f.name')
    .orderBy('f.id')
    .limit(500)
    .execute();
}

/** A company-made form, locked for the rest of the transaction (two saves run one after the other). */
export async function findOwnFormForUpdate(trx: Tx, id: string) {
  return trx.selectFrom('forms').select(['id', 'name', 'kind', 'language']).where('id', '=', id).where('builtin_key', 'is', null).forUpdate().executeTakeFirst();
}

export async function updateForm(trx: Tx, id: string, set: { name: string; language: Language }) {
  await trx.updateTable('forms').set(set).where('id', '=', id).execute();
}

/** How many rounds and dialogues use any version of the form (shown before editing). */
export async function countUse(trx: Tx, formId: string): Promise<{ rounds: number; dialogues: number }> {
  const rounds = await trx
    .selectFrom('dialogue_rounds as r')
    .innerJoin('form_versions as v', 'v.id', 'r.form_version_id')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('v.form_id', '=', formId)
    .executeTakeFirstOrThrow();
  const dialogues = await trx
    .selectFrom('dialogues as g')
    .innerJoin('form_versions as v', 'v.id', 'g.form_version_id')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('v.form_id', '=', formId)
    .executeTakeFirstOrThrow();
  return { rounds: Number(rounds.n), dialogues: Number(dialogues.n) };
}

/** Whether the employment holds `configuration` on any department (forms are company-wide). */
export async function holdsConfiguration(trx: Tx, employmentId: string): Promise<boolean> {
  const row = await trx.selectFrom('delegations').select('id').where('employment_id', '=', employmentId).where('responsibility', '=', 'configuration').limit(1).executeTakeFirst();
  return row !== undefined;
}
