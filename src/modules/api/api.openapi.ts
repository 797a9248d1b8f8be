/** The OpenAPI 3.1 description of /v3, served at GET /v3/openapi.json (docs/api.md explains it in prose). */
import { RESPONSIBILITIES } from '../../platform/db/schema.ts';

type Op = { method: 'get' | 'post' | 'patch' | 'delete'; path: string; summary: string; body?: string; response?: string; list?: boolean; status?: number };

const OPS: Op[] = [
  { method: 'get', path: '/v3/core/users', summary: 'List users', response: 'User', list: true },
  { method: 'post', path: '/v3/core/users', summary: 'Create a user', body: 'user:UserInput', response: 'User', status: 201 },
  { method: 'get', path: '/v3/core/users/{user_id}', summary: 'Show a user', response: 'User' },
  { method: 'patch', path: '/v3/core/users/{user_id}', summary: 'Update a user', body: 'user:UserInput', response: 'User' },
  { method: 'delete', path: '/v3/core/users/{user_id}', summary: 'Delete a user without active employees', status: 204 },
  { method: 'get', path: '/v3/core/employees', summary: 'List employees', response: 'Employee', list: true },
  { method: 'get', path: '/v3/core/users/{user_id}/employees', summary: "List a user's employees", response: 'Employee', list: true },
  { method: 'post', path: '/v3/core/users/{user_id}/employees', summary: 'Create an employee for a user', body: 'employee:EmployeeInput', response: 'Employee', status: 201 },
  { method: 'get', path: '/v3/core/users/{user_id}/employees/{id}', summary: 'Show an employee', response: 'Employee' },
  { method: 'patch', path: '/v3/core/users/{user_id}/employees/{id}', summary: 'Update an employee; on a fired employee within 14 days also restores it', body: 'employee:EmployeeInput', response: 'Employee' },
  { method: 'delete', path: '/v3/core/users/{user_id}/employees/{id}', summary: 'Fire an employee (soft delete, undone by PATCH within 14 days)', response: 'Employee' },
  { method: 'get', path: '/v3/core/departments', summary: 'List departments', response: 'Department', list: true },
  { method: 'post', path: '/v3/core/departments', summary: 'Create a department under the root department', body: 'department:DepartmentInput', response: 'Department', status: 201 },
  { method: 'get', path: '/v3/core/departments/{id}', summary: 'Show a department', response: 'Department' },
  { method: 'patch', path: '/v3/core/departments/{id}', summary: 'Rename or re-own a department', body: 'department:DepartmentInput', response: 'Department' },
  { method: 'delete', path: '/v3/core/departments/{id}', summary: 'Delete an empty department', status: 204 },
  { method: 'post', path: '/v3/core/departments/{parent_id}/departments', summary: 'Create a department under a parent', body: 'department:DepartmentInput', response: 'Department', status: 201 },
  { method: 'patch', path: '/v3/core/departments/{parent_id}/departments/{id}', summary: 'Move a department under a new parent (and update it)', body: 'department:DepartmentInput', response: 'Department' },
  { method: 'get', path: '/v3/core/teams', summary: 'List teams', response: 'Team', list: true },
  { method: 'post', path: '/v3/core/departments/{department_id}/teams', summary: 'Create a team in a department', body: 'team:TeamInput', response: 'Team', status: 201 },
  { method: 'patch', path: '/v3/core/departments/{department_id}/teams/{id}', summary: 'Move a team to a department (and update it)', body: 'team:TeamInput', response: 'Team' },
  { method: 'get', path: '/v3/core/teams/{id}', summary: 'Show a team', response: 'Team' },
  { method: 'patch', path: '/v3/core/teams/{id}', summary: 'Rename or re-own a team', body: 'team:TeamInput', response: 'Team' },
  { method: 'delete', path: '/v3/core/teams/{id}', summary: 'Delete a team without employees', status: 204 },
  { method: 'get', path: '/v3/core/teams/{team_id}/employees', summary: "List a team's employees", response: 'Employee', list: true },
  { method: 'post', path: '/v3/core/teams/{team_id}/employees', summary: 'Add an employee to a team (moves them from their old team)', body: 'employee:TeamEmployeeInput', response: 'Employee' },
  { method: 'delete', path: '/v3/core/teams/{team_id}/employees/{id}', summary: 'Remove an employee from a team', status: 204 },
  { method: 'get', path: '/v3/core/teams/{target_id}/delegations', summary: 'List delegations on a team', response: 'Delegation', list: true },
  { method: 'post', path: '/v3/core/teams/{target_id}/delegations', summary: 'Grant a dialogue access responsibility on a team', body: 'delegation:DelegationInput', response: 'Delegation', status: 201 },
  { method: 'delete', path: '/v3/core/teams/{target_id}/delegations/{id}', summary: 'Revoke a delegation on a team', status: 204 },
  { method: 'get', path: '/v3/core/departments/{target_id}/delegations', summary: 'List delegations on a department', response: 'Delegation', list: true },
  { method: 'post', path: '/v3/core/departments/{target_id}/delegations', summary: 'Grant a department responsibility', body: 'delegation:DelegationInput', response: 'Delegation', status: 201 },
  { method: 'delete', path: '/v3/core/departments/{target_id}/delegations/{id}', summary: 'Revoke a delegation on a department', status: 204 },
  {
    method: 'post',
    path: '/v3/siab/dialogs',
    summary: 'Report an employee sick (201), or update the period it overlaps, e.g. fit with an end date (200); a range over two periods is 422',
    body: 'dialog:SicknessInput',
    response: 'Sickness',
    status: 201,
  },
];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = { type: 'string' };
const nstr = { type: ['string', 'null'] };
const extId = { oneOf: [{ type: 'string', minLength: 1, maxLength: 255 }, { type: 'integer', minimum: 0 }], description: 'Your own id' };
const person = { type: ['object', 'null'], properties: { id: nstr, title: str, user: { type: 'object', properties: { id: nstr, name: str, email: str } } } };

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ref('Error') } } });

function operation(op: Op) {
  const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  if (op.list) {
    params.push({ name: 'page', in: 'query', required: false, schema: { type: 'integer', minimum: 1, default: 1 } as never });
    params.push({ name: 'per_page', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 25 } as never });
  }
  const status = String(op.status ?? 200);
  const content = op.response
    ? { 'application/json': { schema: op.list ? { type: 'array', items: ref(op.response) } : ref(op.response) } }
    : undefined;
  const ok: Record<string, unknown> = { description: 'OK', ...(content ? { content } : {}) };
  if (op.list) ok.headers = { Total: { schema: { type: 'integer' } }, 'Per-Page': { schema: { type: 'integer' } } };
  const [wrapper, schema] = op.body?.split(':') ?? [];
  return {
    summary: op.summary,
    security: [{ jwt: [] }],
    parameters: params,
    ...(wrapper && schema
      ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: [wrapper], properties: { [wrapper]: ref(schema) } } } } } }
      : {}),
    responses: {
      [status]: ok,
      '400': errorResponse('The request could not be handled'),
      '401': errorResponse('Invalid or missing credentials'),
      '404': errorResponse('Unknown id'),
      '422': errorResponse('Invalid data or a refused change'),
      '429': errorResponse('Rate limit'),
      '503': errorResponse('The API is switched off'),
    },
  };
}

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPS) (paths[op.path] ??= {})[op.method] = operation(op);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Samtale integration API',
      version: '3',
      description:
        'Keeps the organisation in sync from an HR system. Every request carries a JWT header: an HS256 JWT whose payload has company_id, nbf and exp (at most 15 seconds apart), signed with an API token created by a company admin. Request bodies are wrapped in the resource name. Ids are your own. See docs/api.md.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { jwt: { type: 'apiKey', in: 'header', name: 'JWT' } },
      schemas: {
        Error: {
          type: 'object',
          properties: {
            message: str,
            errors: { type: 'array', items: { type: 'object', properties: { resource: str, field: str, error: str } } },
          },
        },
        UserInput: {
          type: 'object',
          required: ['id', 'name', 'email'],
          properties: { id: extId, name: str, email: { type: 'string', format: 'email' }, username: nstr, gender: { enum: ['male', 'female', 'other', null] }, birthday: { type: ['string', 'null'], format: 'date' } },
        },
        User: { type: 'object', properties: { id: str, name: str, email: str, username: nstr, gender: nstr, birthday: nstr } },
        EmployeeInput: {
          type: 'object',
          required: ['id'],
          properties: { id: extId, title: str, role: { enum: ['employee', 'leader'] }, language: { enum: ['da', 'en', 'sv'] }, team_id: { oneOf: [extId, { type: 'null' }] }, department_id: { oneOf: [extId, { type: 'null' }] } },
        },
        TeamEmployeeInput: { type: 'object', required: ['id'], properties: { id: extId } },
        Employee: {
          type: 'object',
          properties: {
            id: str,
            title: str,
            role: { enum: ['employee', 'leader', 'company_admin'] },
            language: str,
            fired_at: { type: ['string', 'null'], format: 'date-time' },
            team: { type: ['object', 'null'], properties: { id: nstr, name: str } },
            department: { type: ['object', 'null'], properties: { id: nstr, name: str } },
            user: ref('User'),
          },
        },
        DepartmentInput: { type: 'object', required: ['id', 'name'], properties: { id: extId, name: str, owner_id: { oneOf: [extId, { type: 'null' }] } } },
        Department: { type: 'object', properties: { id: str, name: str, parent_id: nstr, owner: person, responsible_employee: person } },
        TeamInput: { type: 'object', required: ['id', 'name'], properties: { id: extId, name: str, owner_id: { oneOf: [extId, { type: 'null' }] } } },
        Team: {
          type: 'object',
          properties: {
            id: str,
            name: str,
            department: { type: 'object', properties: { id: nstr, name: str } },
            owner: person,
            responsible_employee: person,
            employees: { type: 'array', items: person },
          },
        },
        SicknessInput: {
          type: 'object',
          required: ['employee_id', 'from'],
          properties: { employee_id: extId, from: { type: 'string', format: 'date' }, to: { type: ['string', 'null'], format: 'date' } },
        },
        Sickness: {
          type: 'object',
          properties: { employee_id: extId, from: { type: 'string', format: 'date' }, to: { type: ['string', 'null'], format: 'date' }, task: { type: 'boolean', description: 'Whether the responsible leader got a sickness-absence dialogue to hold' } },
        },
        DelegationInput: {
          type: 'object',
          required: ['id', 'employee_id', 'responsibility'],
          properties: {
            id: extId,
            employee_id: extId,
            responsibility: {
              enum: [...RESPONSIBILITIES],
            },
          },
        },
        Delegation: { type: 'object', properties: { id: str, responsibility: str, employee: person, team_id: nstr, department_id: nstr } },
      },
    },
    paths,
  };
}
