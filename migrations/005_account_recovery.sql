-- Issue 3: invitations, password resets, unlock links and e-mail changes by single-use link;
-- request-rate limits for every authentication endpoint; lockout notices sent at most once an hour.

-- A link sent by e-mail carries a 256-bit random token; only its SHA-256 is stored here.
--   invitation      72 h; lets a new person set a password (company_id: the inviting company)
--   password_reset   1 h; sets a new password, never logs in (the second factor still applies)
--   unlock          24 h; lifts the block on unknown sources after the account-wide limit
--   email_change    24 h; sent to the new address, which becomes the login when the link is used
create table account_tokens (
  id uuid primary key,
  token_hash text not null unique,
  purpose text not null check (purpose in ('invitation', 'password_reset', 'unlock', 'email_change')),
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  company_id uuid references companies (id) on delete cascade,
  new_email text check (length(new_email) <= 254),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  check ((user_id is null) <> (staff_id is null)),
  check ((purpose = 'email_change') = (new_email is not null)),
  check (purpose <> 'invitation' or company_id is not null)
);
create index account_tokens_user on account_tokens (user_id, purpose);
create index account_tokens_staff on account_tokens (staff_id, purpose);
create index account_tokens_expiry on account_tokens (expires_at);

alter table account_tokens enable row level security;
alter table account_tokens force row level security;
-- Read: by the link's token hash (the only thing a visitor has), the identity's own rows, or a
-- company's own invitations. Written: for the identity in the context (resets and unlocks enter
-- the context of the account they found by e-mail, as the login does), or as an invitation of
-- the current company.
create policy account_tokens_access on account_tokens
  using (token_hash = app_session_hash()
    or (user_id is not null and user_id = app_user_id())
    or (staff_id is not null and staff_id = app_staff_id())
    or (purpose = 'invitation' and company_id = app_company_id()))
  with check ((user_id is not null and user_id = app_user_id())
    or (staff_id is not null and staff_id = app_staff_id())
    or (purpose = 'invitation' and company_id = app_company_id())
    or token_hash = app_session_hash());

grant select, insert, update, delete on account_tokens to samtale_app;
grant select, insert, update, delete on account_tokens to samtale_system;

-- Request counters for rate limits, in fixed windows, shared by every app node (M10). A bucket
-- names the endpoint and a SHA-256 of the IP address or e-mail: no personal data in clear, and
-- nothing tenant-specific, so every transaction may count (the policy admits all rows).
create table rate_limits (
  bucket text not null check (length(bucket) <= 200),
  window_start timestamptz not null,
  hits int not null default 0,
  primary key (bucket, window_start)
);
create index rate_limits_window on rate_limits (window_start);
alter table rate_limits enable row level security;
alter table rate_limits force row level security;
create policy rate_limits_counters on rate_limits using (true) with check (true);
grant select, insert, update on rate_limits to samtale_app;
grant select, insert, update, delete on rate_limits to samtale_system;

-- The lockout notice e-mail goes out at most once an hour per block row.
alter table login_throttle add column notified_at timestamptz;
