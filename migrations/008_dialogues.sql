-- Dialogues (issue #4): forms with immutable versions, rounds, dialogues with their state
-- history, answers with optimistic versions, shared notes, agreements and signatures.
--
-- Every row carries company_id; every table has forced row-level security keyed on
-- app_company_id(). Who inside the company may read a dialogue's content is decided in the
-- service (src/modules/dialogues/dialogues.policy.ts); the database keeps companies apart (M8).
-- Free text (answers, notes, agreements, disagreement comments) lives only in the columns named
-- *_text / value below, read and written only by src/modules/dialogues/dialogues.repository.ts,
-- so per-company encryption (#6) has one place to change.

-- Statistics show an average only where at least this many people answered (issue #4); a company
-- may raise it, never lower it below 3, so no one's answers can be singled out.
alter table companies add column statistics_threshold int not null default 5
  check (statistics_threshold between 3 and 1000);

-- A form belongs to a company. Built-in forms (src/modules/forms/builtin.ts) are copied into a
-- company the first time they are used, keyed by builtin_key.
create table forms (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  builtin_key text,
  kind text not null check (kind in ('mus', 'grus', 'onboarding', 'sickness')),
  name text not null check (length(name) between 1 and 200),
  language text not null check (language in ('da', 'en', 'sv')),
  created_at timestamptz not null default now(),
  unique (company_id, id)
);
create unique index forms_builtin on forms (company_id, builtin_key) where builtin_key is not null;

-- A version is immutable once written: editing a form means inserting the next version.
create table form_versions (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  form_id uuid not null,
  version int not null check (version >= 1),
  definition jsonb not null,
  created_at timestamptz not null default now(),
  unique (company_id, id),
  unique (company_id, form_id, version),
  foreign key (company_id, form_id) references forms (company_id, id) on delete cascade
);

create or replace function form_versions_immutable() returns trigger language plpgsql as $$
begin
  raise exception 'form versions are immutable; insert a new version instead';
end $$;
create trigger form_versions_no_update before update on form_versions
  for each row execute function form_versions_immutable();

create table dialogue_rounds (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  form_version_id uuid not null,
  team_id uuid,
  department_id uuid,
  preparation_deadline date not null,
  meeting_from date not null,
  meeting_to date not null,
  created_by uuid not null,
  created_at timestamptz not null default now(),
  unique (company_id, id),
  check ((team_id is null) <> (department_id is null)),
  check (meeting_from <= meeting_to),
  foreign key (company_id, form_version_id) references form_versions (company_id, id),
  foreign key (company_id, team_id) references teams (company_id, id) on delete set null (team_id),
  foreign key (company_id, department_id) references departments (company_id, id) on delete set null (department_id),
  foreign key (company_id, created_by) references employments (company_id, id)
);

-- A dialogue belongs to a round, except a sickness-absence dialogue, which is made one at a time
-- from a sickness report (below) and never listed with the rounds.
create table dialogues (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  round_id uuid,
  form_version_id uuid not null,
  employee_employment_id uuid not null,
  leader_employment_id uuid not null,
  -- The employee's team when the dialogue was made: dialog_access_edp delegations are on teams.
  team_id uuid,
  state text not null default 'invited' check (state in ('invited', 'preparing', 'meeting', 'signing', 'closed')),
  employee_submitted_at timestamptz,
  leader_submitted_at timestamptz,
  meeting_at timestamptz,
  meeting_place text check (length(meeting_place) <= 500),
  notes_text text not null default '' check (length(notes_text) <= 20000),
  notes_version int not null default 0,
  disagreement_text text check (length(disagreement_text) <= 5000),
  created_at timestamptz not null default now(),
  unique (company_id, id),
  unique (company_id, round_id, employee_employment_id),
  foreign key (company_id, round_id) references dialogue_rounds (company_id, id) on delete cascade,
  foreign key (company_id, form_version_id) references form_versions (company_id, id),
  foreign key (company_id, employee_employment_id) references employments (company_id, id),
  foreign key (company_id, leader_employment_id) references employments (company_id, id),
  foreign key (company_id, team_id) references teams (company_id, id) on delete set null (team_id)
);
create index dialogues_employee on dialogues (company_id, employee_employment_id);
create index dialogues_leader on dialogues (company_id, leader_employment_id);
create index dialogues_team on dialogues (company_id, team_id);

-- Every change of state, with who and when. Append-only for the app role.
create table dialogue_transitions (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  dialogue_id uuid not null,
  from_state text,
  to_state text not null,
  actor_employment_id uuid not null,
  created_at timestamptz not null default now(),
  foreign key (company_id, dialogue_id) references dialogues (company_id, id) on delete cascade,
  foreign key (company_id, actor_employment_id) references employments (company_id, id)
);
create index dialogue_transitions_dialogue on dialogue_transitions (company_id, dialogue_id, created_at);

-- One answer per question and side ('employee', 'leader', or 'shared' for meeting questions).
-- `version` grows by one with every save: a save naming an older version is refused (no silent
-- overwrite), and the refused text is shown next to the saved one.
create table dialogue_answers (
  company_id uuid not null references companies (id) on delete cascade,
  dialogue_id uuid not null,
  question_id text not null check (length(question_id) between 1 and 64),
  side text not null check (side in ('employee', 'leader', 'shared')),
  value text not null check (length(value) <= 20000),
  version int not null check (version >= 1),
  updated_by uuid not null,
  updated_at timestamptz not null default now(),
  primary key (company_id, dialogue_id, question_id, side),
  foreign key (company_id, dialogue_id) references dialogues (company_id, id) on delete cascade,
  foreign key (company_id, updated_by) references employments (company_id, id)
);

create table agreements (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  dialogue_id uuid not null,
  employee_employment_id uuid not null,
  -- Set when the agreement was carried over, still open, from an earlier dialogue.
  carried_from uuid,
  title_text text not null check (length(title_text) between 1 and 500),
  description_text text not null default '' check (length(description_text) <= 5000),
  owner text not null check (owner in ('employee', 'leader')),
  deadline date,
  follow_up date,
  status text not null default 'open' check (status in ('open', 'in_progress', 'done', 'dropped')),
  progress_text text not null default '' check (length(progress_text) <= 10000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (company_id, id),
  foreign key (company_id, dialogue_id) references dialogues (company_id, id) on delete cascade,
  foreign key (company_id, employee_employment_id) references employments (company_id, id),
  foreign key (company_id, carried_from) references agreements (company_id, id) on delete set null (carried_from)
);
create index agreements_dialogue on agreements (company_id, dialogue_id);
create index agreements_employee on agreements (company_id, employee_employment_id);

-- An employee reported sick from a date, optionally to a date. When the period still matters
-- (not ended, begun at most two months ago) the report makes a sickness-absence dialogue: the
-- responsible leader's task. The dates are health data: they never go into the audit trail.
create table sickness_reports (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  employee_employment_id uuid not null,
  from_date date not null,
  to_date date,
  reported_by uuid not null,
  dialogue_id uuid,
  created_at timestamptz not null default now(),
  unique (company_id, id),
  check (to_date is null or to_date >= from_date),
  foreign key (company_id, employee_employment_id) references employments (company_id, id),
  foreign key (company_id, reported_by) references employments (company_id, id),
  foreign key (company_id, dialogue_id) references dialogues (company_id, id) on delete set null (dialogue_id)
);
create index sickness_reports_employee on sickness_reports (company_id, employee_employment_id);

create table dialogue_signatures (
  company_id uuid not null references companies (id) on delete cascade,
  dialogue_id uuid not null,
  side text not null check (side in ('employee', 'leader')),
  employment_id uuid not null,
  signed_at timestamptz not null,
  primary key (company_id, dialogue_id, side),
  foreign key (company_id, dialogue_id) references dialogues (company_id, id) on delete cascade,
  foreign key (company_id, employment_id) references employments (company_id, id)
);

alter table forms enable row level security;
alter table forms force row level security;
create policy forms_tenant on forms
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table form_versions enable row level security;
alter table form_versions force row level security;
create policy form_versions_tenant on form_versions
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table dialogue_rounds enable row level security;
alter table dialogue_rounds force row level security;
create policy dialogue_rounds_tenant on dialogue_rounds
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table dialogues enable row level security;
alter table dialogues force row level security;
create policy dialogues_tenant on dialogues
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table dialogue_transitions enable row level security;
alter table dialogue_transitions force row level security;
create policy dialogue_transitions_tenant on dialogue_transitions
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table dialogue_answers enable row level security;
alter table dialogue_answers force row level security;
create policy dialogue_answers_tenant on dialogue_answers
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table agreements enable row level security;
alter table agreements force row level security;
create policy agreements_tenant on agreements
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table sickness_reports enable row level security;
alter table sickness_reports force row level security;
create policy sickness_reports_tenant on sickness_reports
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table dialogue_signatures enable row level security;
alter table dialogue_signatures force row level security;
create policy dialogue_signatures_tenant on dialogue_signatures
  using (company_id = app_company_id()) with check (company_id = app_company_id());

-- Least privilege: nothing here is deleted by the app except a reopened dialogue's signatures;
-- versions and transitions are never changed once written.
grant select, insert on forms, form_versions, dialogue_transitions, sickness_reports to samtale_app;
grant select, insert, update on dialogue_rounds, dialogues, dialogue_answers, agreements to samtale_app;
grant select, insert, delete on dialogue_signatures to samtale_app;
grant select, insert, update, delete on forms, form_versions, dialogue_rounds, dialogues,
  dialogue_transitions, dialogue_answers, agreements, dialogue_signatures, sickness_reports to samtale_system;
