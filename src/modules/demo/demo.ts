/**
 * The demo company a newcomer meets on `npm start`: created only on an empty database and never
 * in production. Passwords are random, printed once and written to demo-credentials.json (0600).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../platform/deps.ts';
import { unsafeSystemTransaction } from '../../platform/db/context.ts';
import type { UserActor } from '../../platform/auth/actor.ts';
import { createRound, today } from '../dialogues/dialogues.service.ts';
import { randomPassword } from '../../platform/auth/passwords.ts';
import { audit } from '../../platform/audit/audit.ts';
import { unsafeCountCompanies, unsafeInsertCompany } from '../companies/companies.service.ts';

export type DemoCredential = { role: 'company_admin' | 'leader' | 'employee' | 'platform_staff'; name: string; email: string; password: string };

type Person = { name: string; email: string; title: string };

const LEADERS: Person[] = [
  { name: 'Mette Lind', email: 'mette.lind@demo.example', title: 'Salgschef' },
  { name: 'Jonas Holm', email: 'jonas.holm@demo.example', title: 'Udviklingschef' },
];
const EMPLOYEES: (Person & { team: 0 | 1 | 2 })[] = [
  { name: 'Sofie Berg', email: 'sofie.berg@demo.example', title: 'Sælger', team: 0 },
  { name: 'Emil Dahl', email: 'emil.dahl@demo.example', title: 'Sælger', team: 0 },
  { name: 'Ida Kjær', email: 'ida.kjaer@demo.example', title: 'Kundeansvarlig', team: 1 },
  { name: 'Noah Friis', email: 'noah.friis@demo.example', title: 'Sælger', team: 1 },
  { name: 'Freja Møller', email: 'freja.moller@demo.example', title: 'Udvikler', team: 2 },
  { name: 'Oliver Skov', email: 'oliver.skov@demo.example', title: 'Tester', team: 2 },
];

export async function seedDemoIfEmpty(deps: AppDeps): Promise<DemoCredential[] | undefined> {
  if (deps.config.env === 'production' || !deps.config.demoSeed) return undefined;
  if ((await unsafeCountCompanies(deps)) > 0) return undefined;

  const creds: DemoCredential[] = [];
  const hashed = async (c: Omit<DemoCredential, 'password'>, length = 20) => {
    const password = randomPassword(length);
    creds.push({ ...c, password });
    return deps.hasher.hash(password);
  };
  const adminHash = await hashed({ role: 'company_admin', name: 'Hanne Rask', email: 'hanne.rask@demo.example' });
  const leaderHashes = await Promise.all(LEADERS.map((p) => hashed({ role: 'leader', name: p.name, email: p.email })));
  const employeeHashes = await Promise.all(EMPLOYEES.map((p) => hashed({ role: 'employee', name: p.name, email: p.email })));
  const staffHash = await hashed({ role: 'platform_staff', name: 'Samtale Support', email: 'support@samtale.example' }, 24);

  const seeded = await unsafeSystemTransaction(deps.database, async (trx) => {
    const { companyId, rootDepartmentId, userId: adminUserId, employmentId: adminEmploymentId } = await unsafeInsertCompany(trx, { name: 'Demo A/S', adminName: 'Hanne Rask', adminEmail: 'hanne.rask@demo.example', language: 'da' }, adminHash);
    const sales = randomUUID();
    const dev = randomUUID();
    await trx
      .insertInto('departments')
      .values([
        { id: sales, company_id: companyId, parent_id: rootDepartmentId, name: 'Salg', owner_employment_id: null },
        { id: dev, company_id: companyId, parent_id: rootDepartmentId, name: 'Udvikling', owner_employment_id: null },
      ])
      .execute();
    const teams = [randomUUID(), randomUUID(), randomUUID()] as const;
    await trx
      .insertInto('teams')
      .values([
        { id: teams[0], company_id: companyId, department_id: sales, name: 'Salg Nord', owner_employment_id: null },
        { id: teams[1], company_id: companyId, department_id: sales, name: 'Salg Syd', owner_employment_id: null },
        { id: teams[2], company_id: companyId, department_id: dev, name: 'Platform', owner_employment_id: null },
      ])
      .execute();
    const leaderEmployments: string[] = [];
    for (const [i, p] of LEADERS.entries()) {
      const userId = randomUUID();
      const employmentId = randomUUID();
      leaderEmployments.push(employmentId);
      await trx.insertInto('users').values({ id: userId, email: p.email, name: p.name, password_hash: leaderHashes[i] ?? null, disabled_at: null }).execute();
      await trx
        .insertInto('employments')
        .values({ id: employmentId, company_id: companyId, user_id: userId, role: 'leader', title: p.title, language: 'da', team_id: null, department_id: i === 0 ? sales : dev, fired_at: null, fired_by: null })
        .execute();
    }
    // Mette owns the sales department (both sales teams inherit her); Jonas owns the Platform team.
    await trx.updateTable('departments').set({ owner_employment_id: leaderEmployments[0] ?? null }).where('id', '=', sales).execute();
    await trx.updateTable('teams').set({ owner_employment_id: leaderEmployments[1] ?? null }).where('id', '=', teams[2]).execute();
    for (const [i, p] of EMPLOYEES.entries()) {
      const userId = randomUUID();
      await trx.insertInto('users').values({ id: userId, email: p.email, name: p.name, password_hash: employeeHashes[i] ?? null, disabled_at: null }).execute();
      await trx
        .insertInto('employments')
        .values({ id: randomUUID(), company_id: companyId, user_id: userId, role: 'employee', title: p.title, language: 'da', team_id: teams[p.team], department_id: null, fired_at: null, fired_by: null })
        .execute();
    }
    await trx.insertInto('staff_accounts').values({ id: randomUUID(), email: 'support@samtale.example', name: 'Samtale Support', role: 'support', password_hash: staffHash, disabled_at: null }).execute();
    await audit(trx, { companyId }, { type: 'company.created', objectType: 'company', objectId: companyId, data: { demo: true } });
    return { companyId, adminUserId, adminEmploymentId, sales };
  });

  // A MUS round for the sales department, started by the admin through the same service as the
  // page does, so a newcomer sees dialogues at once.
  const now = deps.clock.now();
  const day = (offset: number) => today(new Date(now.getTime() + offset * 86400_000));
  const admin: UserActor = {
    kind: 'user',
    sessionId: 'demo-seed',
    userId: seeded.adminUserId,
    companyId: seeded.companyId,
    companyName: 'Demo A/S',
    employmentId: seeded.adminEmploymentId,
    role: 'company_admin',
    managesDepartment: false,
    name: 'Hanne Rask',
    email: 'hanne.rask@demo.example',
    lang: 'da',
  };
  await createRound(
    { deps, actor: admin, ip: '127.0.0.1' },
    { name: `MUS ${day(0).slice(0, 4)}`, form: 'builtin:mus-da', target: `department:${seeded.sales}`, preparationDeadline: day(14), meetingFrom: day(15), meetingTo: day(45) },
  );

  const file = path.join(deps.config.dataDir, 'demo-credentials.json');
  fs.mkdirSync(deps.config.dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return creds;
}
