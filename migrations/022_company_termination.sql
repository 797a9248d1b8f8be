-- Issue 6 (M16): companies that leave.
--
-- A termination is asked for by a company admin (with the second factor) or a platform operator
-- (CLI). For 14 days it can be cancelled; companies.status is 'terminating' meanwhile. Then the
-- retention runner purges every row and file of the company and destroys its data key in the
-- key store, where the tombstone (the operator's record) also lives: outside this database and
-- its backups, so a restored old backup is purged again at start-up (reapplyTombstones).

create table company_terminations (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  requested_at timestamptz not null,
  purge_after timestamptz not null,
  -- Who asked: a company admin's employment, or an operator (CLI user name or staff account).
  requested_by_employment uuid,
  requested_by_operator text check (length(requested_by_operator) <= 200),
  reason text check (length(reason) <= 500),
  cancelled_at timestamptz,
  cancelled_by text check (length(cancelled_by) <= 200),
  -- When the "two days left" mail went to the admins (sent once).
  warned_at timestamptz,
  check (purge_after > requested_at),
  check (requested_by_employment is not null or requested_by_operator is not null),
  foreign key (company_id, requested_by_employment) references employments (company_id, id) on delete set null (requested_by_employment)
);
-- At most one open (not cancelled) termination per company.
create unique index company_terminations_one_open on company_terminations (company_id) where cancelled_at is null;
create index company_terminations_due on company_terminations (purge_after) where cancelled_at is null;

alter table company_terminations enable row level security;
alter table company_terminations force row level security;
create policy company_terminations_tenant on company_terminations
  using (company_id = app_company_id()) with check (company_id = app_company_id());

grant select, insert, update on company_terminations to samtale_app;
grant select on company_terminations to samtale_support;
grant select, insert, update, delete on company_terminations to samtale_system;

-- A purged company's audit chain head goes with its rows.
grant delete on audit_chain_heads to samtale_system;

-- TOTP secrets are stored sealed (AES-256-GCM with the platform key, 'sx1:' + base64url), longer
-- than the plain base32 secret.
alter table totp_factors drop constraint if exists totp_factors_secret_check;
alter table totp_factors add constraint totp_factors_secret_check check (length(secret) between 16 and 512);

-- Free text of dialogues will be stored sealed with the company key (src/platform/crypto/envelope.ts:
-- 'sx1:' + base64url, about 4/3 of the UTF-8 bytes plus 51 characters). The application checks the
-- length of the plain text; the database only keeps a generous bound on the stored form.
alter table dialogues drop constraint if exists dialogues_notes_text_check;
alter table dialogues add constraint dialogues_notes_text_check check (length(notes_text) <= 6 * 20000 + 100);
alter table dialogues drop constraint if exists dialogues_disagreement_text_check;
alter table dialogues add constraint dialogues_disagreement_text_check check (length(disagreement_text) <= 6 * 5000 + 100);
alter table dialogue_answers drop constraint if exists dialogue_answers_value_check;
alter table dialogue_answers add constraint dialogue_answers_value_check check (length(value) <= 6 * 20000 + 100);
alter table agreements drop constraint if exists agreements_title_text_check;
alter table agreements add constraint agreements_title_text_check check (length(title_text) between 1 and 6 * 500 + 100);
alter table agreements drop constraint if exists agreements_description_text_check;
alter table agreements add constraint agreements_description_text_check check (length(description_text) <= 6 * 5000 + 100);
alter table agreements drop constraint if exists agreements_progress_text_check;
alter table agreements add constraint agreements_progress_text_check check (length(progress_text) <= 6 * 10000 + 100);
alter table mus_requests drop constraint if exists mus_requests_reason_text_check;
alter table mus_requests add constraint mus_requests_reason_text_check check (length(reason_text) <= 6 * 2000 + 100);
