-- M7: blocking after 3 failed attempts, keyed by account and source, so an attacker elsewhere
-- cannot lock the real user out of their own device.
--   subject: SHA-256 of the lower-cased e-mail (known and unknown accounts alike: no enumeration)
--   source:  'device:<sha256 of the device cookie>', 'ip:<address>', or '*' for all sources that
--            have never logged in successfully to this account.
create table login_throttle (
  subject text not null,
  source text not null,
  failures int not null default 0,
  level int not null default 0,
  blocked_until timestamptz,
  succeeded_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (subject, source)
);

alter table login_throttle enable row level security;
alter table login_throttle force row level security;
-- Only the rows of the e-mail the login transaction is looking up.
create policy login_throttle_subject on login_throttle
  using (subject = encode(sha256(convert_to(app_lookup_email(), 'UTF8')), 'hex'))
  with check (subject = encode(sha256(convert_to(app_lookup_email(), 'UTF8')), 'hex'));

grant select, insert, update on login_throttle to samtale_app;
grant select, insert, update, delete on login_throttle to samtale_system;
