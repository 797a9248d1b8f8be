/**
 * Each test makes its own company with this factory, so tests need no cleanup and can share one
 * database. Rows are inserted as the system role (operator tooling), never through mocks.
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../src/platform/deps.ts';
import { sql } from 'kysely';
import { unsafeSystemTransaction } from '../../src/platform/db/context.ts';
import { hashRecoveryCode, newRecoveryCodes, newTotpSecret } from '../../src/platform/auth/totp.ts';
import type { EmploymentRole, Responsibility, StaffRole } from '../../src/platform/db/schema.ts';

/** One password for every fixture account; hashed once per process (Argon2 is slow on purpose). */
export const PASSWORD = 'correct horse battery staple 42';
let hashPromise: Promise<string> | undefined;
const passwordHash = (deps: AppDeps) => (hashPromise ??= deps.hasher.hash(PASSWORD));

export type Person = { userId: string; employmentId: string; email: string; name: string };

export type CompanyFixture = {
  companyId: string;
  name: string;
  rootDepartmentId: string;
  departmentId: string;
  subDepartmentId: string;
  /** An empty department below subDepartmentId. */
  leafDepartmentId: string;
  teamId: string;
  otherTeamId: string;
  admin: Person;
  leader: Person;
  employee: Person;
  colleague: Person;
  delegate: Person;
  /** An employee in the other team, inside the delegate's subtree. */
  member: Person;
  delegationId: string;
};

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}${randomUUID().slice(0, 6)}`;

/**
 * Company > Department (owned by leader) > Sub-department; Team (in department, inherits leader)
 * with employee and colleague; Other team (in sub-department). The delegate is an employee of
 * the other team with manage_organisation_department on the sub-department.
 */
export async function createCompany(deps: AppDeps, opts: { name?: string } = {}): Promise<CompanyFixture> {
  const hash = await passwordHash(deps);
  const tag = unique();
  const companyId = randomUUID();
  const name = opts.name ?? `Firma ${tag}`;
  const rootDepartmentId = randomUUID();
  const departmentId = randomUUID();
  const subDepartmentId = randomUUID();
  const leafDepartmentId = randomUUID();
  const delegationId = randomUUID();
  const teamId = randomUUID();
  const otherTeamId = randomUUID();
  const person = (label: string): Person => ({ userId: randomUUID(), employmentId: randomUUID(), email: `${label}-${tag}@test.example`, name: `${label} ${tag}` });
  const f: CompanyFixture = {
    companyId,
    name,
    rootDepartmentId,
    departmentId,
    subDepartmentId,
    leafDepartmentId,
    teamId,
    otherTeamId,
    admin: person('admin'),
    leader: person('leader'),
    employee: person('employee'),
    colleague: person('colleague'),
    delegate: person('delegate'),
    member: person('member'),
    delegationId,
  };
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await trx.insertInto('companies').values({ id: companyId, name }).execute();
    await trx
      .insertInto('departments')
      .values([
        { id: rootDepartmentId, company_id: companyId, parent_id: null, name, owner_employment_id: null },
        { id: departmentId, company_id: companyId, parent_id: rootDepartmentId, name: `Afdeling ${tag}`, owner_employment_id: null },
        { id: subDepartmentId, company_id: companyId, parent_id: departmentId, name: `Underafdeling ${tag}`, owner_employment_id: null },
        { id: leafDepartmentId, company_id: companyId, parent_id: subDepartmentId, name: `Tom afdeling ${tag}`, owner_employment_id: null },
      ])
      .execute();
    await trx
      .insertInto('teams')
      .values([
        { id: teamId, company_id: companyId, department_id: departmentId, name: `Team ${tag}`, owner_employment_id: null },
        { id: otherTeamId, company_id: companyId, department_id: subDepartmentId, name: `Andet team ${tag}`, owner_employment_id: null },
      ])
      .execute();
    const rows: [Person, EmploymentRole, string | null, string | null][] = [
      [f.admin, 'company_admin', null, rootDepartmentId],
      [f.leader, 'leader', null, departmentId],
      [f.employee, 'employee', teamId, null],
      [f.colleague, 'employee', teamId, null],
      [f.delegate, 'employee', otherTeamId, null],
      [f.member, 'employee', otherTeamId, null],
    ];
    for (const [p, role, team, dept] of rows) {
      await trx.insertInto('users').values({ id: p.userId, email: p.email, name: p.name, password_hash: hash, disabled_at: null }).execute();
      await trx
        .insertInto('employments')
        .values({ id: p.employmentId, company_id: companyId, user_id: p.userId, role, title: role, language: 'da', team_id: team, department_id: dept, fired_at: null, fired_by: null })
        .execute();
    }
    await trx.updateTable('departments').set({ owner_employment_id: f.leader.employmentId }).where('id', '=', departmentId).execute();
    await trx
      .insertInto('delegations')
      .values({ id: delegationId, company_id: companyId, employment_id: f.delegate.employmentId, responsibility: 'manage_organisation_department' satisfies Responsibility, team_id: null, department_id: subDepartmentId })
      .execute();
  });
  return f;
}

/** A staff account with a confirmed TOTP factor (M2: staff cannot log in without one). */
export async function createStaff(deps: AppDeps, role: StaffRole = 'support', opts: { withFactor?: boolean } = {}) {
  const hash = await passwordHash(deps);
  const id = randomUUID();
  const email = `staff-${unique()}@samtale.test`;
  const secret = newTotpSecret();
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await trx.insertInto('staff_accounts').values({ id, email, name: `Staff ${role}`, role, password_hash: hash, disabled_at: null }).execute();
    if (opts.withFactor !== false) {
      await sql`insert into totp_factors (id, staff_id, secret, confirmed_at) values (${randomUUID()}, ${id}, ${secret}, now())`.execute(trx);
    }
  });
  return { id, email, secret };
}

/** Gives a user a confirmed TOTP factor (as if enrolled); returns its secret for totpCode(). */
export async function giveTotpFactor(deps: AppDeps, userId: string): Promise<string> {
  const secret = newTotpSecret();
  await unsafeSystemTransaction(deps.database, (trx) =>
    sql`insert into totp_factors (id, user_id, secret, confirmed_at) values (${randomUUID()}, ${userId}, ${secret}, now())`.execute(trx),
  );
  return secret;
}

/**
 * A fresh single-use recovery code for the identity behind `email`, so test logins can pass the
 * second step as often as they like at one fake time (a TOTP code is single-use per 30 s).
 */
export async function mintRecoveryCode(deps: AppDeps, email: string): Promise<string> {
  const code = newRecoveryCodes(1)[0] ?? '';
  await unsafeSystemTransaction(deps.database, async (trx) => {
    const staff = await trx.selectFrom('staff_accounts').select('id').where('email', '=', email).executeTakeFirst();
    const user = staff ? undefined : await trx.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
    await sql`insert into recovery_codes (id, user_id, staff_id, code_hash) values (${randomUUID()}, ${user?.id ?? null}, ${staff?.id ?? null}, ${hashRecoveryCode(code)})`.execute(trx);
  });
  return code;
}

export type DialogueFixture = { formVersionId: string; roundId: string; dialogueId: string; agreementId: string };

/**
 * A MUS round on the company's first team (created by the admin) with one dialogue between the
 * employee and the leader, in state "invited", holding one agreement. Inserted as the system role
 * with the built-in Danish MUS form, the way the app would store it.
 */
export async function createDialogue(deps: AppDeps, f: CompanyFixture): Promise<DialogueFixture> {
  const { findBuiltin } = await import('../../src/modules/forms/builtin.ts');
  const builtin = findBuiltin('mus-da');
  if (!builtin) throw new Error('no built-in MUS form');
  const formId = randomUUID();
  const ids: DialogueFixture = { formVersionId: randomUUID(), roundId: randomUUID(), dialogueId: randomUUID(), agreementId: randomUUID() };
  await unsafeSystemTransaction(deps.database, async (trx) => {
    const existing = await trx.selectFrom('forms').select('id').where('company_id', '=', f.companyId).where('builtin_key', '=', builtin.key).executeTakeFirst();
    if (existing) {
      ids.formVersionId = (await trx.selectFrom('form_versions').select('id').where('form_id', '=', existing.id).orderBy('version', 'desc').executeTakeFirstOrThrow()).id;
    } else {
      await trx.insertInto('forms').values({ id: formId, company_id: f.companyId, builtin_key: builtin.key, kind: builtin.kind, name: builtin.name, language: builtin.language }).execute();
      await trx.insertInto('form_versions').values({ id: ids.formVersionId, company_id: f.companyId, form_id: formId, version: builtin.version, definition: JSON.stringify(builtin.definition) }).execute();
    }
    await trx
      .insertInto('dialogue_rounds')
      .values({ id: ids.roundId, company_id: f.companyId, name: `MUS ${unique()}`, form_version_id: ids.formVersionId, team_id: f.teamId, department_id: null, preparation_deadline: '2027-03-15', meeting_from: '2027-03-16', meeting_to: '2027-04-30', created_by: f.admin.employmentId })
      .execute();
    await trx
      .insertInto('dialogues')
      .values({ id: ids.dialogueId, company_id: f.companyId, round_id: ids.roundId, form_version_id: ids.formVersionId, employee_employment_id: f.employee.employmentId, leader_employment_id: f.leader.employmentId, team_id: f.teamId })
      .execute();
    await trx
      .insertInto('dialogue_transitions')
      .values({ id: randomUUID(), company_id: f.companyId, dialogue_id: ids.dialogueId, from_state: null, to_state: 'invited', actor_employment_id: f.admin.employmentId })
      .execute();
    await trx
      .insertInto('agreements')
      .values({ id: ids.agreementId, company_id: f.companyId, dialogue_id: ids.dialogueId, employee_employment_id: f.employee.employmentId, carried_from: null, title_text: 'Kursus i projektledelse', owner: 'employee', deadline: null, follow_up: null })
      .execute();
  });
  return ids;
}

/**
 * One more person in a fixture company (for example a new team owner or a director), with the
 * fixture password. Employees need a team; leaders may sit in a department.
 */
export async function createPerson(deps: AppDeps, f: CompanyFixture, opts: { label?: string; role?: EmploymentRole; teamId?: string | null; departmentId?: string | null } = {}): Promise<Person> {
  const hash = await passwordHash(deps);
  const tag = unique();
  const label = opts.label ?? 'person';
  const p: Person = { userId: randomUUID(), employmentId: randomUUID(), email: `${label}-${tag}@test.example`, name: `${label} ${tag}` };
  await unsafeSystemTransaction(deps.database, async (trx) => {
    await trx.insertInto('users').values({ id: p.userId, email: p.email, name: p.name, password_hash: hash, disabled_at: null }).execute();
    await trx
      .insertInto('employments')
      .values({ id: p.employmentId, company_id: f.companyId, user_id: p.userId, role: opts.role ?? 'leader', title: label, language: 'da', team_id: opts.teamId ?? null, department_id: opts.teamId ? null : (opts.departmentId ?? f.departmentId), fired_at: null, fired_by: null })
      .execute();
  });
  return p;
}
