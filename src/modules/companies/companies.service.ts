/**
 * Operator tooling: creating companies and platform staff. These reach across tenants, so they
 * run in unsafeSystemTransaction and are called only from the CLI and the demo seed.
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../platform/deps.ts';
import { unsafeSystemTransaction, type Tx } from '../../platform/db/context.ts';
import type { Language, StaffRole } from '../../platform/db/schema.ts';
import { randomPassword } from '../../platform/auth/passwords.ts';
import { audit } from '../../platform/audit/audit.ts';
import { ValidationError } from '../../platform/errors.ts';

export type NewCompany = { name: string; adminName: string; adminEmail: string; language?: Language };

export async function unsafeCreateCompany(deps: AppDeps, input: NewCompany) {
  const password = randomPassword(20);
  const passwordHash = await deps.hasher.hash(password);
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const ids = await unsafeInsertCompany(trx, input, passwordHash);
    await audit(trx, { companyId: ids.companyId }, { type: 'company.created', objectType: 'company', objectId: ids.companyId });
    return { ...ids, password };
  });
}

export async function unsafeInsertCompany(trx: Tx, input: NewCompany, passwordHash: string) {
  const email = input.adminEmail.trim().toLowerCase();
  const existing = await trx.selectFrom('users').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', email)).executeTakeFirst();
  if (existing) throw new ValidationError('email_taken', { adminEmail: 'email_taken' });
  const companyId = randomUUID();
  const rootDepartmentId = randomUUID();
  const userId = randomUUID();
  const employmentId = randomUUID();
  const language = input.language ?? 'da';
  await trx.insertInto('companies').values({ id: companyId, name: input.name, default_language: language }).execute();
  await trx.insertInto('departments').values({ id: rootDepartmentId, company_id: companyId, parent_id: null, name: input.name, owner_employment_id: null }).execute();
  await trx.insertInto('users').values({ id: userId, email, name: input.adminName, password_hash: passwordHash, disabled_at: null }).execute();
  await trx
    .insertInto('employments')
    .values({ id: employmentId, company_id: companyId, user_id: userId, role: 'company_admin', language, title: 'HR', team_id: null, department_id: rootDepartmentId, fired_at: null, fired_by: null })
    .execute();
  return { companyId, rootDepartmentId, userId, employmentId };
}

export async function unsafeCreateStaff(deps: AppDeps, input: { email: string; name: string; role: StaffRole }) {
  // M2: staff passwords are at least 16 characters; generated ones are 24.
  const password = randomPassword(24);
  const passwordHash = await deps.hasher.hash(password);
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const email = input.email.trim().toLowerCase();
    const clash = await trx.selectFrom('staff_accounts').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', email)).executeTakeFirst();
    const userClash = await trx.selectFrom('users').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', email)).executeTakeFirst();
    if (clash || userClash) throw new ValidationError('email_taken', { email: 'email_taken' });
    const id = randomUUID();
    await trx.insertInto('staff_accounts').values({ id, email, name: input.name, role: input.role, password_hash: passwordHash, disabled_at: null }).execute();
    await audit(trx, { companyId: null, actorStaffId: id }, { type: 'staff.created', objectType: 'staff', objectId: id, data: { role: input.role } });
    return { id, password };
  });
}

/**
 * Switches a platform staff account off (someone left, or the account is suspected stolen): no
 * login from now on, and every session and half-finished login of the account ends at once.
 * Returns false when no such account exists.
 */
export async function unsafeDisableStaff(deps: AppDeps, email: string): Promise<boolean> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const staff = await trx
      .updateTable('staff_accounts')
      .set({ disabled_at: deps.clock.now() })
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .returning('id')
      .executeTakeFirst();
    if (!staff) return false;
    const ended = await trx.deleteFrom('sessions').where('staff_id', '=', staff.id).executeTakeFirst();
    await trx.deleteFrom('pending_logins').where('staff_id', '=', staff.id).execute();
    await audit(trx, { companyId: null, actorStaffId: staff.id }, { type: 'staff.disabled', objectType: 'staff', objectId: staff.id, data: { sessionsEnded: Number(ended.numDeletedRows) } });
    return true;
  });
}

export async function unsafeCountCompanies(deps: AppDeps): Promise<number> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const row = await trx.selectFrom('companies').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  });
}
