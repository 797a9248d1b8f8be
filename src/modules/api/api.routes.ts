/**
 * The integration API under /v3 (issue 10), compatible with the reference product's v3 API
 * (shared/DOMAIN.md, docs/api.md).
 *
 * Design note: the routes live in their own Fastify scope with their own error handler, so every
 * answer is JSON in the reference format `{"message", "errors": [{"resource", "field", "error"}]}`
 * (400 unreadable request, 401 credentials, 404 unknown id, 422 invalid data or a refused change,
 * 429 rate limit, 503 switched off) and never an HTML page. They are `public` for the session
 * check (no cookie session applies) and `api` for the CSRF/Origin check (a signed request from a
 * server is not a browser form post); authentication is the token, checked in this scope's
 * onRequest hook before the body is even parsed. Handlers then call the service with the caller.
 */
import { RESPONSIBILITIES } from '../../platform/db/schema.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../platform/deps.ts';
import { ApiError, authenticateApi, type ApiCaller } from './api.auth.ts';
import * as svc from './api.service.ts';
import { openApiDocument } from './api.openapi.ts';
import { registerApiTokens } from './apitokens.routes.tsx';
const extId = z.union([z.string().trim().min(1).max(255), z.number().int().nonnegative()]).transform(String);
const name = z.string().trim().min(1).max(200);
const nullableExt = z.union([extId, z.null()]);

const schemas = {
  user: z.object({
    id: extId,
    name,
    email: z.string().trim().max(254).pipe(z.email()),
    username: z.string().trim().max(200).nullish(),
    gender: z.enum(['male', 'female', 'other']).nullish(),
    birthday: z.iso.date().nullish(),
  }),
  employee: z.object({
    id: extId,
    title: z.string().trim().max(200).optional(),
    role: z.enum(['employee', 'leader']).optional(),
    language: z.enum(['da', 'en', 'sv']).optional(),
    team_id: nullableExt.optional(),
    department_id: nullableExt.optional(),
  }),
  department: z.object({ id: extId, name, owner_id: nullableExt.optional() }),
  team: z.object({ id: extId, name, owner_id: nullableExt.optional() }),
  teamEmployee: z.object({ id: extId }),
  delegation: z.object({ id: extId, employee_id: extId, responsibility: z.enum(RESPONSIBILITIES) }),
  // Sick from a date; with `to`, fit again after that date.
  dialog: z.object({ employee_id: extId, from: z.iso.date(), to: z.iso.date().nullish() }),
};
const patches = {
  user: schemas.user.omit({ id: true }).partial(),
  employee: schemas.employee.omit({ id: true }),
  department: schemas.department.omit({ id: true }).partial(),
  team: schemas.team.omit({ id: true }).partial(),
};

/** The body's `{ "<resource>": {...} }` wrapper, then the fields; field errors are 422. */
function body<S extends z.ZodType>(req: FastifyRequest, resource: string, schema: S): z.output<S> {
  const b = req.body as Record<string, unknown> | undefined;
  const inner = b && typeof b === 'object' && !Array.isArray(b) ? b[resource] : undefined;
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) {
    throw new ApiError(400, `The request body must be a JSON object wrapped in "${resource}"`);
  }
  const parsed = schema.safeParse(inner);
  if (parsed.success) return parsed.data;
  throw new ApiError(
    422,
    'Validation failed',
    parsed.error.issues.map((i) => ({ resource, field: String(i.path[0] ?? resource), error: errorCode(i) })),
  );
}

function errorCode(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'missing';
  if (issue.code === 'too_small') return 'too_short';
  if (issue.code === 'too_big') return 'too_long';
  return 'invalid';
}

const pageQuery = z.object({
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  per_page: z.coerce.number().int().min(1).max(1000).default(25),
});

function page(req: FastifyRequest): svc.Page {
  const parsed = pageQuery.safeParse(req.query ?? {});
  if (!parsed.success) throw new ApiError(400, 'page must be a positive integer and per_page an integer from 1 to 1000');
  return { page: parsed.data.page, perPage: parsed.data.per_page };
}

function sendPage<T>(reply: FastifyReply, q: svc.Page, result: svc.Paged<T>) {
  return reply.header('total', String(result.total)).header('per-page', String(q.perPage)).send(result.items);
}

const p = (req: FastifyRequest) => req.params as Record<string, string>;

declare module 'fastify' {
  interface FastifyRequest {
    apiCaller: ApiCaller | undefined;
  }
}

/** The API and its settings page (/org/settings/api), as one registration. */
export function registerApi(app: FastifyInstance, deps: AppDeps) {
  registerApiTokens(app, deps);
  // The description is public: it holds no company data and clients generate code from it.
  app.get('/v3/openapi.json', { config: { public: true, api: true } }, async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(openApiDocument()));

  app.register(async (api) => {
    api.decorateRequest('apiCaller', undefined);
    api.addHook('onRequest', async (req) => {
      req.apiCaller = await authenticateApi(deps, req, deps.config.api.ratePerMinute);
    });
    api.setErrorHandler(async (error: unknown, req, reply) => {
      reply.header('cache-control', 'no-store');
      if (error instanceof ApiError) {
        if (error.retryAfter) reply.header('retry-after', String(error.retryAfter));
        return reply.code(error.status).send({ message: error.message, errors: error.errors });
      }
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 503) return reply.code(503).send({ message: 'The integration API is temporarily unavailable for security maintenance', errors: [] });
      if (status === 413) return reply.code(400).send({ message: 'The request body is too large', errors: [] });
      if (status && status >= 400 && status < 500) return reply.code(400).send({ message: 'The request could not be read (it must be JSON)', errors: [] });
      req.log.error({ err: error }, 'unhandled API error');
      return reply.code(500).send({ message: `Internal error (reference ${String(req.id)})`, errors: [] });
    });
    api.addHook('onSend', async (_req, reply) => {
      reply.header('cache-control', 'no-store');
    });

    const cfg = { config: { public: true, api: true } };
    const ctx = (req: FastifyRequest): svc.ApiCtx => {
      if (!req.apiCaller) throw new ApiError(401, 'Invalid or missing credentials');
      return { deps, caller: req.apiCaller };
    };

    // users
    api.get('/v3/core/users', cfg, async (req, reply) => {
      const q = page(req);
      return sendPage(reply, q, await svc.listUsers(ctx(req), q));
    });
    api.post('/v3/core/users', cfg, async (req, reply) => reply.code(201).send(await svc.createUser(ctx(req), body(req, 'user', schemas.user))));
    api.get('/v3/core/users/:user_id', cfg, async (req) => svc.getUser(ctx(req), p(req).user_id!));
    api.patch('/v3/core/users/:user_id', cfg, async (req) => svc.updateUser(ctx(req), p(req).user_id!, body(req, 'user', patches.user)));
    api.delete('/v3/core/users/:user_id', cfg, async (req, reply) => {
      await svc.deleteUser(ctx(req), p(req).user_id!);
      return reply.code(204).send();
    });

    // employees under a user
    api.get('/v3/core/employees', cfg, async (req, reply) => {
      const q = page(req);
      return sendPage(reply, q, await svc.listEmployees(ctx(req), q));
    });
    api.get('/v3/core/users/:user_id/employees', cfg, async (req, reply) => {
      const q = page(req);
      return sendPage(reply, q, await svc.listEmployeesOfUser(ctx(req), p(req).user_id!, q));
    });
    api.post('/v3/core/users/:user_id/employees', cfg, async (req, reply) => reply.code(201).send(await svc.createEmployee(ctx(req), p(req).user_id!, body(req, 'employee', schemas.employee))));
    api.get('/v3/core/users/:user_id/employees/:id', cfg, async (req) => svc.getEmployee(ctx(req), p(req).user_id!, p(req).id!));
    api.patch('/v3/core/users/:user_id/employees/:id', cfg, async (req) => svc.updateEmployee(ctx(req), p(req).user_id!, p(req).id!, body(req, 'employee', patches.employee)));
    api.delete('/v3/core/users/:user_id/employees/:id', cfg, async (req) => svc.fireEmployee(ctx(req), p(req).user_id!, p(req).id!));

    // departments
    api.get('/v3/core/departments', cfg, async (req, reply) => {
      const q = page(req);
      return sendPage(reply, q, await svc.listDepartments(ctx(req), q));
    });
    api.post('/v3/core/departments', cfg, async (req, reply) => reply.code(201).send(await svc.createDepartment(ctx(req), null, body(req, 'department', schemas.department))));
    api.get('/v3/core/departments/:id', cfg, async (req) => svc.getDepartment(ctx(req), p(req).id!));
    api.patch('/v3/core/departments/:id', cfg, async (req) => svc.updateDepartment(ctx(req), null, p(req).id!, body(req, 'department', patches.department)));
    api.delete('/v3/core/departments/:id', cfg, async (req, reply) => {
      await svc.deleteDepartment(ctx(req), p(req).id!);
      return reply.code(204).send();
    });
    api.post('/v3/core/departments/:parent_id/departments', cfg, async (req, reply) =>
      reply.code(201).send(await svc.createDepartment(ctx(req), p(req).parent_id!, body(req, 'department', schemas.department))),
    );
    api.patch('/v3/core/departments/:parent_id/departments/:id', cfg, async (req) => svc.updateDepartment(ctx(req), p(req).parent_id!, p(req).id!, body(req, 'department', patches.department)));

    // teams
    api.get('/v3/core/teams', cfg, async (req, reply) => {
      const q = page(req);
      return sendPage(reply, q, await svc.listTeams(ctx(req), q));
    });
    api.post('/v3/core/departments/:department_id/teams', cfg, async (req, reply) => reply.code(201).send(await svc.createTeam(ctx(req), p(req).department_id!, body(req, 'team', schemas.team))));
    api.patch('/v3/core/departments/:department_id/teams/:id', cfg, async (req) => svc.updateTeam(ctx(req), p(req).department_id!, p(req).id!, body(req, 'team', patches.team)));
    api.get('/v3/core/teams/:id', cfg, async (req) => svc.getTeam(ctx(req), p(req).id!));
    api.patch('/v3/core/teams/:id', cfg, async (req) => svc.updateTeam(ctx(req), null, p(req).id!, body(req, 'team', patches.team)));
    api.delete('/v3/core/teams/:id', cfg, async (req, reply) => {
      await svc.deleteTeam(ctx(req), p(req).id!);
      return reply.code(204).send();
    });

    // team employees
    api.get('/v3/core/teams/:team_id/employees', cfg, async (req, reply) => {
      const q = page(req);
      return sendPage(reply, q, await svc.listTeamEmployees(ctx(req), p(req).team_id!, q));
    });
    api.post('/v3/core/teams/:team_id/employees', cfg, async (req) => svc.addTeamEmployee(ctx(req), p(req).team_id!, body(req, 'employee', schemas.teamEmployee).id));
    api.delete('/v3/core/teams/:team_id/employees/:id', cfg, async (req, reply) => {
      await svc.removeTeamEmployee(ctx(req), p(req).team_id!, p(req).id!);
      return reply.code(204).send();
    });

    // sickness absence: report sick (201) or update the overlapping period, e.g. fit (200)
    api.post('/v3/siab/dialogs', cfg, async (req, reply) => {
      const r = await svc.reportSickness(ctx(req), body(req, 'dialog', schemas.dialog));
      return reply.code(r.status).send(r.body);
    });

    // delegations on teams and departments
    for (const kind of ['team', 'department'] as const) {
      const base = `/v3/core/${kind}s/:target_id/delegations`;
      const target = (req: FastifyRequest) => ({ kind, ext: p(req).target_id! });
      api.get(base, cfg, async (req, reply) => {
        const q = page(req);
        return sendPage(reply, q, await svc.listDelegations(ctx(req), target(req), q));
      });
      api.post(base, cfg, async (req, reply) => reply.code(201).send(await svc.createDelegation(ctx(req), target(req), body(req, 'delegation', schemas.delegation))));
      api.delete(`${base}/:id`, cfg, async (req, reply) => {
        await svc.deleteDelegation(ctx(req), target(req), p(req).id!);
        return reply.code(204).send();
      });
    }
  });
}
