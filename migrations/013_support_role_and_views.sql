-- Issue 5: "viewed by" on every document (M14), and a database role of its own for platform
-- support inside a company (M13, M19).
--
-- samtale_support: support's transactions inside a company run as this role (SET LOCAL ROLE,
-- src/platform/db/context.ts withSupport). Row-level security admits it to a company only while
-- the company's consent is open (app_company_id(), migration 012). Its grants make it read-only
-- and keep secrets out of reach, in the database rather than by code review: it can read the
-- organisation and the dialogues, but no password hash, second factor, token, session of the
-- company, file or sickness report; it can only add rows to the audit trail, the view log and the
-- outbox, and mark a consent as used.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'samtale_support') then
    create role samtale_support nologin nobypassrls;
  end if;
  if not (select rolsuper from pg_roles where rolname = current_user) then
    execute format('grant samtale_support to %I', current_user);
  end if;
end $$;

grant usage on schema public to samtale_support;
grant select on companies, departments, teams, employments, delegations to samtale_support;
grant select (id, email, name, disabled_at, created_at) on users to samtale_support;
-- The users policies look up the integration API's links (migration 011) when that module is
-- installed; the links hold no secrets.
do $$
begin
  if to_regclass('public.api_users') is not null then
    grant select on api_users to samtale_support;
  end if;
end $$;
grant select on forms, form_versions, dialogue_rounds, dialogues, dialogue_transitions, dialogue_answers,
  agreements, dialogue_signatures to samtale_support;
grant select, update (first_used_at) on support_consents to samtale_support;
-- Its own session: find it and move it into or out of the company.
grant select (id, staff_id, company_id), update (company_id) on sessions to samtale_support;
grant select (id, name, email, role, language, disabled_at) on staff_accounts to samtale_support;
grant insert on audit_events to samtale_support;
grant insert on mail_outbox to samtale_support;

-- Every read of a document (a dialogue, a file, an export) leaves a row here in the same
-- transaction as the read: no read without its row. Append-only like the audit trail.
create table document_views (
  id bigint generated always as identity primary key,
  company_id uuid not null references companies (id) on delete cascade,
  object_type text not null check (object_type in ('dialogue', 'file', 'export')),
  object_id uuid not null,
  viewer_user_id uuid,
  viewer_staff_id uuid,
  -- The viewer's part at the time: employee, leader, delegate, admin or support.
  viewer_role text not null check (viewer_role in ('employee', 'leader', 'delegate', 'admin', 'support')),
  viewed_at timestamptz not null default now(),
  check ((viewer_user_id is null) <> (viewer_staff_id is null))
);
create index document_views_object on document_views (company_id, object_type, object_id, viewed_at desc);

alter table document_views enable row level security;
alter table document_views force row level security;
create policy document_views_tenant on document_views
  using (company_id = app_company_id()) with check (company_id = app_company_id());

create trigger document_views_no_update before update or delete on document_views
  for each row execute function audit_events_append_only();

grant select, insert on document_views to samtale_app, samtale_support;
grant select, insert, delete on document_views to samtale_system;
