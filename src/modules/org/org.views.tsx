/**
 * Server-rendered pages of the organisation module. Every text comes from org.i18n.ts (or the
 * common catalog); values are escaped by the renderer. No inline script or style (CSP): confirm
 * prompts use data-confirm, read by /assets/app.js.
 */
import type { ComponentChildren } from 'preact';
import { CsrfField, ErrorSummary, Flash, Layout, SelectField, TextField, roleLabel, type ViewContext } from '../../platform/html/layout.tsx';
import { common } from '../../platform/html/common.i18n.ts';
import { formatDate, formatNumber, LANGUAGES, translator, type Lang } from '../../platform/i18n/i18n.ts';
import { DEPARTMENT_RESPONSIBILITIES, TEAM_RESPONSIBILITIES, type Responsibility } from '../../platform/db/schema.ts';
import { responsibilityLabel } from './responsibilities.ts';
import { orgMessages } from './org.i18n.ts';
import { purgeDate } from './org.policy.ts';
import { archivePurgeAt } from '../retention/employees.ts';
import type { CreatedEmployee, DepartmentPageData, EmployeePageData, PlacementOptions, TeamPageData } from './org.service.ts';
import type { DepartmentRow, EmployeeRow, TeamRow } from './org.repository.ts';

/** What a form shows after a failed POST: the user's values and a message per field. */
export type FormState = { values?: Record<string, string>; errors?: Record<string, string> };

const tr = (lang: Lang) => translator(lang, orgMessages);
const val = (state: FormState | undefined, field: string, fallback: string | null | undefined) =>
  state?.values && field in state.values ? state.values[field] : (fallback ?? '');
const err = (state: FormState | undefined, field: string) => state?.errors?.[field];

function languageOptions(lang: Lang) {
  const t = tr(lang);
  const names: Record<Lang, string> = { da: t('languageDa'), en: t('languageEn'), sv: t('languageSv') };
  return LANGUAGES.map((l) => ({ value: l, label: names[l] }));
}

function Responsible(props: { lang: Lang; name: string | null; inherited: boolean }) {
  const t = tr(props.lang);
  if (!props.name) return <span class="badge warn">{t('noResponsible')}</span>;
  return (
    <span>
      {t('responsible', { name: props.name })} {props.inherited ? <span class="badge">{t('inherited')}</span> : null}
    </span>
  );
}

const isInherited = (row: { owner_employment_id: string | null; responsible_id: string | null }) =>
  row.responsible_id !== null && row.responsible_id !== row.owner_employment_id;

// ---------------------------------------------------------------- the tree

export type OrgPageState = { department?: FormState; team?: FormState; other?: FormState };

export function OrgPage(props: { vc: ViewContext; departments: DepartmentRow[]; teams: TeamRow[]; state?: OrgPageState; flash?: string | undefined }) {
  const { vc, departments, teams } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const ids = new Set(departments.map((d) => d.id));
  const roots = departments.filter((d) => d.parent_id === null || !ids.has(d.parent_id));
  const deptOptions = departments.map((d) => ({ value: d.id, label: d.name }));
  const dState = props.state?.department;
  const tState = props.state?.team;
  const errors = { ...(dState?.errors ?? {}), ...(tState?.errors ?? {}), ...(props.state?.other?.errors ?? {}) };

  const renderDepartment = (d: DepartmentRow, depth: number): ComponentChildren => (
    <li>
      <a href={`/org/departments/${d.id}`}>
        <strong>{d.name}</strong>
      </a>{' '}
      · <Responsible lang={lang} name={d.responsible_name} inherited={isInherited(d)} />
      {depth < 100 ? (
        <ul>
          {teams
            .filter((tm) => tm.department_id === d.id)
            .map((tm) => (
              <li>
                <span class="badge">{t('teamBadge')}</span> <a href={`/org/teams/${tm.id}`}>{tm.name}</a> ·{' '}
                {t('members', { count: formatNumber(lang, Number(tm.members ?? 0)) })} ·{' '}
                <Responsible lang={lang} name={tm.responsible_name} inherited={isInherited(tm)} />
              </li>
            ))}
          {departments.filter((c) => c.parent_id === d.id).map((c) => renderDepartment(c, depth + 1))}
        </ul>
      ) : null}
    </li>
  );

  return (
    <Layout vc={vc} title={t('orgTitle')}>
      <h1>{t('orgTitle')}</h1>
      <Flash message={props.flash} />
      <ErrorSummary lang={lang} errors={errors} />
      {vc.actor?.kind === 'user' && vc.actor.role === 'company_admin' ? (
        <p>
          <a href="/org/settings/api">{t('apiSettingsLink')}</a>
        </p>
      ) : null}
      <section class="card" aria-labelledby="tree-h">
        <h2 id="tree-h">{t('treeHeading')}</h2>
        <p class="hint">{t('treeIntro')}</p>
        {roots.length === 0 ? <p>{t('emptyTree')}</p> : <ul class="tree">{roots.map((r) => renderDepartment(r, 0))}</ul>}
      </section>
      <div class="grid">
        <section class="card" aria-labelledby="new-dept-h">
          <h2 id="new-dept-h">{t('createDepartmentHeading')}</h2>
          <form method="post" action="/org/departments" class="stack">
            <CsrfField vc={vc} />
            <TextField name="name" label={t('nameLabel')} value={val(dState, 'name', '')} error={err(dState, 'name')} required maxLength={200} />
            <SelectField name="parent_id" label={t('parentLabel')} value={val(dState, 'parent_id', '')} error={err(dState, 'parent_id')} options={deptOptions} emptyLabel={t('chooseEmpty')} />
            <button type="submit">{t('createButton')}</button>
          </form>
        </section>
        <section class="card" aria-labelledby="new-team-h">
          <h2 id="new-team-h">{t('createTeamHeading')}</h2>
          <form method="post" action="/org/teams" class="stack">
            <CsrfField vc={vc} />
            <TextField name="team_name" label={t('nameLabel')} value={val(tState, 'team_name', '')} error={err(tState, 'team_name')} required maxLength={200} />
            <SelectField name="department_id" label={t('departmentLabel')} value={val(tState, 'department_id', '')} error={err(tState, 'department_id')} options={deptOptions} emptyLabel={t('chooseEmpty')} />
            <button type="submit">{t('createButton')}</button>
          </form>
        </section>
      </div>
    </Layout>
  );
}

// ---------------------------------------------------------------- delegations (shared)

type DelegationList = DepartmentPageData['delegations'];

function Delegations(props: {
  vc: ViewContext;
  delegations: DelegationList;
  canManage: boolean;
  employmentOptions: { id: string; name: string; email: string }[];
  responsibilities: readonly Responsibility[];
  target: { team_id: string } | { department_id: string };
  state?: FormState | undefined;
}) {
  const { vc } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const isTeam = 'team_id' in props.target;
  return (
    <section class="card" aria-labelledby="deleg-h">
      <h2 id="deleg-h">{t('delegationsHeading')}</h2>
      <p class="hint">{isTeam ? t('delegationsTeamIntro') : t('delegationsDepartmentIntro')}</p>
      {props.delegations.length === 0 ? (
        <p>{t('noDelegations')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('personLabel')}</th>
                <th scope="col">{t('responsibilityLabel')}</th>
                {props.canManage ? (
                  <th scope="col">
                    <span class="visually-hidden">{t('revokeButton')}</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {props.delegations.map((d) => (
                <tr>
                  <th scope="row">
                    {d.name} {d.fired_at ? <span class="badge warn">{t('leftBadge')}</span> : null}
                  </th>
                  <td>{responsibilityLabel(lang, d.responsibility)}</td>
                  {props.canManage ? (
                    <td>
                      <form method="post" action={`/org/delegations/${d.id}/delete`} class="inline" data-confirm={t('confirmRevoke')}>
                        <CsrfField vc={vc} />
                        <button type="submit" class="secondary small" aria-label={t('revokeNamed', { responsibility: responsibilityLabel(lang, d.responsibility), name: d.name })}>
                          {t('revokeButton')}
                        </button>
                      </form>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {props.canManage ? (
        <form method="post" action="/org/delegations" class="stack">
          <CsrfField vc={vc} />
          {'team_id' in props.target ? <input type="hidden" name="team_id" value={props.target.team_id} /> : <input type="hidden" name="department_id" value={props.target.department_id} />}
          <SelectField
            name="employment_id"
            label={t('personLabel')}
            value={val(props.state, 'employment_id', '')}
            error={err(props.state, 'employment_id')}
            options={props.employmentOptions.map((e) => ({ value: e.id, label: `${e.name} (${e.email})` }))}
            emptyLabel={t('chooseEmpty')}
          />
          <SelectField
            name="responsibility"
            label={t('responsibilityLabel')}
            value={val(props.state, 'responsibility', '')}
            error={err(props.state, 'responsibility')}
            options={props.responsibilities.map((r) => ({ value: r, label: responsibilityLabel(lang, r) }))}
            emptyLabel={t('chooseEmpty')}
          />
          <button type="submit">{t('grantButton')}</button>
        </form>
      ) : null}
    </section>
  );
}

// ---------------------------------------------------------------- department

export type DetailPageState = { edit?: FormState; grant?: FormState; delete?: string };

/** Every problem on a department or team page, for the one error summary at its top. */
function detailErrors(state: DetailPageState | undefined): Record<string, string> {
  return { ...(state?.edit?.errors ?? {}), ...(state?.grant?.errors ?? {}), ...(state?.delete ? { delete: state.delete } : {}) };
}

/** The frame shared by the department and team pages: back link, heading, flash, problems. */
function DetailFrame(props: { vc: ViewContext; title: string; flash?: string | undefined; errors: Record<string, string>; children: ComponentChildren }) {
  return (
    <Layout vc={props.vc} title={props.title}>
      <p>
        <a href="/org">{tr(props.vc.lang)('backToOrg')}</a>
      </p>
      <h1>{props.title}</h1>
      <Flash message={props.flash} />
      <ErrorSummary lang={props.vc.lang} errors={props.errors} />
      {props.children}
    </Layout>
  );
}

export function DepartmentPage(props: { vc: ViewContext; data: DepartmentPageData; state?: DetailPageState; flash?: string | undefined }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const c = translator(lang, common);
  const d = data.department;
  const edit = props.state?.edit;
  const errors = detailErrors(props.state);
  const title = t('departmentTitle', { name: d.name });
  return (
    <DetailFrame vc={vc} title={title} flash={props.flash} errors={errors}>
      {data.managedByApi ? (
        <p class="notice">{t('managedByApiNote')}</p>
      ) : data.isRoot ? (
        <p class="notice">{t('rootNote')}</p>
      ) : !data.can.move ? (
        <p class="notice">{t('delegatedNote')}</p>
      ) : null}
      <div class="grid">
        <section class="card" aria-labelledby="edit-h">
          <h2 id="edit-h">{t('editHeading')}</h2>
          <form method="post" action={`/org/departments/${d.id}`} class="stack" hidden={data.managedByApi}>
            <CsrfField vc={vc} />
            <TextField name="name" label={t('nameLabel')} value={val(edit, 'name', d.name)} error={err(edit, 'name')} required maxLength={200} />
            {data.can.move ? (
              <SelectField
                name="parent_id"
                label={t('parentLabel')}
                value={val(edit, 'parent_id', d.parent_id)}
                error={err(edit, 'parent_id')}
                options={data.parentOptions.map((p) => ({ value: p.id, label: p.name }))}
              />
            ) : null}
            {data.can.owner ? (
              <SelectField
                name="owner_employment_id"
                label={t('ownerLabel')}
                value={val(edit, 'owner_employment_id', d.owner_employment_id)}
                error={err(edit, 'owner_employment_id')}
                options={data.ownerOptions.map((o) => ({ value: o.id, label: o.title ? `${o.name} – ${o.title}` : o.name }))}
                emptyLabel={t('noOwner')}
              />
            ) : null}
            <button type="submit">{c('save')}</button>
          </form>
          <dl class="facts">
            <dt>{t('currentResponsible')}</dt>
            <dd>
              <Responsible lang={lang} name={data.self?.responsible_name ?? null} inherited={data.self ? isInherited(data.self) : false} />
            </dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="contents-h">
          <h2 id="contents-h">{t('childDepartmentsHeading')}</h2>
          {data.children.length === 0 ? (
            <p>{t('none')}</p>
          ) : (
            <ul class="plain">
              {data.children.map((ch) => (
                <li>
                  <a href={`/org/departments/${ch.id}`}>{ch.name}</a>
                </li>
              ))}
            </ul>
          )}
          <h2>{t('teamsHeading')}</h2>
          {data.teams.length === 0 ? (
            <p>{t('none')}</p>
          ) : (
            <ul class="plain">
              {data.teams.map((tm) => (
                <li>
                  <a href={`/org/teams/${tm.id}`}>{tm.name}</a>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <Delegations
        vc={vc}
        delegations={data.delegations}
        canManage={data.can.delegations}
        employmentOptions={data.employmentOptions}
        responsibilities={DEPARTMENT_RESPONSIBILITIES}
        target={{ department_id: d.id }}
        state={props.state?.grant}
      />
      {data.can.delete ? (
        <section class="card" aria-labelledby="delete-h" id="delete" tabIndex={-1}>
          <h2 id="delete-h">{t('deleteDepartmentHeading')}</h2>
          <p class="hint">{t('deleteDepartmentHint')}</p>
          <form method="post" action={`/org/departments/${d.id}/delete`} data-confirm={t('confirmDeleteDepartment', { name: d.name })}>
            <CsrfField vc={vc} />
            <button type="submit" class="danger">
              {c('delete')}
            </button>
          </form>
        </section>
      ) : null}
    </DetailFrame>
  );
}

// ---------------------------------------------------------------- team

export function TeamPage(props: { vc: ViewContext; data: TeamPageData; state?: DetailPageState; flash?: string | undefined }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const c = translator(lang, common);
  const team = data.team;
  const edit = props.state?.edit;
  const errors = detailErrors(props.state);
  const title = t('teamTitle', { name: team.name });
  return (
    <DetailFrame vc={vc} title={title} flash={props.flash} errors={errors}>
      {data.managedByApi ? <p class="notice">{t('managedByApiNote')}</p> : null}
      <div class="grid">
        <section class="card" aria-labelledby="edit-h">
          <h2 id="edit-h">{t('editHeading')}</h2>
          <form method="post" action={`/org/teams/${team.id}`} class="stack" hidden={data.managedByApi}>
            <CsrfField vc={vc} />
            <TextField name="name" label={t('nameLabel')} value={val(edit, 'name', team.name)} error={err(edit, 'name')} required maxLength={200} />
            <SelectField
              name="department_id"
              label={t('departmentLabel')}
              value={val(edit, 'department_id', team.department_id)}
              error={err(edit, 'department_id')}
              options={data.departmentOptions.map((p) => ({ value: p.id, label: p.name }))}
            />
            <SelectField
              name="owner_employment_id"
              label={t('ownerLabel')}
              value={val(edit, 'owner_employment_id', team.owner_employment_id)}
              error={err(edit, 'owner_employment_id')}
              options={data.ownerOptions.map((o) => ({ value: o.id, label: o.title ? `${o.name} – ${o.title}` : o.name }))}
              emptyLabel={t('noOwner')}
            />
            <button type="submit">{c('save')}</button>
          </form>
          <dl class="facts">
            <dt>{t('currentResponsible')}</dt>
            <dd>
              <Responsible lang={lang} name={data.self?.responsible_name ?? null} inherited={data.self ? isInherited(data.self) : false} />
            </dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="members-h">
          <h2 id="members-h">{t('membersHeading')}</h2>
          {data.members.length === 0 ? (
            <p>{t('none')}</p>
          ) : (
            <ul class="plain">
              {data.members.map((m) => (
                <li>
                  <a href={`/org/employees/${m.id}`}>{m.name}</a> {m.fired_at ? <span class="badge warn">{t('leftBadge')}</span> : null}
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      <Delegations
        vc={vc}
        delegations={data.delegations}
        canManage={data.can.delegations}
        employmentOptions={data.employmentOptions}
        responsibilities={TEAM_RESPONSIBILITIES}
        target={{ team_id: team.id }}
        state={props.state?.grant}
      />
      <section class="card" aria-labelledby="delete-h" id="delete" tabIndex={-1} hidden={data.managedByApi}>
        <h2 id="delete-h">{t('deleteTeamHeading')}</h2>
        <p class="hint">{t('deleteTeamHint')}</p>
        <form method="post" action={`/org/teams/${team.id}/delete`} data-confirm={t('confirmDeleteTeam', { name: team.name })}>
          <CsrfField vc={vc} />
          <button type="submit" class="danger">
            {c('delete')}
          </button>
        </form>
      </section>
    </DetailFrame>
  );
}

// ---------------------------------------------------------------- employees

function placementLabel(e: { team_name: string | null; department_name: string | null }) {
  return e.team_name ?? e.department_name ?? '–';
}

export function EmployeesPage(props: { vc: ViewContext; employees: EmployeeRow[]; q: string; flash?: string | undefined }) {
  const { vc } = props;
  const lang = vc.lang;
  const t = tr(lang);
  return (
    <Layout vc={vc} title={t('employeesTitle')}>
      <h1>{t('employeesTitle')}</h1>
      <Flash message={props.flash} />
      <div class="actions">
        <a class="button" href="/org/employees/new">
          {t('newEmployee')}
        </a>
        <a class="button secondary" href="/org/import">
          {t('importEmployees')}
        </a>
        <form method="get" action="/org/employees" class="actions" role="search">
          <label for="q">{t('searchLabel')}</label>
          <input id="q" name="q" type="search" value={props.q} maxLength={254} />
          <button type="submit" class="secondary">
            {t('searchButton')}
          </button>
        </form>
      </div>
      {props.employees.length === 0 ? (
        <p>{t('noEmployees')}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colName')}</th>
                <th scope="col">{t('colEmail')}</th>
                <th scope="col">{t('colTitle')}</th>
                <th scope="col">{t('colRole')}</th>
                <th scope="col">{t('colPlacement')}</th>
                <th scope="col">{t('colStatus')}</th>
              </tr>
            </thead>
            <tbody>
              {props.employees.map((e) => (
                <tr>
                  <th scope="row">
                    <a href={`/org/employees/${e.id}`}>{e.name}</a>
                  </th>
                  <td>{e.email}</td>
                  <td>{e.title || '–'}</td>
                  <td>{roleLabel(lang, e.role)}</td>
                  <td>{placementLabel(e)}</td>
                  <td>
                    {e.fired_at ? (
                      <span class="badge warn">{t('statusLeft', { date: formatDate(lang, purgeDate(new Date(e.fired_at))) })}</span>
                    ) : (
                      t('statusActive')
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

function EmploymentFields(props: { lang: Lang; options: PlacementOptions; state?: FormState | undefined; current?: { title: string; role: string; language: string; team_id: string | null; department_id: string | null }; roleLocked?: boolean }) {
  const { lang, options, state, current } = props;
  const t = tr(lang);
  const roles = props.roleLocked && current ? [current.role] : options.roles;
  return (
    <>
      <TextField name="title" label={t('titleLabel')} value={val(state, 'title', current?.title)} error={err(state, 'title')} maxLength={200} />
      <SelectField name="role" label={t('roleLabel')} value={val(state, 'role', current?.role ?? 'employee')} error={err(state, 'role')} options={roles.map((r) => ({ value: r, label: roleLabel(lang, r) }))} />
      {props.roleLocked ? <p class="hint">{t('ownRoleNote')}</p> : null}
      <SelectField name="language" label={t('languageLabel')} value={val(state, 'language', current?.language ?? lang)} error={err(state, 'language')} options={languageOptions(lang)} />
      <p class="hint">{t('placementHint')}</p>
      <SelectField
        name="team_id"
        label={t('teamLabel')}
        value={val(state, 'team_id', current?.team_id)}
        error={err(state, 'team_id')}
        options={options.teams.map((tm) => ({ value: tm.id, label: tm.name }))}
        emptyLabel={t('noTeamOption')}
      />
      <SelectField
        name="department_id"
        label={t('placementDepartmentLabel')}
        value={val(state, 'department_id', current?.department_id)}
        error={err(state, 'department_id')}
        options={options.departments.map((d) => ({ value: d.id, label: d.name }))}
        emptyLabel={t('noDepartmentOption')}
      />
    </>
  );
}

export function NewEmployeePage(props: { vc: ViewContext; options: PlacementOptions; state?: FormState }) {
  const { vc } = props;
  const lang = vc.lang;
  const t = tr(lang);
  return (
    <Layout vc={vc} title={t('newEmployee')}>
      <p>
        <a href="/org/employees">{t('backToEmployees')}</a>
      </p>
      <h1>{t('newEmployee')}</h1>
      <ErrorSummary lang={lang} errors={props.state?.errors ?? {}} />
      <p>{t('newEmployeeIntro')}</p>
      <form method="post" action="/org/employees" class="stack card">
        <CsrfField vc={vc} />
        <TextField name="name" label={t('colName')} value={val(props.state, 'name', '')} error={err(props.state, 'name')} required maxLength={200} autocomplete="off" />
        <TextField name="email" label={t('emailLabel')} type="email" value={val(props.state, 'email', '')} error={err(props.state, 'email')} required maxLength={254} autocomplete="off" />
        <EmploymentFields lang={lang} options={props.options} state={props.state} />
        <button type="submit">{t('createButton')}</button>
      </form>
    </Layout>
  );
}

/** Shown straight from the POST: whether the person was invited or attached with their existing login. */
export function EmployeeCreatedPage(props: { vc: ViewContext; result: CreatedEmployee }) {
  const { vc, result } = props;
  const t = tr(vc.lang);
  return (
    <Layout vc={vc} title={t('createdTitle')}>
      <h1>{t('createdTitle')}</h1>
      <section class="card">
        {result.invited ? (
          <p>{t('createdNewUser', { name: result.name, email: result.email })}</p>
        ) : (
          <p>{t('createdExisting', { name: result.name, email: result.email })}</p>
        )}
        <p class="actions">
          <a class="button" href={`/org/employees/${result.employmentId}`}>
            {t('goToEmployee')}
          </a>
          <a href="/org/employees">{t('backToEmployees')}</a>
        </p>
      </section>
    </Layout>
  );
}

export type EmployeePageState = { edit?: FormState; status?: string };

export function EmployeePage(props: { vc: ViewContext; data: EmployeePageData; state?: EmployeePageState; flash?: string | undefined }) {
  const { vc, data } = props;
  const lang = vc.lang;
  const t = tr(lang);
  const c = translator(lang, common);
  const e = data.employee;
  const edit = props.state?.edit;
  const errors = { ...(edit?.errors ?? {}), ...(props.state?.status ? { status: props.state.status } : {}) };
  return (
    <Layout vc={vc} title={e.name}>
      <p>
        <a href="/org/employees">{t('backToEmployees')}</a>
      </p>
      <h1>{e.name}</h1>
      <Flash message={props.flash} />
      <ErrorSummary lang={lang} errors={errors} />
      <p>
        {e.email ? `${e.email} · ` : ''}
        {roleLabel(lang, e.role)} · {placementLabel(e)}
        {e.fired_at ? (
          <>
            {' '}
            <span class="badge warn">{data.purged ? t('purgedBadge') : t('leftBadge')}</span>
          </>
        ) : null}
      </p>
      {data.isSelf ? <p class="notice">{t('selfNote')}</p> : null}
      {data.managedByApi ? <p class="notice">{t('managedByApiNote')}</p> : null}
      <div class="grid">
        <section class="card" aria-labelledby="edit-h">
          <h2 id="edit-h">{t('employmentHeading')}</h2>
          <form method="post" action={`/org/employees/${e.id}`} class="stack" hidden={data.managedByApi || data.purged}>
            <CsrfField vc={vc} />
            <EmploymentFields lang={lang} options={data.options} state={edit} current={e} roleLocked={!data.can.changeRole} />
            <button type="submit">{c('save')}</button>
          </form>
        </section>
        <section class="card" aria-labelledby="status-h" id="status" tabIndex={-1}>
          <h2 id="status-h">{t('fireHeading')}</h2>
          {e.fired_at && e.purged_at ? (
            <p>
              {t('purgedOn', {
                date: formatDate(lang, new Date(e.fired_at)),
                purged: formatDate(lang, new Date(e.purged_at)),
                archive: formatDate(lang, archivePurgeAt(new Date(e.fired_at))),
              })}
            </p>
          ) : e.fired_at ? (
            <>
              <p>{t('leftOn', { date: formatDate(lang, new Date(e.fired_at)), purge: formatDate(lang, purgeDate(new Date(e.fired_at))) })}</p>
              {data.managedByApi ? null : data.can.rehire ? (
                <form method="post" action={`/org/employees/${e.id}/rehire`}>
                  <CsrfField vc={vc} />
                  <button type="submit">{t('rehireButton')}</button>
                </form>
              ) : (
                <p>{t('rehireExpired')}</p>
              )}
            </>
          ) : data.can.fire ? (
            <>
              <p class="hint">{t('fireHint')}</p>
              <form method="post" action={`/org/employees/${e.id}/fire`} data-confirm={t('confirmFire', { name: e.name })}>
                <CsrfField vc={vc} />
                <button type="submit" class="danger">
                  {t('fireButton')}
                </button>
              </form>
            </>
          ) : (
            <p>{t('statusActive')}</p>
          )}
        </section>
        {data.can.invite ? (
          <section class="card" aria-labelledby="invite-h">
            <h2 id="invite-h">{t('inviteHeading')}</h2>
            <p class="hint">{t('inviteHint')}</p>
            <form method="post" action={`/org/employees/${e.id}/invite`}>
              <CsrfField vc={vc} />
              <button type="submit" class="secondary">
                {t('inviteButton')}
              </button>
            </form>
          </section>
        ) : null}
        {data.can.unlock ? (
          <section class="card" aria-labelledby="unlock-h">
            <h2 id="unlock-h">{t('unlockHeading')}</h2>
            <p class="hint">{t('unlockHint')}</p>
            <form method="post" action={`/org/employees/${e.id}/unlock`}>
              <CsrfField vc={vc} />
              <button type="submit" class="secondary">
                {t('unlockButton')}
              </button>
            </form>
          </section>
        ) : null}
      </div>
    </Layout>
  );
}
