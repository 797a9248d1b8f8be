-- Foundation: companies, organisation, people, sessions, audit, and the roles that make tenant
-- isolation a property of the database (M8).
--
-- samtale_app:    every request runs as this role (SET LOCAL ROLE). It owns nothing, has no
--                 BYPASSRLS, and sees only the rows the policies admit for the transaction's
--                 app.* settings.
-- samtale_system: used only by functions named unsafe* (jobs, operator tooling). BYPASSRLS.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'samtale_app') then
    create role samtale_app nologin nobypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'samtale_system') then
    create role samtale_system nologin bypassrls;
  end if;
  -- The connecting role must be able to SET ROLE to both (a superuser already can).
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant samtale_app to %I', current_user);
    execute format('grant samtale_system to %I', current_user);
  end if;
end $$;

grant usage on schema public to samtale_app, samtale_system;

-- Transaction-local context, set only by the request helper (src/platform/db/context.ts).
create or replace function app_company_id() returns uuid language sql stable as
$$ select nullif(current_setting('app.company_id', true), '')::uuid $$;
create or replace function app_user_id() returns uuid language sql stable as
$$ select nullif(current_setting('app.user_id', true), '')::uuid $$;
create or replace function app_staff_id() returns uuid language sql stable as
$$ select nullif(current_setting('app.staff_id', true), '')::uuid $$;
create or replace function app_lookup_email() returns text language sql stable as
$$ select nullif(current_setting('app.lookup_email', true), '') $$;
create or replace function app_session_hash() returns text language sql stable as
$$ select nullif(current_setting('app.session_hash', true), '') $$;

create table companies (
  id uuid primary key,
  name text not null check (length(name) between 1 and 200),
  status text not null default 'active' check (status in ('active', 'terminating')),
  default_language text not null default 'da' check (default_language in ('da', 'en', 'sv')),
  min_password_length int not null default 12 check (min_password_length between 8 and 128),
  created_at timestamptz not null default now()
);

-- A login identity. Not owned by one company: a person may be employed in several.
create table users (
  id uuid primary key,
  email text not null check (length(email) between 3 and 254),
  name text not null check (length(name) between 1 and 200),
  password_hash text,
  disabled_at timestamptz,
  created_at timestamptz not null default now()
);
create unique index users_email_key on users (lower(email));

create table departments (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  parent_id uuid references departments (id) on delete restrict,
  name text not null check (length(name) between 1 and 200),
  owner_employment_id uuid,
  created_at timestamptz not null default now(),
  unique (company_id, id),
  check (parent_id is null or parent_id <> id)
);
-- Exactly one root per company.
create unique index departments_one_root on departments (company_id) where parent_id is null;
create index departments_parent on departments (company_id, parent_id);

create table teams (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  department_id uuid not null,
  name text not null check (length(name) between 1 and 200),
  owner_employment_id uuid,
  created_at timestamptz not null default now(),
  unique (company_id, id),
  foreign key (company_id, department_id) references departments (company_id, id) on delete restrict
);
create index teams_department on teams (company_id, department_id);

create table employments (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  title text not null default '' check (length(title) <= 200),
  role text not null default 'employee' check (role in ('employee', 'leader', 'company_admin')),
  language text not null default 'da' check (language in ('da', 'en', 'sv')),
  team_id uuid,
  department_id uuid,
  fired_at timestamptz,
  fired_by uuid,
  created_at timestamptz not null default now(),
  unique (company_id, id),
  unique (company_id, user_id),
  foreign key (company_id, team_id) references teams (company_id, id) on delete restrict,
  foreign key (company_id, department_id) references departments (company_id, id) on delete restrict,
  -- Employees work in a team; departments hold only leaders (and admins).
  check (department_id is null or role in ('leader', 'company_admin')),
  check (team_id is null or department_id is null)
);
create index employments_team on employments (company_id, team_id);
create index employments_user on employments (user_id);

alter table departments add foreign key (company_id, owner_employment_id)
  references employments (company_id, id) on delete set null (owner_employment_id) deferrable initially deferred;
alter table teams add foreign key (company_id, owner_employment_id)
  references employments (company_id, id) on delete set null (owner_employment_id) deferrable initially deferred;

create table delegations (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  employment_id uuid not null,
  responsibility text not null check (responsibility in (
    'dialog_access_edp', 'dialog_access_onboarding', 'dialog_access_siab', 'dialog_access_cv',
    'dialog_access_wpa', 'manage_organisation_department', 'configuration',
    'department_task_report_edp', 'department_task_report_siab', 'department_task_report_wpa')),
  team_id uuid,
  department_id uuid,
  created_at timestamptz not null default now(),
  foreign key (company_id, employment_id) references employments (company_id, id) on delete cascade,
  foreign key (company_id, team_id) references teams (company_id, id) on delete cascade,
  foreign key (company_id, department_id) references departments (company_id, id) on delete cascade,
  check ((team_id is null) <> (department_id is null)),
  -- Dialogue access is granted on teams; the rest on departments (DOMAIN.md).
  check ((responsibility like 'dialog_access_%') = (team_id is not null))
);
create unique index delegations_unique on delegations
  (company_id, employment_id, responsibility, coalesce(team_id, department_id));

-- Platform staff (operators, support) belong to no company.
create table staff_accounts (
  id uuid primary key,
  email text not null check (length(email) between 3 and 254),
  name text not null check (length(name) between 1 and 200),
  role text not null check (role in ('operator', 'support')),
  language text not null default 'en' check (language in ('da', 'en', 'sv')),
  password_hash text,
  disabled_at timestamptz,
  created_at timestamptz not null default now()
);
create unique index staff_accounts_email_key on staff_accounts (lower(email));

-- Server-side sessions; the cookie carries a random token, the table only its SHA-256.
create table sessions (
  id uuid primary key,
  token_hash text not null unique,
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  company_id uuid references companies (id) on delete cascade,
  csrf_token text not null,
  ip text,
  user_agent text,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  check ((user_id is null) <> (staff_id is null))
);
create index sessions_user on sessions (user_id);

-- Append-only trail. Rows are never updated or deleted by the app role.
create table audit_events (
  id bigint generated always as identity primary key,
  company_id uuid references companies (id) on delete cascade,
  actor_user_id uuid,
  actor_staff_id uuid,
  event_type text not null,
  object_type text,
  object_id text,
  data jsonb not null default '{}',
  ip text,
  created_at timestamptz not null default now()
);
create index audit_company_time on audit_events (company_id, created_at desc);

-- Row-level security: enabled and forced on every table the app role can reach.
alter table companies enable row level security;
alter table companies force row level security;
create policy companies_tenant on companies for select
  -- Staff see the company list (name, id, status); nothing inside a company (M13).
  using (id = app_company_id() or app_staff_id() is not null
    or exists (select 1 from employments e where e.company_id = companies.id and e.user_id = app_user_id()));
-- Only the session's own company can be changed; companies are created and purged by the system.
create policy companies_update on companies for update
  using (id = app_company_id()) with check (id = app_company_id());

alter table users enable row level security;
alter table users force row level security;
create policy users_visible on users
  using (id = app_user_id()
    or lower(email) = app_lookup_email()
    or exists (select 1 from employments e where e.user_id = users.id and e.company_id = app_company_id()))
  with check (id = app_user_id() or lower(email) = app_lookup_email() or app_company_id() is not null);

alter table departments enable row level security;
alter table departments force row level security;
create policy departments_tenant on departments
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table teams enable row level security;
alter table teams force row level security;
create policy teams_tenant on teams
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table employments enable row level security;
alter table employments force row level security;
-- A user sees their own employments in every company (to choose one); all else is per tenant.
create policy employments_tenant on employments
  using (company_id = app_company_id() or user_id = app_user_id())
  with check (company_id = app_company_id());

alter table delegations enable row level security;
alter table delegations force row level security;
create policy delegations_tenant on delegations
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table staff_accounts enable row level security;
alter table staff_accounts force row level security;
create policy staff_self on staff_accounts
  using (id = app_staff_id() or lower(email) = app_lookup_email());

alter table sessions enable row level security;
alter table sessions force row level security;
create policy sessions_own on sessions
  using (token_hash = app_session_hash()
    or (user_id is not null and user_id = app_user_id())
    or (staff_id is not null and staff_id = app_staff_id()))
  with check (token_hash = app_session_hash()
    or (user_id is not null and user_id = app_user_id())
    or (staff_id is not null and staff_id = app_staff_id()));

-- Ending someone's sessions in this company when they are fired: a DELETE must also see the rows,
-- so both policies are needed. The token hash is useless without the cookie's token.
create policy sessions_company_see on sessions for select
  using (company_id = app_company_id());
create policy sessions_company_end on sessions for delete
  using (company_id = app_company_id());

alter table audit_events enable row level security;
alter table audit_events force row level security;
create policy audit_read on audit_events for select
  using (company_id = app_company_id());
create policy audit_insert on audit_events for insert
  with check (company_id is null or company_id = app_company_id());

grant select, insert, update, delete on departments, teams, employments, delegations, sessions
  to samtale_app;
grant select, update on companies to samtale_app;
-- A login identity may be shared by several companies: the app role never deletes one (a cascade
-- would reach other companies' rows); purges of identities are system jobs.
grant select, insert, update on users to samtale_app;
grant select, update on staff_accounts to samtale_app;
grant select, insert on audit_events to samtale_app;
grant select, insert, update, delete on all tables in schema public to samtale_system;
grant usage on all sequences in schema public to samtale_app, samtale_system;

create or replace function audit_events_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_events is append-only';
end $$;
create trigger audit_events_no_update before update or delete on audit_events
  for each row execute function audit_events_append_only();

-- The responsible leader of a team: its owner, else the nearest owner up the department tree.
-- Fired owners do not count. Runs as the caller, so row-level security still applies.
create or replace function department_responsible_employment(dept uuid) returns uuid
language sql stable as $$
  with recursive up (id, parent_id, owner, depth) as (
    select d.id, d.parent_id,
      (select e.id from employments e where e.id = d.owner_employment_id and e.fired_at is null), 0
    from departments d where d.id = dept
    union all
    select d.id, d.parent_id,
      (select e.id from employments e where e.id = d.owner_employment_id and e.fired_at is null), up.depth + 1
    from departments d join up on d.id = up.parent_id
    where up.owner is null and up.depth < 100
  )
  select owner from up where owner is not null order by depth limit 1
$$;

create or replace function team_responsible_employment(team uuid) returns uuid
language sql stable as $$
  select coalesce(
    (select e.id from employments e where e.id = t.owner_employment_id and e.fired_at is null),
    department_responsible_employment(t.department_id))
  from teams t where t.id = team
$$;

-- The department and all its ancestors, nearest first.
create or replace function department_ancestors(dept uuid) returns setof uuid
language sql stable as $$
  with recursive up (id, parent_id, depth) as (
    select id, parent_id, 0 from departments where id = dept
    union all
    select d.id, d.parent_id, up.depth + 1 from departments d join up on d.id = up.parent_id where up.depth < 100
  )
  select id from up order by depth
$$;

grant execute on function department_responsible_employment(uuid), team_responsible_employment(uuid),
  department_ancestors(uuid) to samtale_app, samtale_system;
