-- Issue 5 (M20): the audit trail is hash-chained per company, so a row changed or removed by
-- someone who got past the append-only trigger (a superuser, a restored backup) is found by
-- `samtale audit verify`.
--
-- Each row gets, inside a BEFORE INSERT trigger:
--   chain_seq  1, 2, 3, ... within its chain (the company, or 'platform' for rows without one)
--   prev_hash  the row_hash of the chain's previous row ('' for the first)
--   row_hash   SHA-256 of a JSON array of every column and prev_hash (audit_row_hash below)
-- The chain's head (last seq and hash) lives in audit_chain_heads, locked by the trigger, so two
-- transactions of one company append one after the other; the lock is held to commit, so seq order
-- is commit order. Neither table is reachable by the app role except through the trigger.

alter table audit_events add column user_agent text check (length(user_agent) <= 300);
alter table audit_events add column chain_seq bigint;
alter table audit_events add column prev_hash text;
alter table audit_events add column row_hash text;

create table audit_chain_heads (
  chain text primary key,
  seq bigint not null,
  hash text not null
);
-- How far the log shipper has written each chain to the JSON log.
create table audit_shipped (
  chain text primary key,
  seq bigint not null
);
grant select on audit_chain_heads to samtale_system;
grant select, insert, update, delete on audit_shipped to samtale_system;

create or replace function audit_chain_key(company uuid) returns text language sql immutable as
$$ select coalesce(company::text, 'platform') $$;

-- The canonical text of a row: a JSON array, so no value can be mistaken for a separator.
create or replace function audit_row_hash(a audit_events) returns text language sql stable as $$
  select encode(sha256(convert_to(jsonb_build_array(
    a.chain_seq, a.company_id, a.actor_user_id, a.actor_staff_id, a.event_type, a.object_type,
    a.object_id, a.data, a.ip, a.user_agent,
    to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), a.prev_hash)::text, 'UTF8')), 'hex')
$$;

create or replace function audit_events_chain() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  key text := audit_chain_key(new.company_id);
  head audit_chain_heads%rowtype;
begin
  insert into audit_chain_heads (chain, seq, hash) values (key, 0, '') on conflict (chain) do nothing;
  select * into head from audit_chain_heads where chain = key for update;
  new.chain_seq := head.seq + 1;
  new.prev_hash := head.hash;
  new.row_hash := audit_row_hash(new);
  update audit_chain_heads set seq = new.chain_seq, hash = new.row_hash where chain = key;
  return new;
end $$;

-- Rows written before this migration join their chain now, in id order.
do $$
declare
  r audit_events%rowtype;
  key text;
  head audit_chain_heads%rowtype;
begin
  alter table audit_events disable trigger audit_events_no_update;
  for r in select * from audit_events order by id loop
    key := audit_chain_key(r.company_id);
    insert into audit_chain_heads (chain, seq, hash) values (key, 0, '') on conflict (chain) do nothing;
    select * into head from audit_chain_heads where chain = key;
    r.chain_seq := head.seq + 1;
    r.prev_hash := head.hash;
    r.row_hash := audit_row_hash(r);
    update audit_events set chain_seq = r.chain_seq, prev_hash = r.prev_hash, row_hash = r.row_hash where id = r.id;
    update audit_chain_heads set seq = r.chain_seq, hash = r.row_hash where chain = key;
  end loop;
  alter table audit_events enable trigger audit_events_no_update;
end $$;

create trigger audit_events_chain before insert on audit_events
  for each row execute function audit_events_chain();

alter table audit_events alter column chain_seq set not null;
alter table audit_events alter column prev_hash set not null;
alter table audit_events alter column row_hash set not null;
create unique index audit_events_chain_seq on audit_events (audit_chain_key(company_id), chain_seq);
create index audit_events_type on audit_events (company_id, event_type, created_at desc);
create index audit_events_actor on audit_events (company_id, actor_user_id, created_at desc);
