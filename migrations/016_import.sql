-- Employee import (issue 7, P2, M8): HR uploads a CSV or XLSX of employees through the secure
-- uploader (type by content, clamd scan, fail closed), previews every row's problems, and applies
-- it in one transaction. The file itself is an ordinary `files` row (migration 010) sent to the
-- company's secure inbox; this table marks which files were sent for an import, by whom, and what
-- became of them. When the import is applied, refused (a CPR number in it) or discarded, the file's content
-- and row are deleted in the same transaction (file_id becomes null) and audited; this row stays
-- as a small receipt with counts only, never names, e-mails or CPR numbers.

create table employee_imports (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  file_id uuid,
  uploaded_by uuid,
  state text not null default 'pending' check (state in ('pending', 'applied', 'refused', 'discarded')),
  created_count int not null default 0 check (created_count >= 0),
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  unique (company_id, id),
  foreign key (company_id, file_id) references files (company_id, id) on delete set null (file_id),
  foreign key (company_id, uploaded_by) references employments (company_id, id) on delete set null (uploaded_by)
);
create index employee_imports_company on employee_imports (company_id, created_at);

alter table employee_imports enable row level security;
alter table employee_imports force row level security;
create policy employee_imports_tenant on employee_imports
  using (company_id = app_company_id()) with check (company_id = app_company_id());

grant select, insert, update on employee_imports to samtale_app;
grant select, insert, update, delete on employee_imports to samtale_system;
