-- Two-factor authentication (TOTP, RFC 6238) with single-use recovery codes, and the short-lived
-- "password accepted, second factor pending" state of a login (M2, M6, M7).
--
-- Secrets: the TOTP secret must be readable by the server to check codes, so it cannot be hashed.
-- It is stored as base32 text, reachable only through the owner's RLS context, never logged and
-- never put in audit data. Encrypting it at rest needs a key outside the database (config), which
-- the project does not have yet: a follow-up, listed in docs/security.md.

-- One factor per identity (a user, or a platform staff account). A row without confirmed_at is
-- an enrolment in progress and does not count until a code from it has been accepted.
create table totp_factors (
  id uuid primary key,
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  secret text not null check (length(secret) between 16 and 128),
  confirmed_at timestamptz,
  -- The highest 30-second step accepted so far: a code is accepted only for a later step, so a
  -- used code (or an older one still inside the window) cannot be replayed.
  last_used_step bigint,
  created_at timestamptz not null default now(),
  check ((user_id is null) <> (staff_id is null))
);
create unique index totp_factors_user on totp_factors (user_id) where user_id is not null;
create unique index totp_factors_staff on totp_factors (staff_id) where staff_id is not null;

-- Ten per identity, shown once. Only the SHA-256 of each code is kept; the codes carry 80 random
-- bits, so a fast hash is enough (no dictionary to try).
create table recovery_codes (
  id uuid primary key,
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  code_hash text not null unique,
  used_at timestamptz,
  created_at timestamptz not null default now(),
  check ((user_id is null) <> (staff_id is null))
);
create index recovery_codes_user on recovery_codes (user_id);
create index recovery_codes_staff on recovery_codes (staff_id);

-- After a correct password, a login that needs a second factor gets one of these instead of a
-- session: a random token in its own cookie (only its SHA-256 here), valid 5 minutes, good only
-- for /login/second-factor. purpose 'verify' asks for a code; 'enrol' (staff without a factor,
-- M2) shows the enrolment first. Kept apart from sessions, so nothing that reads sessions can
-- mistake it for one.
create table pending_logins (
  id uuid primary key,
  token_hash text not null unique,
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  company_id uuid references companies (id) on delete cascade,
  purpose text not null check (purpose in ('verify', 'enrol')),
  -- The lower-cased e-mail and the throttle source of the password step: wrong codes count
  -- towards the same M7 block as wrong passwords.
  lookup_email text not null,
  source text not null,
  next text check (length(next) <= 500),
  ip text,
  user_agent text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  check ((user_id is null) <> (staff_id is null)),
  check (user_id is null or company_id is not null)
);
create index pending_logins_user on pending_logins (user_id);
create index pending_logins_staff on pending_logins (staff_id);

alter table totp_factors enable row level security;
alter table totp_factors force row level security;
create policy totp_factors_own on totp_factors
  using ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()))
  with check ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()));

alter table recovery_codes enable row level security;
alter table recovery_codes force row level security;
create policy recovery_codes_own on recovery_codes
  using ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()))
  with check ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()));

alter table pending_logins enable row level security;
alter table pending_logins force row level security;
-- Found by its token hash (the cookie), like a session; otherwise only the identity's own rows.
create policy pending_logins_own on pending_logins
  using (token_hash = app_session_hash()
    or (user_id is not null and user_id = app_user_id())
    or (staff_id is not null and staff_id = app_staff_id()))
  with check ((user_id is not null and user_id = app_user_id())
    or (staff_id is not null and staff_id = app_staff_id()));

grant select, insert, update, delete on totp_factors, recovery_codes, pending_logins to samtale_app;
grant select, insert, update, delete on totp_factors, recovery_codes, pending_logins to samtale_system;
