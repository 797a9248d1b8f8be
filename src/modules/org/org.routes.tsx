/**
 * HTTP for the organisation module: parse with zod, call the service, render. Every POST answers
 * with a 303 redirect on success (POST-redirect-GET); invalid input re-renders the same form with
 * the user's values and messages (422), a refused rule re-renders with its message (409).
 * The one exception is creating an employee: the confirmation (invited, or attached to an
 * existing login) is rendered straight from the POST with 201.
 *
 * Authorization is the service's (unknown or out-of-scope ids are 404); the edge has already
 * required a user session.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { viewContext } from '../../platform/http/server.ts';
import { sendPage } from '../../platform/html/render.ts';
import { email, optionalId, optionalText, parseForm, rawForm, text } from '../../platform/http/forms.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../platform/errors.ts';
import { LANGUAGES, translator, type Lang } from '../../platform/i18n/i18n.ts';
import { RESPONSIBILITIES } from '../../platform/db/schema.ts';
import { isOrgKey, orgMessages, type OrgKey } from './org.i18n.ts';
import * as service from './org.service.ts';
import type { OrgCtx } from './org.service.ts';
import { DepartmentPage, EmployeeCreatedPage, EmployeePage, EmployeesPage, NewEmployeePage, OrgPage, TeamPage, type FormState, type OrgPageState } from './org.views.tsx';

const ROLES = ['employee', 'leader', 'company_admin'] as const;

const departmentCreate = z.object({ name: text(200), parent_id: z.uuid() });
const departmentUpdate = z.object({ name: text(200), parent_id: optionalId.optional(), owner_employment_id: optionalId.optional() });
const teamCreate = z.object({ team_name: text(200), department_id: z.uuid() });
const teamUpdate = z.object({ name: text(200), department_id: z.uuid().optional(), owner_employment_id: optionalId.optional() });
const employmentFields = {
  title: optionalText(200),
  role: z.enum(ROLES),
  language: z.enum(LANGUAGES),
  team_id: optionalId,
  department_id: optionalId,
};
const employeeCreate = z.object({ name: text(200), email, ...employmentFields });
const employeeUpdate = z.object(employmentFields);
const delegationGrant = z.object({ employment_id: z.uuid(), responsibility: z.enum(RESPONSIBILITIES), team_id: optionalId, department_id: optionalId });

/** Flash messages after a redirect: only these codes, so the query string cannot inject text. */
const DONE: Record<string, OrgKey> = {
  saved: 'flashSaved',
  created: 'flashCreated',
  deleted: 'flashDeleted',
  fired: 'flashFired',
  rehired: 'flashRehired',
  unlocked: 'flashUnlocked',
  invited: 'flashInvited',
  granted: 'flashGranted',
  revoked: 'flashRevoked',
};

/** A form that leaves out one of the two placement selects means "none" there. */
function withPlacementDefaults(body: unknown): Record<string, string> {
  return { title: '', team_id: '', department_id: '', ...rawForm(body) };
}

function ctxOf(req: FastifyRequest, deps: AppDeps): OrgCtx {
  const actor = req.actor;
  if (actor?.kind !== 'user') throw new NotFoundError();
  return { deps, actor, ip: req.ip };
}

/** Ids in the path that are not even uuids are simply unknown. */
function idParam(req: FastifyRequest): string {
  const parsed = z.uuid().safeParse((req.params as { id?: unknown }).id);
  if (!parsed.success) throw new NotFoundError();
  return parsed.data;
}

function query(req: FastifyRequest, name: string): string {
  const v = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v.slice(0, 254) : '';
}

function flash(req: FastifyRequest): string | undefined {
  const key = DONE[query(req, 'done')];
  return key ? translator(req.lang, orgMessages)(key) : undefined;
}

function message(lang: Lang, code: string): string {
  return translator(lang, orgMessages)(isOrgKey(code) ? code : 'errInvalidData');
}

type Refusal = { status: 409 | 422; errors: Record<string, string> };

/** Runs a change; a rule's refusal comes back as messages for the form instead of an error page. */
async function attempt<T>(lang: Lang, fallbackField: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | ({ ok: false } & Refusal)> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    if (error instanceof ValidationError) {
      const entries = Object.entries(error.fields);
      const errors = entries.length > 0 ? Object.fromEntries(entries.map(([f, code]) => [f, message(lang, code)])) : { [fallbackField]: message(lang, error.code) };
      return { ok: false, status: 422, errors };
    }
    if (error instanceof ConflictError) return { ok: false, status: 409, errors: { [fallbackField]: message(lang, error.code) } };
    throw error;
  }
}

export function registerOrg(app: FastifyInstance, deps: AppDeps) {
  // ------------------------------------------------------------ tree
  const renderOrg = async (req: FastifyRequest, reply: FastifyReply, state?: OrgPageState, status = 200) => {
    const data = await service.getOverview(ctxOf(req, deps));
    return sendPage(reply, <OrgPage vc={viewContext(req)} departments={data.departments} teams={data.teams} state={state ?? {}} flash={flash(req)} />, status);
  };

  app.get('/org', async (req, reply) => renderOrg(req, reply));

  app.post('/org/departments', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    const form = parseForm(departmentCreate, req.body, req.lang);
    if (!form.ok) return renderOrg(req, reply, { department: { values: form.raw, errors: form.errors } }, 422);
    const r = await attempt(req.lang, 'name', () => service.createDepartment(ctx, { name: form.data.name, parentId: form.data.parent_id }));
    if (!r.ok) return renderOrg(req, reply, { department: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/org/departments/${r.value}?done=created`, 303);
  });

  app.post('/org/teams', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    const form = parseForm(teamCreate, req.body, req.lang);
    if (!form.ok) return renderOrg(req, reply, { team: { values: form.raw, errors: form.errors } }, 422);
    const r = await attempt(req.lang, 'team_name', () => service.createTeam(ctx, { name: form.data.team_name, departmentId: form.data.department_id }));
    if (!r.ok) return renderOrg(req, reply, { team: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/org/teams/${r.value}?done=created`, 303);
  });

  // ------------------------------------------------------------ departments
  type DetailState = { edit?: FormState; grant?: FormState; delete?: string };
  const renderDepartment = async (req: FastifyRequest, reply: FastifyReply, id: string, state: DetailState = {}, status = 200) => {
    const data = await service.getDepartmentPage(ctxOf(req, deps), id);
    return sendPage(reply, <DepartmentPage vc={viewContext(req)} data={data} state={state} flash={status === 200 ? flash(req) : undefined} />, status);
  };

  app.get('/org/departments/:id', async (req, reply) => renderDepartment(req, reply, idParam(req)));

  app.post('/org/departments/:id', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(departmentUpdate, req.body, req.lang);
    if (!form.ok) return renderDepartment(req, reply, id, { edit: { values: form.raw, errors: form.errors } }, 422);
    const r = await attempt(req.lang, 'name', () =>
      service.updateDepartment(ctx, id, { name: form.data.name, parentId: form.data.parent_id, ownerEmploymentId: form.data.owner_employment_id }),
    );
    if (!r.ok) return renderDepartment(req, reply, id, { edit: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/org/departments/${id}?done=saved`, 303);
  });

  app.post('/org/departments/:id/delete', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'delete', () => service.deleteDepartment(ctxOf(req, deps), id));
    if (!r.ok) return renderDepartment(req, reply, id, { delete: Object.values(r.errors)[0] ?? '' }, r.status);
    return reply.redirect('/org?done=deleted', 303);
  });

  // ------------------------------------------------------------ teams
  const renderTeam = async (req: FastifyRequest, reply: FastifyReply, id: string, state: DetailState = {}, status = 200) => {
    const data = await service.getTeamPage(ctxOf(req, deps), id);
    return sendPage(reply, <TeamPage vc={viewContext(req)} data={data} state={state} flash={status === 200 ? flash(req) : undefined} />, status);
  };

  app.get('/org/teams/:id', async (req, reply) => renderTeam(req, reply, idParam(req)));

  app.post('/org/teams/:id', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(teamUpdate, req.body, req.lang);
    if (!form.ok) return renderTeam(req, reply, id, { edit: { values: form.raw, errors: form.errors } }, 422);
    const r = await attempt(req.lang, 'name', () =>
      service.updateTeam(ctx, id, { name: form.data.name, departmentId: form.data.department_id, ownerEmploymentId: form.data.owner_employment_id }),
    );
    if (!r.ok) return renderTeam(req, reply, id, { edit: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/org/teams/${id}?done=saved`, 303);
  });

  app.post('/org/teams/:id/delete', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'delete', () => service.deleteTeam(ctxOf(req, deps), id));
    if (!r.ok) return renderTeam(req, reply, id, { delete: Object.values(r.errors)[0] ?? '' }, r.status);
    return reply.redirect('/org?done=deleted', 303);
  });

  // ------------------------------------------------------------ employees
  app.get('/org/employees', async (req, reply) => {
    const q = query(req, 'q').trim();
    const data = await service.listEmployeesPage(ctxOf(req, deps), q);
    return sendPage(reply, <EmployeesPage vc={viewContext(req)} employees={data.employees} q={q} flash={flash(req)} />);
  });

  const renderNewEmployee = async (req: FastifyRequest, reply: FastifyReply, state?: FormState, status = 200) => {
    const options = await service.getNewEmployeeForm(ctxOf(req, deps));
    return sendPage(reply, <NewEmployeePage vc={viewContext(req)} options={options} state={state ?? {}} />, status);
  };

  app.get('/org/employees/new', async (req, reply) => renderNewEmployee(req, reply));

  app.post('/org/employees', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    const form = parseForm(employeeCreate, withPlacementDefaults(req.body), req.lang);
    if (!form.ok) return renderNewEmployee(req, reply, { values: form.raw, errors: form.errors }, 422);
    const d = form.data;
    const r = await attempt(req.lang, 'email', () =>
      service.createEmployee(ctx, { name: d.name, email: d.email, title: d.title, role: d.role, language: d.language, teamId: d.team_id, departmentId: d.department_id }),
    );
    if (!r.ok) return renderNewEmployee(req, reply, { values: rawForm(req.body), errors: r.errors }, r.status);
    return sendPage(reply, <EmployeeCreatedPage vc={viewContext(req)} result={r.value} />, 201);
  });

  const renderEmployee = async (req: FastifyRequest, reply: FastifyReply, id: string, state: { edit?: FormState; status?: string } = {}, status = 200) => {
    const data = await service.getEmployeePage(ctxOf(req, deps), id);
    return sendPage(reply, <EmployeePage vc={viewContext(req)} data={data} state={state} flash={status === 200 ? flash(req) : undefined} />, status);
  };

  app.get('/org/employees/:id', async (req, reply) => renderEmployee(req, reply, idParam(req)));

  app.post('/org/employees/:id', async (req, reply) => {
    const id = idParam(req);
    const ctx = ctxOf(req, deps);
    const form = parseForm(employeeUpdate, withPlacementDefaults(req.body), req.lang);
    if (!form.ok) return renderEmployee(req, reply, id, { edit: { values: form.raw, errors: form.errors } }, 422);
    const d = form.data;
    const r = await attempt(req.lang, 'title', () =>
      service.updateEmployee(ctx, id, { title: d.title, role: d.role, language: d.language, teamId: d.team_id, departmentId: d.department_id }),
    );
    if (!r.ok) return renderEmployee(req, reply, id, { edit: { values: rawForm(req.body), errors: r.errors } }, r.status);
    return reply.redirect(`/org/employees/${id}?done=saved`, 303);
  });

  app.post('/org/employees/:id/fire', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'status', () => service.fireEmployee(ctxOf(req, deps), id));
    if (!r.ok) return renderEmployee(req, reply, id, { status: Object.values(r.errors)[0] ?? '' }, r.status);
    return reply.redirect(`/org/employees/${id}?done=fired`, 303);
  });

  app.post('/org/employees/:id/rehire', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'status', () => service.rehireEmployee(ctxOf(req, deps), id));
    if (!r.ok) return renderEmployee(req, reply, id, { status: Object.values(r.errors)[0] ?? '' }, r.status);
    return reply.redirect(`/org/employees/${id}?done=rehired`, 303);
  });

  app.post('/org/employees/:id/unlock', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'status', () => service.unlockEmployeeLogin(ctxOf(req, deps), id));
    if (!r.ok) return renderEmployee(req, reply, id, { status: Object.values(r.errors)[0] ?? '' }, r.status);
    return reply.redirect(`/org/employees/${id}?done=unlocked`, 303);
  });

  app.post('/org/employees/:id/invite', async (req, reply) => {
    const id = idParam(req);
    const r = await attempt(req.lang, 'status', () => service.resendInvitation(ctxOf(req, deps), id));
    if (!r.ok) return renderEmployee(req, reply, id, { status: Object.values(r.errors)[0] ?? '' }, r.status);
    return reply.redirect(`/org/employees/${id}?done=invited`, 303);
  });

  // ------------------------------------------------------------ delegations
  app.post('/org/delegations', async (req, reply) => {
    const ctx = ctxOf(req, deps);
    const raw = rawForm(req.body);
    // Errors are shown on the page the form came from: the team's or the department's.
    const teamId = z.uuid().safeParse(raw.team_id);
    const departmentId = z.uuid().safeParse(raw.department_id);
    const rerender = (errors: Record<string, string>, status: number) => {
      const state = { grant: { values: raw, errors } };
      if (departmentId.success) return renderDepartment(req, reply, departmentId.data, state, status);
      if (teamId.success) return renderTeam(req, reply, teamId.data, state, status);
      // A form without a target (not one of ours): the messages go on the overview.
      return renderOrg(req, reply, { other: { values: raw, errors: { ...errors, responsibility: message(req.lang, 'errNeedTarget') } } }, 422);
    };
    // Only admins grant; anyone else learns nothing from the form's ids.
    const scope = await service.getScope(ctx);
    if (scope.kind !== 'admin') throw new NotFoundError();
    const form = parseForm(delegationGrant, { team_id: '', department_id: '', ...raw }, req.lang);
    if (!form.ok) return rerender(form.errors, 422);
    const d = form.data;
    const r = await attempt(req.lang, 'responsibility', () =>
      service.grantDelegation(ctx, { employmentId: d.employment_id, responsibility: d.responsibility, teamId: d.team_id, departmentId: d.department_id }),
    );
    if (!r.ok) return rerender(r.errors, r.status);
    return reply.redirect(`${r.value}?done=granted`, 303);
  });

  app.post('/org/delegations/:id/delete', async (req, reply) => {
    const id = idParam(req);
    const back = await service.revokeDelegation(ctxOf(req, deps), id);
    return reply.redirect(`${back}?done=revoked`, 303);
  });
}
