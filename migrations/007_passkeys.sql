-- Passkeys and security keys (WebAuthn) as a second factor (M2, M7, M8).
--
-- A credential belongs to one identity (a user or a platform staff account), like totp_factors.
-- The server keeps only the public key (COSE, base64url text) and the signature counter: nothing
-- here can sign in, so a copy of the table is worthless to an attacker.
create table webauthn_credentials (
  id uuid primary key,
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  -- base64url, as the browser reports it.
  credential_id text not null check (length(credential_id) between 16 and 1400),
  public_key text not null check (length(public_key) between 16 and 4000),
  -- The authenticator's signature counter: an assertion must report a higher one (or 0 when the
  -- authenticator keeps none), so a cloned key shows itself.
  sign_count bigint not null default 0 check (sign_count >= 0),
  transports text not null default '' check (length(transports) <= 200),
  name text not null check (length(name) between 1 and 100),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  check ((user_id is null) <> (staff_id is null))
);
-- Unique per identity rather than globally: a global constraint would tell one identity that a
-- credential id exists on another (row-level security hides the rows, not the constraint).
create unique index webauthn_credentials_user on webauthn_credentials (user_id, credential_id) where user_id is not null;
create unique index webauthn_credentials_staff on webauthn_credentials (staff_id, credential_id) where staff_id is not null;

-- Challenges handed to the browser, kept here so any app node can check the answer (M10).
-- Single use: taking one deletes it. 'login' challenges belong to a pending login and end with
-- it; 'register' and 'reauth' belong to a logged-in identity.
create table webauthn_challenges (
  id uuid primary key,
  user_id uuid references users (id) on delete cascade,
  staff_id uuid references staff_accounts (id) on delete cascade,
  pending_login_id uuid references pending_logins (id) on delete cascade,
  purpose text not null check (purpose in ('register', 'login', 'reauth')),
  challenge text not null unique check (length(challenge) between 16 and 200),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  check ((user_id is null) <> (staff_id is null)),
  check ((purpose = 'login') = (pending_login_id is not null))
);
create index webauthn_challenges_user on webauthn_challenges (user_id);
create index webauthn_challenges_staff on webauthn_challenges (staff_id);
create index webauthn_challenges_pending on webauthn_challenges (pending_login_id);

alter table webauthn_credentials enable row level security;
alter table webauthn_credentials force row level security;
create policy webauthn_credentials_own on webauthn_credentials
  using ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()))
  with check ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()));

alter table webauthn_challenges enable row level security;
alter table webauthn_challenges force row level security;
create policy webauthn_challenges_own on webauthn_challenges
  using ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()))
  with check ((user_id is not null and user_id = app_user_id()) or (staff_id is not null and staff_id = app_staff_id()));

-- The app never rewrites a challenge, and changes a credential only to count its use.
grant select, insert, delete on webauthn_challenges to samtale_app;
grant select, insert, update, delete on webauthn_credentials to samtale_app;
grant select, insert, update, delete on webauthn_credentials, webauthn_challenges to samtale_system;
