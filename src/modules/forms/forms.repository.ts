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
