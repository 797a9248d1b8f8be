-- Issue 5 (M13, M19, P4): platform support sees a company's data only while the company's admin
-- has ticked "Allow Samtale support to access our data", with a reason and an expiry (at most 7
-- days), and never after the tick is removed.
--
-- Enforced in the database: every tenant policy compares company_id with app_company_id(). For a
-- transaction of platform staff that function now answers the requested company only while an
-- active consent row exists for it, and NULL otherwise, so a support transaction without consent
-- sees no tenant row at all, whatever the query. Users' transactions are unchanged.

create table support_consents (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  -- The company admin's employment that gave (and the one that withdrew) the consent.
  granted_by uuid not null,
  reason text not null check (length(reason) between 1 and 500),
  -- A second, separate tick: support may also change things (otherwise read-only).
  allow_edit boolean not null default false,
  granted_at timestamptz not null,
  expires_at timestamptz not null,
  withdrawn_at timestamptz,
  withdrawn_by uuid,
  -- When support first entered the company under this consent (the admins are told once).
  first_used_at timestamptz,
  check (expires_at > granted_at and expires_at <= granted_at + interval '7 days')
);
create index support_consents_company on support_consents (company_id, expires_at desc);
-- At most one consent open at a time per company.
create unique index support_consents_one_open on support_consents (company_id) where withdrawn_at is null;

-- The transaction's notion of "now": the app's clock when it set one (support paths do), else the
-- database's.
create or replace function app_now() returns timestamptz language sql stable as
$$ select coalesce(nullif(current_setting('app.now', true), '')::timestamptz, now()) $$;

create or replace function app_support_consent_active(company uuid) returns boolean
language sql stable security definer set search_path = public, pg_temp as $$
  select exists (
    select 1 from support_consents c
    where c.company_id = company and c.withdrawn_at is null and c.expires_at > app_now())
$$;

create or replace function app_company_id() returns uuid language sql stable as $$
  select case
    when nullif(current_setting('app.staff_id', true), '') is null
      then nullif(current_setting('app.company_id', true), '')::uuid
    when app_support_consent_active(nullif(current_setting('app.company_id', true), '')::uuid)
      then nullif(current_setting('app.company_id', true), '')::uuid
    else null
  end
$$;

alter table support_consents enable row level security;
alter table support_consents force row level security;
-- The company's own users (admins, decided by the app) read and write their company's consents;
-- the raw setting is used, not app_company_id(), so staff can never write one. Staff read the
-- consents (status, reason, expiry) to know which companies they may enter.
create policy support_consents_company on support_consents
  using (app_staff_id() is null and company_id = nullif(current_setting('app.company_id', true), '')::uuid)
  with check (app_staff_id() is null and company_id = nullif(current_setting('app.company_id', true), '')::uuid);
create policy support_consents_staff_read on support_consents for select
  using (app_staff_id() is not null);

grant select, insert, update on support_consents to samtale_app;
grant select, insert, update, delete on support_consents to samtale_system;

-- A staff session inside a company (support, with consent) carries that company in
-- sessions.company_id; the session loader checks the consent on every request.
-- Staff may mark a consent as used (first_used_at), nothing else:
create policy support_consents_staff_use on support_consents for update
  using (app_staff_id() is not null and company_id = app_company_id())
  with check (app_staff_id() is not null and company_id = app_company_id());
