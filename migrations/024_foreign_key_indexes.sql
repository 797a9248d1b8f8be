-- Indexes for the foreign keys that point at employments (and for the department tree's parent).
--
-- PostgreSQL checks a foreign key on every DELETE of the referenced row by looking for rows that
-- still point at it. Without an index on the referencing columns that is a full scan of the
-- referencing table per deleted employment, which made the retention purge (M15) and the company
-- purge (M16) grow much faster than the company: the benchmark (bench/README.md) purged 2,201
-- people in 30 s and did not finish 11,001 in 120 s. The same indexes serve the hand-over triggers
-- and the leader pages, which look dialogues and units up by their owner.
create index if not exists dialogue_rounds_created_by on dialogue_rounds (company_id, created_by);
create index if not exists dialogue_transitions_actor on dialogue_transitions (company_id, actor_employment_id);
create index if not exists dialogue_answers_updated_by on dialogue_answers (company_id, updated_by);
create index if not exists sickness_reports_reported_by on sickness_reports (company_id, reported_by);
create index if not exists dialogue_signatures_employment on dialogue_signatures (company_id, employment_id);
create index if not exists files_uploaded_by on files (company_id, uploaded_by);
create index if not exists api_tokens_created_by on api_tokens (company_id, created_by);
create index if not exists employee_imports_uploaded_by on employee_imports (company_id, uploaded_by);
create index if not exists mus_requests_employee on mus_requests (company_id, employee_employment_id);
create index if not exists mus_requests_fulfilled_by on mus_requests (company_id, fulfilled_by);
create index if not exists teams_owner on teams (company_id, owner_employment_id);
create index if not exists departments_owner on departments (company_id, owner_employment_id);
-- departments.parent_id references departments (id) alone; the existing (company_id, parent_id)
-- index cannot serve that check.
create index if not exists departments_parent_id on departments (parent_id);
