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
import { CompiledQuery } from 'kysely';
import { parseArgs } from 'node:util';
import type { Config } from '../../config.ts';
import { migrate } from '../../platform/db/migrate.ts';
import type { Tx } from '../../platform/db/context.ts';
import { findBuiltin } from '../forms/builtin.ts';
import { allQuestions, type FormDefinition } from '../forms/form-definition.ts';

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

// ------------------------------------------------------------------------------------------------
// The scaled data set for benchmarks (`samtale demo --scale`, bench/README.md).
//
// Design note: everything is generated by set-based SQL (INSERT ... SELECT generate_series) in one
// system transaction per company, with ids derived from md5(salt, kind, numbers) so the statements
// can join on them without reading anything back. Every generated user shares ONE Argon2 hash of
// a random password (printed once): hashing 50,000 passwords would take an hour on two cores. The
// audit rows go through the hash-chain trigger like every other insert (migrations/009). The
// database is marked as a bench database with a comment on the database itself; the generator
// runs only on an empty database or on one so marked, and never in production. Free text is
// written in clear (as rows from before encryption at rest, which the repositories read unchanged):
// sealing needs the keyring per row, which set-based SQL cannot do.
// ------------------------------------------------------------------------------------------------

export type ScaleOptions = {
  companies: number;
  /** Employees (role employee) over all companies, the big company included. */
  employees: number;
  /** Years of MUS rounds; every year but the current one is closed and signed. */
  years: number;
  /** Employees of company 0, the big company for the dashboard and statistics benchmarks. */
  bigCompany: number;
};

export const QUICK_SCALE: ScaleOptions = { companies: 60, employees: 6000, years: 3, bigCompany: 2000 };
export const FULL_SCALE: ScaleOptions = { companies: 200, employees: 50000, years: 3, bigCompany: 10000 };

export type ScaleResult = {
  status: 'generated' | 'already-loaded';
  options: ScaleOptions;
  /** The one password of every generated user; undefined when the data was already there. */
  password: string | undefined;
  seconds: number;
  counts: Record<string, number>;
};

export class ScaleRefused extends Error {}

const MARK = 'samtale-bench ';
const TEAM_SIZE = 10;
const TEAMS_PER_DEPARTMENT = 10;

export function validateScale(o: ScaleOptions): string | undefined {
  if (!Number.isInteger(o.companies) || o.companies < 1 || o.companies > 100000) return '--companies must be 1..100000';
  if (!Number.isInteger(o.employees) || o.employees < 1 || o.employees > 10_000_000) return '--employees must be 1..10000000';
  if (!Number.isInteger(o.years) || o.years < 1 || o.years > 20) return '--years must be 1..20';
  if (!Number.isInteger(o.bigCompany) || o.bigCompany < 1) return '--big must be at least 1';
  const rest = o.employees - o.bigCompany;
  if (o.companies === 1 ? rest !== 0 : rest < o.companies - 1) return '--employees must leave at least one employee for every company besides the big one (or equal --big with --companies 1)';
  return undefined;
}

/** Employees of company ci: the big company first, the rest spread evenly. */
function employeesOf(o: ScaleOptions, ci: number): number {
  if (ci === 0) return o.bigCompany;
  const rest = o.employees - o.bigCompany;
  const n = o.companies - 1;
  return Math.floor((rest * ci) / n) - Math.floor((rest * (ci - 1)) / n);
}

/** The marker: null when the database has none (then it must be empty). */
async function readMark(deps: AppDeps): Promise<{ options: ScaleOptions; complete: boolean; salt: string } | null> {
  return deps.database.ownerSession(async (q) => {
    const rows = await q(`select shobj_description((select oid from pg_database where datname = current_database()), 'pg_database') as c`);
    const c = rows[0]?.c;
    if (typeof c !== 'string' || !c.startsWith(MARK)) return null;
    try {
      return JSON.parse(c.slice(MARK.length)) as { options: ScaleOptions; complete: boolean; salt: string };
    } catch {
      return null;
    }
  });
}

async function writeMark(deps: AppDeps, mark: { options: ScaleOptions; complete: boolean; salt: string }): Promise<void> {
  const text = (MARK + JSON.stringify(mark)).replaceAll("'", "''");
  await deps.database.ownerSession(async (q) => {
    await q(`do $$ begin execute format('comment on database %I is %L', current_database(), '${text}'); end $$`);
  });
}

/** Whether the database carries the bench marker (bench/run.ts reuses a complete data set). */
export async function unsafeFindScaleMark(deps: AppDeps) {
  return readMark(deps);
}

export async function unsafeCountScale(deps: AppDeps): Promise<Record<string, number>> {
  return unsafeSystemTransaction(deps.database, async (trx) => {
    const tables = ['companies', 'users', 'employments', 'teams', 'dialogue_rounds', 'dialogues', 'dialogue_answers', 'dialogue_transitions', 'agreements', 'dialogue_signatures', 'notifications', 'audit_events'] as const;
    const out: Record<string, number> = {};
    for (const t of tables) {
      const r = await trx.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      out[t] = Number(r.n);
    }
    return out;
  });
}

/**
 * Generates the scaled data set. Refuses in production, and on a database that has companies but
 * no bench marker; on a marked database with a complete data set of the same size it does nothing.
 */
export async function unsafeGenerateScale(deps: AppDeps, options: ScaleOptions, log: (line: string) => void = () => {}): Promise<ScaleResult> {
  if (deps.config.env === 'production') throw new ScaleRefused('demo --scale never runs in production (NODE_ENV=production).');
  const problem = validateScale(options);
  if (problem) throw new ScaleRefused(problem);
  const started = performance.now();
  const mark = await readMark(deps);
  const companies = await unsafeCountCompanies(deps);
  if (mark) {
    if (mark.complete && JSON.stringify(mark.options) === JSON.stringify(options)) {
      return { status: 'already-loaded', options, password: undefined, seconds: 0, counts: await unsafeCountScale(deps) };
    }
    throw new ScaleRefused(`This bench database holds another or an unfinished data set (${JSON.stringify(mark.options)}); start from an empty database.`);
  }
  if (companies > 0) throw new ScaleRefused('The database is not empty and not a bench database: demo --scale refuses to add generated data to it.');

  const salt = randomUUID().replaceAll('-', '');
  await writeMark(deps, { options, complete: false, salt });
  const password = randomPassword(20);
  const hash = await deps.hasher.hash(password);
  const builtin = findBuiltin('mus-da');
  if (!builtin) throw new Error('built-in form mus-da is missing');
  const now = deps.clock.now();
  for (let ci = 0; ci < options.companies; ci++) {
    await unsafeSystemTransaction(deps.database, (trx) => generateCompany(trx, { salt, ci, employees: employeesOf(options, ci), years: options.years, hash, now, definition: builtin.definition, formVersion: builtin.version }));
    if (ci % 20 === 0 || ci === options.companies - 1) log(`  company ${ci + 1}/${options.companies} (${employeesOf(options, ci)} employees) after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  // Fresh statistics, or the first benchmark meets plans made for empty tables.
  await deps.database.ownerSession(async (q) => {
    await q('analyze');
  });
  await writeMark(deps, { options, complete: true, salt });
  return { status: 'generated', options, password, seconds: (performance.now() - started) / 1000, counts: await unsafeCountScale(deps) };
}

/** The e-mail addresses of generated people (bench/run.ts logs in with them). */
export const scaleEmail = {
  admin: (ci: number) => `admin.c${ci}@bench.example`,
  leader: (ci: number, k: number) => `l${k}.c${ci}@bench.example`,
  employee: (ci: number, i: number) => `e${i}.c${ci}@bench.example`,
};

const FIRST = ['Anna', 'Bo', 'Camilla', 'Dennis', 'Ella', 'Frederik', 'Gitte', 'Henrik', 'Ida', 'Jens', 'Karen', 'Lars', 'Maja', 'Niels', 'Olivia', 'Peter'];
const LAST = ['Andersen', 'Bach', 'Christensen', 'Dam', 'Eriksen', 'Frost', 'Gregersen', 'Holm', 'Iversen', 'Jensen', 'Krogh', 'Lund', 'Madsen', 'Nygaard', 'Olsen', 'Poulsen'];
const TEXTS = [
  'Jeg er glad for det samarbejde, vi har fået op at stå i teamet.',
  'Perioden har været travl, men vi nåede de vigtigste mål.',
  'Jeg vil gerne have mere tid til faglig fordybelse.',
  'Overleveringen mellem afdelingerne kan blive bedre.',
  'Kunderne har givet god respons på de nye rutiner.',
  'Jeg kunne tænke mig at prøve kræfter med projektledelse.',
  'Vi aftalte at følge op på arbejdsmængden hver måned.',
  'Et kursus i præsentationsteknik vil styrke mine opgaver.',
];
const AGREEMENTS = ['Kursus i projektledelse', 'Månedlig opfølgning på arbejdsmængde', 'Mentorordning i første halvår', 'Deltage i faglig netværksgruppe', 'Ny ansvarsfordeling i teamet', 'Sparring om prioritering'];

const arr = (xs: readonly string[]) => `(array[${xs.map((x) => `'${x.replaceAll("'", "''")}'`).join(',')}]::text[])`;

type CompanyPlan = { salt: string; ci: number; employees: number; years: number; hash: string; now: Date; definition: FormDefinition; formVersion: number };

async function generateCompany(trx: Tx, p: CompanyPlan): Promise<void> {
  const { ci } = p;
  const n = p.employees;
  const teams = Math.ceil(n / TEAM_SIZE);
  const departments = Math.ceil(teams / TEAMS_PER_DEPARTMENT);
  // u('t', 'k') is the uuid of team k: md5 of salt, kind and numbers. Only numbers and the hex
  // salt are written into the SQL text; everything else is a parameter.
  // The version and variant digits are set to those of a random (v4) uuid: routes accept only
  // well-formed uuids.
  const u = (kind: string, ...nums: string[]) =>
    `overlay(overlay(md5('${p.salt}:${ci}:${kind}' ${nums.map((x) => `|| ':' || (${x})::text`).join(' ')}) placing '4' from 13) placing '8' from 17)::uuid`;
  const run = (text: string, params: unknown[] = []) => trx.executeQuery(CompiledQuery.raw(text, params));
  const name = (x: string) => `(${arr(FIRST)})[1 + (${x}) % ${FIRST.length}] || ' ' || (${arr(LAST)})[1 + ((${x}) / ${FIRST.length}) % ${LAST.length}]`;
  const company = u('c');
  const currentYear = p.now.getUTCFullYear();
  const firstYear = currentYear - p.years + 1;
  const companyCreated = `make_timestamptz(${firstYear - 1}, 12, 1, 9, 0, 0, 'UTC')`;

  await run(`insert into companies (id, name, default_language, statistics_threshold, created_at) values (${company}, $1, 'da', 5, ${companyCreated})`, [ci === 0 ? 'Bench Stor A/S' : `Bench ${ci} ApS`]);
  await run(`insert into departments (id, company_id, parent_id, name, created_at) values (${u('r')}, ${company}, null, $1, ${companyCreated})`, [ci === 0 ? 'Bench Stor A/S' : `Bench ${ci} ApS`]);
  await run(`insert into departments (id, company_id, parent_id, name, created_at)
    select ${u('d', 'j')}, ${company}, ${u('r')}, 'Afdeling ' || (j + 1), ${companyCreated} from generate_series(0, ${departments - 1}) j`);
  await run(`insert into teams (id, company_id, department_id, name, owner_employment_id, created_at)
    select ${u('t', 'k')}, ${company}, ${u('d', `k / ${TEAMS_PER_DEPARTMENT}`)}, 'Team ' || (k + 1), ${u('le', 'k')}, ${companyCreated} from generate_series(0, ${teams - 1}) k`);
  // People: one administrator (HR), one leader per team, the employees.
  await run(`insert into users (id, email, name, password_hash, created_at) values (${u('au')}, $1, $2, $3, ${companyCreated})`, [scaleEmail.admin(ci), `HR Bench ${ci}`, p.hash]);
  await run(`insert into employments (id, company_id, user_id, role, title, language, department_id, created_at) values (${u('ae')}, ${company}, ${u('au')}, 'company_admin', 'HR', 'da', ${u('r')}, ${companyCreated})`);
  await run(`insert into users (id, email, name, password_hash, created_at)
    select ${u('lu', 'k')}, 'l' || k || '.c${ci}@bench.example', ${name('k * 7 + 3')}, $1, ${companyCreated} from generate_series(0, ${teams - 1}) k`, [p.hash]);
  await run(`insert into employments (id, company_id, user_id, role, title, language, department_id, created_at)
    select ${u('le', 'k')}, ${company}, ${u('lu', 'k')}, 'leader', 'Teamleder', 'da', ${u('d', `k / ${TEAMS_PER_DEPARTMENT}`)}, ${companyCreated} from generate_series(0, ${teams - 1}) k`);
  await run(`insert into users (id, email, name, password_hash, created_at)
    select ${u('eu', 'i')}, 'e' || i || '.c${ci}@bench.example', ${name('i')}, $1, ${companyCreated} from generate_series(0, ${n - 1}) i`, [p.hash]);
  await run(`insert into employments (id, company_id, user_id, role, title, language, team_id, created_at)
    select ${u('ee', 'i')}, ${company}, ${u('eu', 'i')}, 'employee', 'Medarbejder', 'da', ${u('t', `i / ${TEAM_SIZE}`)}, ${companyCreated} from generate_series(0, ${n - 1}) i`);

  // The company's copy of the built-in MUS form, as ensureBuiltinVersion makes it.
  await run(`insert into forms (id, company_id, builtin_key, kind, name, language, created_at) values (${u('f')}, ${company}, 'mus-da', 'mus', 'MUS', 'da', ${companyCreated})`);
  await run(`insert into form_versions (id, company_id, form_id, version, definition, created_at) values (${u('fv')}, ${company}, ${u('f')}, ${p.formVersion}, $1::jsonb, ${companyCreated})`, [JSON.stringify(p.definition)]);
  await run(`insert into audit_events (company_id, actor_user_id, event_type, object_type, object_id, data, created_at) values (${company}, null, 'company.created', 'company', ${company}::text, '{"bench":true}', ${companyCreated})`);

  // The answerable questions: (id, type, answered by, options) from the form definition.
  const questions = allQuestions(p.definition).filter((q) => q.type !== 'agreements');
  const qValues = questions
    .map((q) => `('${q.id}', '${q.type}', '${q.answeredBy}', ${arr((q.options ?? []).map((o) => o.id))})`)
    .join(', ');

  for (let y = 0; y < p.years; y++) {
    const year = firstYear + y;
    const current = year === currentYear;
    const round = u('rd', String(y));
    const day = (offset: number) => new Date(p.now.getTime() + offset * 86400_000).toISOString().slice(0, 10);
    const dates = current ? [day(14), day(15), day(45)] : [`${year}-03-15`, `${year}-03-16`, `${year}-05-31`];
    const roundCreated = current ? `'${new Date(p.now.getTime() - 7 * 86400_000).toISOString()}'::timestamptz` : `make_timestamptz(${year}, 3, 1, 9, 0, 0, 'UTC')`;
    await run(`insert into dialogue_rounds (id, company_id, name, form_version_id, department_id, preparation_deadline, meeting_from, meeting_to, created_by, created_at)
      values (${round}, ${company}, 'MUS ${year}', ${u('fv')}, ${u('r')}, '${dates[0]}', '${dates[1]}', '${dates[2]}', ${u('ae')}, ${roundCreated})`);
    await run(`insert into audit_events (company_id, actor_user_id, event_type, object_type, object_id, data, created_at) values (${company}, ${u('au')}, 'dialogues.round.created', 'round', ${round}::text, '{"bench":true}', ${roundCreated})`);
    // Closed years: every dialogue met, signed by both and closed. The current year: a quarter
    // invited, half preparing (half of those submitted by the employee), a quarter in the meeting.
    const state = current ? `(array['invited','preparing','preparing','meeting'])[1 + i % 4]` : `'closed'`;
    const meetingAt = `make_timestamptz(${year}, 4, 1 + (i % 28), 8 + (i % 8), 0, 0, 'UTC')`;
    await run(`insert into dialogues (id, company_id, round_id, form_version_id, employee_employment_id, leader_employment_id, team_id, state,
        employee_submitted_at, leader_submitted_at, meeting_at, meeting_place, notes_text, notes_version, created_at)
      select ${u('g', String(y), 'i')}, ${company}, ${round}, ${u('fv')}, ${u('ee', 'i')}, ${u('le', `i / ${TEAM_SIZE}`)}, ${u('t', `i / ${TEAM_SIZE}`)}, ${state},
        case when ${current ? 'i % 4 in (2, 3)' : 'true'} then ${roundCreated} + interval '5 days' end,
        case when ${current ? 'i % 4 = 3' : 'true'} then ${roundCreated} + interval '6 days' end,
        case when ${current ? 'i % 4 = 3' : 'true'} then ${current ? `${roundCreated} + interval '20 days'` : meetingAt} end,
        case when ${current ? 'i % 4 = 3' : 'true'} then 'Mødelokale ' || (1 + i % 5) end,
        case when ${current ? 'false' : 'true'} then ${arr(TEXTS)}[1 + i % ${TEXTS.length}] else '' end,
        case when ${current ? 'false' : 'true'} then 1 else 0 end,
        ${roundCreated}
      from generate_series(0, ${n - 1}) i`);
    // The state history, step by step up to each dialogue's state.
    await run(`insert into dialogue_transitions (id, company_id, dialogue_id, from_state, to_state, actor_employment_id, created_at)
      select ${u('gt', String(y), 'i', 's.n')}, ${company}, ${u('g', String(y), 'i')}, s.f, s.t,
        case when s.n = 0 then ${u('ae')} else ${u('le', `i / ${TEAM_SIZE}`)} end, ${roundCreated} + s.n * interval '5 days'
      from generate_series(0, ${n - 1}) i
      join (values (0, null, 'invited'), (1, 'invited', 'preparing'), (2, 'preparing', 'meeting'), (3, 'meeting', 'signing'), (4, 'signing', 'closed')) s(n, f, t)
        on s.n <= ${current ? `(array[0, 1, 1, 2])[1 + i % 4]` : '4'}`);
    // Answers: both sides' preparation, and the shared meeting answers once the meeting started.
    // Scale answers 1-5 feed the round statistics.
    const pick = (salt: string, len: string) => `1 + get_byte(decode(md5(i::text || '${y}' || q.id || '${salt}'), 'hex'), 0) % ${len}`;
    await run(`insert into dialogue_answers (company_id, dialogue_id, question_id, side, value, version, updated_by, updated_at)
      select ${company}, ${u('g', String(y), 'i')}, q.id, s.side,
        case q.type
          when 'scale' then (${pick('s', '5')})::text
          when 'yes_no' then (array['yes','no'])[${pick('y', '2')}]
          when 'single' then q.opts[${pick('o', 'array_length(q.opts, 1)')}]
          when 'multiple' then '["' || q.opts[${pick('m', 'array_length(q.opts, 1)')}] || '"]'
          else ${arr(TEXTS)}[${pick('t', String(TEXTS.length))}]
        end,
        1, case when s.side = 'employee' then ${u('ee', 'i')} else ${u('le', `i / ${TEAM_SIZE}`)} end, ${roundCreated} + interval '4 days'
      from generate_series(0, ${n - 1}) i
      cross join (values ${qValues}) q(id, type, by, opts)
      join (values ('employee'), ('leader'), ('shared')) s(side)
        on (s.side = 'employee' and q.by in ('employee', 'both'))
        or (s.side = 'leader' and q.by in ('leader', 'both'))
        or (s.side = 'shared' and q.by = 'meeting' and ${current ? 'false' : 'true'})
      where ${current ? 'i % 4 <> 0' : 'true'}`);
    if (current) {
      // The round started a week ago, so its invitations went out then: recorded as sent (the
      // reminders job would otherwise send them all at the app's first start) and in-app
      // notifications, every other one read.
      const open = `i % 4 in (0, 1, 2)`;
      await run(`insert into reminders_sent (company_id, subject_id, reminder, employment_id, on_date, created_at)
        select ${company}, ${u('g', String(y), 'i')}, 'round_invitation', x.emp, '1970-01-01', ${roundCreated}
        from generate_series(0, ${n - 1}) i
        cross join lateral (values (${u('ee', 'i')}), (${u('le', `i / ${TEAM_SIZE}`)})) x(emp)
        where ${open}`);
      await run(`insert into notifications (id, company_id, employment_id, reminder, deadline, path, created_at, read_at)
        select ${u('n', String(y), 'i', 'x.side')}, ${company}, x.emp, 'round_invitation', '${dates[0]}'::timestamptz,
          '/dialogues/' || ${u('g', String(y), 'i')}, ${roundCreated}, case when i % 2 = 0 then ${roundCreated} + interval '1 day' end
        from generate_series(0, ${n - 1}) i
        cross join lateral (values (0, ${u('ee', 'i')}), (1, ${u('le', `i / ${TEAM_SIZE}`)})) x(side, emp)
        where ${open}`);
    }
    if (!current) {
      // Two agreements a dialogue; the older years' are done or dropped, the last year's still running.
      const statuses = y === p.years - 2 ? `array['in_progress','open','done','in_progress']` : `array['done','done','dropped','done']`;
      await run(`insert into agreements (id, company_id, dialogue_id, employee_employment_id, title_text, description_text, owner, deadline, follow_up, status, progress_text, created_at, updated_at)
        select ${u('ag', String(y), 'i', 'a')}, ${company}, ${u('g', String(y), 'i')}, ${u('ee', 'i')},
          ${arr(AGREEMENTS)}[1 + (i + a) % ${AGREEMENTS.length}], ${arr(TEXTS)}[1 + (i * 3 + a) % ${TEXTS.length}],
          (array['employee','leader'])[1 + a], make_date(${year}, 9, 1 + i % 28), make_date(${year}, 11, 1 + i % 28),
          (${statuses})[1 + (i + a) % 4], '', ${meetingAt}, ${meetingAt}
        from generate_series(0, ${n - 1}) i cross join generate_series(0, 1) a`);
      await run(`insert into dialogue_signatures (company_id, dialogue_id, side, employment_id, signed_at)
        select ${company}, ${u('g', String(y), 'i')}, s.side, case when s.side = 'employee' then ${u('ee', 'i')} else ${u('le', `i / ${TEAM_SIZE}`)} end, ${meetingAt} + interval '1 day'
        from generate_series(0, ${n - 1}) i cross join (values ('employee'), ('leader')) s(side)`);
      // One audit row per closed dialogue, through the chain trigger, in time order.
      await run(`insert into audit_events (company_id, actor_user_id, event_type, object_type, object_id, data, created_at)
        select ${company}, ${u('lu', `i / ${TEAM_SIZE}`)}, 'dialogues.state_changed', 'dialogue', (${u('g', String(y), 'i')})::text, '{"from":"signing","to":"closed"}', ${meetingAt} + interval '1 day'
        from generate_series(0, ${n - 1}) i order by ${meetingAt}, i`);
    }
  }
}

/**
 * `samtale demo --scale [--quick|--full] [--companies N] [--employees N] [--years N] [--big N]
 * [--credentials FILE]`: generates the data set, prints the one password once and writes it with
 * the scale to <data dir>/bench-credentials.json (0600), or to FILE.
 */
export async function demoScaleCommand(args: string[], config: Config, openDeps: (c: Config) => Promise<AppDeps>): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        scale: { type: 'boolean' },
        full: { type: 'boolean' },
        companies: { type: 'string' },
        employees: { type: 'string' },
        years: { type: 'string' },
        big: { type: 'string' },
        credentials: { type: 'string' },
      },
    }));
  } catch (err) {
    console.error(String((err as Error).message));
    return 2;
  }
  const base = values.full ? FULL_SCALE : QUICK_SCALE;
  const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : /^\d+$/.test(v) ? Number(v) : NaN);
  const options: ScaleOptions = {
    companies: num(values.companies, base.companies),
    employees: num(values.employees, base.employees),
    years: num(values.years, base.years),
    bigCompany: num(values.big, Math.min(base.bigCompany, num(values.employees, base.employees))),
  };
  if (values.companies === '1' && values.big === undefined) options.bigCompany = options.employees;
  const problem = validateScale(options);
  if (problem) {
    console.error(problem);
    return 2;
  }
  if (config.env === 'production') {
    console.error('demo --scale never runs in production (NODE_ENV=production).');
    return 1;
  }
  const deps = await openDeps(config);
  try {
    await migrate(deps.database);
    console.log(`Generating ${options.companies} companies, ${options.employees} employees (the big company ${options.bigCompany}), ${options.years} years of MUS ...`);
    const result = await unsafeGenerateScale(deps, options, (line) => console.log(line));
    if (result.status === 'already-loaded') {
      console.log('This bench database already holds that data set; nothing to do.');
    } else {
      console.log(`Done in ${result.seconds.toFixed(1)} s.`);
      console.log(`Every generated user's password (shown once): ${result.password}`);
      console.log(`Log in as e.g. ${scaleEmail.leader(0, 0)} (leader), ${scaleEmail.admin(0)} (HR of the big company), ${scaleEmail.employee(1, 0)}.`);
      const file = values.credentials ?? path.join(config.dataDir, 'bench-credentials.json');
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, JSON.stringify({ options, password: result.password }, null, 2) + '\n', { mode: 0o600 });
      fs.chmodSync(file, 0o600);
      console.log(`The password and the scale are also in ${file} (readable only by you).`);
    }
    for (const [table, count] of Object.entries(result.counts)) console.log(`  ${table.padEnd(22)} ${count}`);
    return 0;
  } catch (err) {
    if (err instanceof ScaleRefused) {
      console.error(err.message);
      return 1;
    }
    throw err;
  } finally {
    await deps.database.close();
  }
}
