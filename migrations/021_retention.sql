-- Issue 6 (M15, M16): retention purges.
--
-- 1. The append-only tables (audit_events, document_views) may lose rows in exactly one way: a
--    DELETE inside a transaction that runs as samtale_system (SET LOCAL ROLE, unsafe* code only)
--    AND has set the transaction-local setting samtale.purge to 'on'
--    (select set_config('samtale.purge', 'on', true)). Every other UPDATE or DELETE, by any role,
--    with or without the setting, is still refused. src/modules/retention/steps.ts
--    (unsafePurgeTransaction) is the one place that sets it.
-- 2. Employments keep a row after their personal data is purged (the leader's archive, M15):
--    display_name (copied from the login identity by the purge), purged_at, and user_id, which
--    becomes null at the purge (the identity itself is deleted when nothing else uses it).

create or replace function audit_events_append_only() returns trigger language plpgsql as $$
begin
  if tg_op = 'DELETE'
     and current_user = 'samtale_system'
     and coalesce(current_setting('samtale.purge', true), '') = 'on' then
    return old;
  end if;
  raise exception '% is append-only', tg_table_name;
end $$;

alter table employments add column display_name text check (length(display_name) <= 200);
alter table employments add column purged_at timestamptz;
alter table employments alter column user_id drop not null;
alter table employments drop constraint employments_user_id_fkey;
alter table employments add constraint employments_user_id_fkey
  foreign key (user_id) references users (id) on delete set null;
-- Only a purged employment has no login identity, and a purged one can never be rehired.
alter table employments add constraint employments_identity_or_purged
  check (user_id is not null or purged_at is not null);
alter table employments add constraint employments_purged_stays_fired
  check (purged_at is null or fired_at is not null);
-- The retention runner looks for fired employments by date.
create index employments_fired on employments (fired_at) where fired_at is not null;
