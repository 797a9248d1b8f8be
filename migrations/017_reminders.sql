-- Issue 8: reminders that make people follow up, each sent once, mirrored in the app, and the
-- person's choice of which non-security reminders they get by e-mail and whether as a daily digest.

-- In-app notifications: every reminder e-mail has one (and reminders switched off by e-mail still
-- land here). No names, no content: a kind of task, a date, a link.
create table notifications (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  employment_id uuid not null,
  reminder text not null check (reminder ~ '^[a-z_]{1,40}$'),
  deadline timestamptz,
  path text not null check (path ~ '^/[^/\\]' and length(path) <= 500),
  created_at timestamptz not null default now(),
  read_at timestamptz,
  -- When it went out in a daily digest (for people who chose one).
  digested_at timestamptz,
  foreign key (company_id, employment_id) references employments (company_id, id) on delete cascade
);
create index notifications_owner on notifications (company_id, employment_id, created_at desc);

alter table notifications enable row level security;
alter table notifications force row level security;
-- One's own notifications (read, mark read); a leader's nudge adds one for someone in the company.
create policy notifications_own on notifications
  using (company_id = app_company_id()
    and exists (select 1 from employments e where e.id = employment_id and e.user_id = app_user_id()))
  with check (company_id = app_company_id());
create policy notifications_insert on notifications for insert
  with check (company_id = app_company_id());

-- Each reminder once: per subject (dialogue or agreement), kind, recipient and date ('1970-01-01'
-- for the reminders that are sent once ever).
create table reminders_sent (
  company_id uuid not null references companies (id) on delete cascade,
  subject_id uuid not null,
  reminder text not null,
  employment_id uuid not null,
  on_date date not null,
  created_at timestamptz not null default now(),
  primary key (company_id, subject_id, reminder, employment_id, on_date)
);
alter table reminders_sent enable row level security;
alter table reminders_sent force row level security;
create policy reminders_sent_tenant on reminders_sent
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table employments add column reminders_off text[] not null default '{}';
alter table employments add column reminders_digest boolean not null default false;

grant select, insert on notifications, reminders_sent to samtale_app;
grant update (read_at) on notifications to samtale_app;
grant select, insert, update, delete on notifications, reminders_sent to samtale_system;

-- Security and account notices are mirrored too: a person may add notifications to their own
-- employments (in any of their companies), e.g. in the transaction of a lockout or a new login.
create policy notifications_own_insert on notifications for insert
  with check (exists (select 1 from employments e where e.id = employment_id and e.company_id = notifications.company_id and e.user_id = app_user_id()));
-- Support's first use of a consent tells the company's admins in the app as well.
grant insert on notifications to samtale_support;
