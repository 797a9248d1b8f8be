-- Dialogue flow, part 2 (issue #4): GRUS group dialogues, requests for an individual MUS, the
-- hand-over of dialogues when the responsible leader changes. (The leader's archive, M15, needs no
-- table of its own: it reads employments.fired_at / display_name, migrations/021.)

-- A GRUS is a group of member dialogues: one ordinary dialogue row per member (their private
-- preparation, their signature, agreements they own), all with the same group_id. The group's
-- shared part (the leader's preparation, meeting answers, notes, agreements the leader owns)
-- lives on the anchor row, the member row whose id equals group_id. State, meeting time and the
-- leader's signature are kept identical on every row of a group by the service.
alter table dialogues add column group_id uuid;
alter table dialogues add constraint dialogues_group_fk foreign key (company_id, group_id)
  references dialogues (company_id, id) on delete set null (group_id);
create index dialogues_group on dialogues (company_id, group_id) where group_id is not null;

-- A member of a GRUS asks for an individual MUS. The responsible leader must hold it: the request
-- stays open (a task) until the leader creates the MUS dialogue, which is then recorded here.
create table mus_requests (
  id uuid primary key,
  company_id uuid not null references companies (id) on delete cascade,
  -- The member's own row in the GRUS.
  grus_dialogue_id uuid not null,
  employee_employment_id uuid not null,
  reason_text text not null default '' check (length(reason_text) <= 2000),
  created_at timestamptz not null default now(),
  mus_dialogue_id uuid,
  fulfilled_at timestamptz,
  fulfilled_by uuid,
  unique (company_id, id),
  check ((mus_dialogue_id is null) = (fulfilled_at is null)),
  foreign key (company_id, grus_dialogue_id) references dialogues (company_id, id) on delete cascade,
  foreign key (company_id, employee_employment_id) references employments (company_id, id) on delete cascade,
  foreign key (company_id, mus_dialogue_id) references dialogues (company_id, id) on delete set null (mus_dialogue_id),
  foreign key (company_id, fulfilled_by) references employments (company_id, id) on delete set null (fulfilled_by)
);
-- One open request per member and GRUS.
create unique index mus_requests_open on mus_requests (company_id, grus_dialogue_id) where fulfilled_at is null;

alter table mus_requests enable row level security;
alter table mus_requests force row level security;
create policy mus_requests_tenant on mus_requests
  using (company_id = app_company_id()) with check (company_id = app_company_id());
grant select, insert, update on mus_requests to samtale_app;
grant select, insert, update, delete on mus_requests to samtale_system;

-- Hand-over: a dialogue's leader follows the responsible leader of its team (DOMAIN.md: the
-- team's owner, else the nearest owner up the tree). Whenever an owner changes, a team or
-- department moves, or an owner is fired or rehired, the dialogues of the teams concerned (the
-- team, the department's subtree, or what the fired owner owned) whose team now has another
-- responsible leader are handed to that leader, open and closed ones alike (the closed ones are
-- the agreements to follow up and, for people who left, the archive). A team without a
-- responsible leader, or whose leader is the employee themself, keeps the old leader. Runs with
-- the caller's rights: row-level security keeps it inside the company.
create or replace function dialogues_follow_responsible_leader(company uuid, team_ids uuid[]) returns void
language sql as $$
  update dialogues g set leader_employment_id = r.leader
    from (select d.id, team_responsible_employment(d.team_id) as leader
            from dialogues d where d.company_id = company and d.team_id = any(team_ids)) r
   where g.id = r.id and r.leader is not null
     and r.leader <> g.leader_employment_id and r.leader <> g.employee_employment_id
$$;

-- The teams in a department's subtree (the department and every department below it).
create or replace function department_subtree_teams(dept uuid) returns uuid[]
language sql stable as $$
  with recursive down (id, depth) as (
    select dept, 0
    union all
    select d.id, down.depth + 1 from departments d join down on d.parent_id = down.id where down.depth < 100
  )
  select coalesce(array_agg(t.id), '{}') from teams t where t.department_id in (select id from down)
$$;

create or replace function dialogues_handover_trigger() returns trigger language plpgsql as $$
declare
  affected uuid[];
begin
  if tg_table_name = 'teams' then
    affected := array[new.id];
  elsif tg_table_name = 'departments' then
    affected := department_subtree_teams(new.id);
  else
    -- An employment: only an owner's firing or rehiring changes who is responsible.
    affected := coalesce((select array_agg(t.id) from teams t where t.owner_employment_id = new.id), '{}')
      || coalesce((select array_agg(x) from departments d cross join lateral unnest(department_subtree_teams(d.id)) as x
                    where d.owner_employment_id = new.id), '{}');
  end if;
  if cardinality(affected) > 0 then
    perform dialogues_follow_responsible_leader(new.company_id, affected);
  end if;
  return null;
end $$;

create trigger teams_handover after update of owner_employment_id, department_id on teams
  for each row when (old.owner_employment_id is distinct from new.owner_employment_id or old.department_id is distinct from new.department_id)
  execute function dialogues_handover_trigger();
create trigger departments_handover after update of owner_employment_id, parent_id on departments
  for each row when (old.owner_employment_id is distinct from new.owner_employment_id or old.parent_id is distinct from new.parent_id)
  execute function dialogues_handover_trigger();
create trigger employments_handover after update of fired_at on employments
  for each row when (old.fired_at is distinct from new.fired_at)
  execute function dialogues_handover_trigger();

grant execute on function dialogues_follow_responsible_leader(uuid, uuid[]), department_subtree_teams(uuid) to samtale_app, samtale_system;
