-- The rest of the foreign keys without an index on their referencing columns (found with a
-- catalog query on the benchmark database after 024). The one that mattered most:
-- agreements.carried_from points at the agreement of last year's dialogue, so deleting a company's
-- agreements checked every other agreement of the company once per deleted row, which made the
-- company purge (M16) grow with the square of the company's size.
create index if not exists agreements_carried_from on agreements (company_id, carried_from);
create index if not exists employments_department on employments (company_id, department_id);
create index if not exists delegations_department on delegations (company_id, department_id);
create index if not exists delegations_team on delegations (company_id, team_id);
create index if not exists dialogue_rounds_department on dialogue_rounds (company_id, department_id);
create index if not exists dialogue_rounds_team on dialogue_rounds (company_id, team_id);
create index if not exists dialogue_rounds_form_version on dialogue_rounds (company_id, form_version_id);
create index if not exists dialogues_form_version on dialogues (company_id, form_version_id);
create index if not exists sickness_reports_dialogue on sickness_reports (company_id, dialogue_id);
create index if not exists mus_requests_mus_dialogue on mus_requests (company_id, mus_dialogue_id);
create index if not exists files_agreement on files (company_id, dialogue_id, agreement_id);
create index if not exists employee_imports_file on employee_imports (company_id, file_id);
create index if not exists sessions_staff on sessions (staff_id);
