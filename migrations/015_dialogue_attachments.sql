-- Attachments on dialogues and agreements (issue 7, P2, P5, M8). A file may now belong to a
-- dialogue (purpose 'dialogue'), and optionally to one of that dialogue's agreements. The same
-- upload pipeline (type by content, zip checks, clamd scan, fail closed) and the same tables are
-- used; who may attach, list and download is decided by the dialogue's rules
-- (src/modules/dialogues/dialogues.policy.ts: the participants only).
--
-- The references are composite (company_id, ...) so a file can never point into another company,
-- and an agreement attachment names its dialogue too, so it can never point at another dialogue's
-- agreement. Row-level security on files is unchanged (migration 010).

alter table files drop constraint files_purpose_check;
alter table files add constraint files_purpose_check check (purpose in ('inbox', 'dialogue'));

alter table files add column dialogue_id uuid;
alter table files add column agreement_id uuid;

alter table agreements add constraint agreements_dialogue_unique unique (company_id, dialogue_id, id);

alter table files add constraint files_dialogue_fk
  foreign key (company_id, dialogue_id) references dialogues (company_id, id) on delete cascade;
alter table files add constraint files_agreement_fk
  foreign key (company_id, dialogue_id, agreement_id) references agreements (company_id, dialogue_id, id) on delete cascade;

-- A dialogue file names its dialogue; an inbox file names none; only a dialogue file may name an agreement.
alter table files add constraint files_dialogue_purpose check (
  (purpose = 'dialogue' and dialogue_id is not null) or (purpose <> 'dialogue' and dialogue_id is null and agreement_id is null)
);

create index files_dialogue on files (company_id, dialogue_id, created_at) where dialogue_id is not null;
