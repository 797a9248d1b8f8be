-- The integration API (issue 10): per-company API tokens, the company's API settings, replay
-- protection for signed requests, the customer's own ids, and the API's view of a user.
-- Every table is per company, with forced row-level security (M8).

-- One row per company that has touched its API settings. No row means: legacy headers off, no
-- address restriction.
create table api_settings (
  company_id uuid primary key references companies (id) on delete cascade,
  legacy_headers boolean not null default false,
  -- IPv4 networks in CIDR form; empty means any address.
  allowed_cidrs text[] not null default '{}',
  updated_at timestamptz not null default now()
);

-- A token is shown once. `token_hash` (SHA-256) finds a token sent as a plaintext legacy header;
-- `secret_box` holds the token encrypted with the server's API_TOKEN_KEY (AES-256-GCM, bound to
-- the row's company and id), because verifying an HS256 signature needs the key itself
-- (docs/security.md explains the trade-off).
create table api_tokens (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  token_hash text not null unique check (length(token_hash) = 64),
  secret_box text not null check (length(secret_box) between 1 and 500),
  created_by uuid,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  unique (company_id, id),
  foreign key (company_id, created_by) references employments (company_id, id) on delete set null (created_by)
);
create unique index api_tokens_active_name on api_tokens (company_id, lower(name)) where revoked_at is null;

-- Signatures of accepted JWTs until they expire: the same JWT is accepted once.
create table api_seen_jwts (
  company_id uuid not null references companies (id) on delete cascade,
  signature_hash text not null check (length(signature_hash) = 64),
  expires_at timestamptz not null,
  primary key (company_id, signature_hash)
);
create index api_seen_jwts_expiry on api_seen_jwts (company_id, expires_at);

-- The customer's ids: unique per company and resource type, and one external id per object.
create table api_external_ids (
  company_id uuid not null references companies (id) on delete cascade,
  resource text not null check (resource in ('user', 'employee', 'department', 'team', 'delegation')),
  external_id text not null check (length(external_id) between 1 and 255),
  internal_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (company_id, resource, external_id),
  unique (company_id, resource, internal_id)
);

-- A user as the company's API knows it: the link to the login identity (users is shared by
-- companies) and the fields the reference API carries that Samtale does not otherwise keep.
create table api_users (
  company_id uuid not null references companies (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  username text check (length(username) <= 200),
  gender text check (gender in ('male', 'female', 'other')),
  birthday date,
  primary key (company_id, user_id)
);
create index api_users_user on api_users (user_id);

alter table api_settings enable row level security;
alter table api_settings force row level security;
create policy api_settings_tenant on api_settings
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table api_tokens enable row level security;
alter table api_tokens force row level security;
create policy api_tokens_tenant on api_tokens
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table api_seen_jwts enable row level security;
alter table api_seen_jwts force row level security;
create policy api_seen_jwts_tenant on api_seen_jwts
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table api_external_ids enable row level security;
alter table api_external_ids force row level security;
create policy api_external_ids_tenant on api_external_ids
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table api_users enable row level security;
alter table api_users force row level security;
-- A user's own links are visible in a transaction that names them (app.user_id): the API uses
-- that, read-only, to learn whether an identity is shared with another company before changing
-- its name or e-mail (a change there would reach the other company's account).
create policy api_users_tenant on api_users
  using (company_id = app_company_id() or user_id = app_user_id())
  with check (company_id = app_company_id());

-- A user created through the API has no employment yet: the company that created (or linked) it
-- sees it through its api_users row. Permissive policies add up with users_visible.
create policy users_api_linked on users
  using (exists (select 1 from api_users a where a.user_id = users.id and a.company_id = app_company_id()))
  with check (app_company_id() is not null);

grant select, insert, update on api_settings to samtale_app;
-- Tokens are revoked, never deleted by the app (the audit trail names them).
grant select, insert, update on api_tokens to samtale_app;
grant select, insert, delete on api_seen_jwts to samtale_app;
grant select, insert, delete on api_external_ids to samtale_app;
grant select, insert, update, delete on api_users to samtale_app;
grant select, insert, update, delete on api_settings, api_tokens, api_seen_jwts, api_external_ids, api_users
  to samtale_system;
