-- The mail outbox and the periodic job table (issue 8 foundation).
--
-- mail_outbox: a mail is written in the same transaction as the change that causes it
-- (src/platform/mail/mail.ts enqueueMail) and sent later by the delivery job, which runs as
-- samtale_system (unsafeDeliverDueMail). The app role may only insert, and only for the current
-- company, or with no company when the transaction has no company context (staff, pre-login).
-- It can never read, change or delete mail, so no company can see another's mail (M8).
create table mail_outbox (
  id uuid primary key,
  company_id uuid references companies (id) on delete cascade,
  recipient text not null check (length(recipient) between 3 and 254),
  language text not null check (language in ('da', 'en', 'sv')),
  template text not null check (template ~ '^[a-z][a-z0-9_]{0,63}$'),
  -- Only the fields the template allows (validated before insert). Cleared once sent.
  model jsonb not null default '{}',
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts int not null default 0 check (attempts >= 0),
  -- When the next delivery attempt is due; null means now. A claimed row is pushed forward by
  -- the claim lease, so a second runner does not take it while it is being sent.
  next_attempt_at timestamptz,
  -- A short technical reason (SMTP code or error class), never the address or the content.
  last_error text check (length(last_error) <= 500),
  sent_at timestamptz,
  created_at timestamptz not null default now()
);
create index mail_outbox_due on mail_outbox (next_attempt_at nulls first, created_at) where status = 'pending';
create index mail_outbox_recipient on mail_outbox (lower(recipient), created_at desc);
create index mail_outbox_company on mail_outbox (company_id);

alter table mail_outbox enable row level security;
alter table mail_outbox force row level security;
create policy mail_outbox_enqueue on mail_outbox for insert
  with check (company_id is not distinct from app_company_id());
grant insert on mail_outbox to samtale_app;
grant select, insert, update, delete on mail_outbox to samtale_system;

-- Operators see how many mails wait and how many have failed (/readyz, the dev mail page) without
-- the app role being able to read a single row: two numbers, nothing else.
create or replace function mail_outbox_counts(out pending bigint, out failed bigint)
  language sql stable security definer set search_path = pg_catalog, public as
$$ select count(*) filter (where status = 'pending'), count(*) filter (where status = 'failed')
   from public.mail_outbox where status in ('pending', 'failed') $$;
revoke all on function mail_outbox_counts() from public;
grant execute on function mail_outbox_counts() to samtale_app, samtale_system;

-- Periodic named tasks (src/platform/jobs). One row per job; a runner claims a due row with
-- FOR UPDATE SKIP LOCKED and sets a lease (locked_until), so with several app nodes each due
-- run happens once. Only samtale_system touches it.
create table scheduled_jobs (
  name text primary key check (name ~ '^[a-z][a-z0-9_.-]{0,99}$'),
  next_run_at timestamptz not null,
  locked_until timestamptz,
  last_started_at timestamptz,
  last_finished_at timestamptz,
  last_error text check (length(last_error) <= 500),
  runs bigint not null default 0
);
alter table scheduled_jobs enable row level security;
alter table scheduled_jobs force row level security;
grant select, insert, update, delete on scheduled_jobs to samtale_system;
