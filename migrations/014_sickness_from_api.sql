-- Issue 10: the integration API reports employees sick or fit (/v3/siab/dialogs). Such a report
-- has no reporting employment: it names the API token instead, and the sickness-absence
-- dialogue it creates starts with a transition made by the system rather than by a person.

alter table sickness_reports alter column reported_by drop not null;
alter table sickness_reports add column reported_by_api_token uuid;
alter table sickness_reports add column updated_at timestamptz;
alter table sickness_reports add constraint sickness_reports_one_reporter
  check ((reported_by is null) <> (reported_by_api_token is null));

alter table dialogue_transitions alter column actor_employment_id drop not null;

-- The API updates a period (for example when the employee is reported fit).
grant update (from_date, to_date, updated_at, dialogue_id) on sickness_reports to samtale_app;
