-- Issue 9 (P7): operators switch a module off at run time (from the CLI) while a security hole in
-- it is being fixed; users get a clear "temporarily unavailable" page, the API a 503. One row per
-- module that is or was switched; no row means on. Platform data, not a company's: every
-- transaction may read it, only the system role writes it (through `samtale module`).
create table module_switches (
  module text primary key check (module in ('uploads', 'api', 'sso', 'exports', 'email')),
  off boolean not null,
  reason text check (length(reason) <= 500),
  changed_at timestamptz not null default now()
);
alter table module_switches enable row level security;
alter table module_switches force row level security;
create policy module_switches_read on module_switches for select using (true);
grant select on module_switches to samtale_app, samtale_support;
grant select, insert, update, delete on module_switches to samtale_system;
