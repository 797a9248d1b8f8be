-- Files (issue 7, P2, P5): the secure uploader. Metadata in `files`, content in `file_chunks`
-- (pieces of at most 512 KiB, so no code needs a whole file in memory). Downloads are recorded in
-- `document_views` (the "viewed by" list, M14).
--
-- A file is `uploading` while its chunks arrive (each chunk in its own short transaction), then
-- `waiting` until clamd has scanned it, then `available` or `infected` (content deleted). Only
-- `available` files can be downloaded; an `uploading` row is never listed, and rows left behind
-- by a crash are removed by the files.maintenance job. Every row carries company_id with forced
-- row-level security keyed on app_company_id() (M8); who may list or download inside the company
-- is decided by src/modules/files/files.policy.ts.
--
-- Content is not yet encrypted at the application level: the per-company keys of issue 6 slot
-- into src/platform/storage/encryption.ts (`file_chunks.cipher` says how each chunk is stored).

create table files (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  -- Where the file was sent. Only the company's secure inbox today; dialogue attachments later.
  purpose text not null check (purpose in ('inbox')),
  uploaded_by uuid,
  -- The cleaned display name (never used as a path), its kind as recognised from the content.
  name text not null check (length(name) between 1 and 200),
  kind text not null check (kind in ('pdf', 'docx', 'xlsx', 'odt', 'ods', 'csv', 'txt', 'png', 'jpeg')),
  content_type text not null check (length(content_type) <= 100),
  size_bytes bigint not null default 0 check (size_bytes >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  state text not null default 'uploading' check (state in ('uploading', 'waiting', 'available', 'infected')),
  -- Scanning: attempts so far, the last problem as a short code, when to try again (also the
  -- lease that keeps two runners from scanning the same file at once).
  scan_attempts int not null default 0,
  scan_error text check (length(scan_error) <= 100),
  next_scan_at timestamptz,
  scanned_at timestamptz,
  -- The signature clamd reported, for infected files (the content itself is gone).
  signature text check (length(signature) <= 200),
  created_at timestamptz not null default now(),
  unique (company_id, id),
  foreign key (company_id, uploaded_by) references employments (company_id, id) on delete set null (uploaded_by)
);
create index files_company_state on files (company_id, state, created_at);
create index files_scan_due on files (next_scan_at) where state = 'waiting';

create table file_chunks (
  company_id uuid not null,
  file_id uuid not null,
  seq int not null check (seq >= 0),
  -- 'none': stored as uploaded. The retention issue's per-company keys will add their own value.
  cipher text not null default 'none' check (length(cipher) <= 50),
  data bytea not null,
  primary key (file_id, seq),
  foreign key (company_id, file_id) references files (company_id, id) on delete cascade
);

alter table files enable row level security;
alter table files force row level security;
create policy files_tenant on files
  using (company_id = app_company_id()) with check (company_id = app_company_id());

alter table file_chunks enable row level security;
alter table file_chunks force row level security;
create policy file_chunks_tenant on file_chunks
  using (company_id = app_company_id()) with check (company_id = app_company_id());

-- The app role writes chunks and deletes them (an infected file, an abandoned upload). Downloads
-- are recorded in document_views (object_type 'file', migration 013) and the audit trail.
grant select, insert, update, delete on files, file_chunks to samtale_app;
grant select, insert, update, delete on files, file_chunks to samtale_system;
