-- Up Migration

-- Presence's state of each agent moves into presence's own schema. Until now it lived in the platform's
-- public.human_agents (columns chosen_status, status_reason, status_since, a (tenant_id, id) key, a check and two
-- partial indexes), where the platform's own schema tools (drizzle-kit push, prisma migrate) saw it as drift and
-- tried to drop it. From here on the platform's table only receives values of the columns it already has and means
-- (status, last_seen, active_chats); everything presence decides from lives in presence_private.agent_state.
-- This file makes the table, fills it from the platform's table and moves presence's foreign keys onto it; the next
-- ones move the functions and take presence's columns, key, check and indexes off the platform's table.

-- Every beat rewrites last_seen: fillfactor 70 leaves room on each page so that the update stays HOT, and no index
-- holds last_seen (an index on it made every beat a non-HOT update: 0 % HOT, indexes 2.5x larger in 45 s, -25 %
-- throughput; docs/benchmarks.md). status and active_chats sit in the partial indexes' predicates, which a beat
-- never changes.
create table presence_private.agent_state (
  agent_id presence.agent_key primary key references public.human_agents (id) on delete cascade,
  tenant_id presence.tenant_key not null,
  status text not null default 'offline'
    constraint agent_state_status_check check (status in ('available', 'away', 'dnd', 'offline')),
  chosen_status text not null default 'available'
    constraint agent_state_chosen_status_check check (chosen_status in ('available', 'away', 'dnd', 'offline')),
  status_mechanism text
    constraint agent_state_status_mechanism_check
      check (status_mechanism in ('heartbeat', 'timeout', 'left', 'logout', 'manual', 'idle', 'active', 'admin')),
  status_since timestamptz,
  last_seen timestamptz,
  active_chats integer not null default 0 constraint agent_state_active_chats_check check (active_chats >= 0),
  -- The key presence's other tables refer to: no row of theirs can pair an agent with another tenant.
  constraint agent_state_tenant_id_agent_id_key unique (tenant_id, agent_id)
) with (fillfactor = 70);
comment on table presence_private.agent_state is 'Presence''s state of each agent of the platform (the agent row of the lock order): effective status, chosen status, the mechanism and time of the last transition, the newest beat and the chats held. A row is made from the platform''s human_agents row the first time presence meets the agent, with its tenant; status, last_seen and active_chats are mirrored into public.human_agents for the platform''s own readers.';
comment on column presence_private.agent_state.status is 'Effective status (available, away, dnd, offline) as of the last transition; readers derive offline from last_seen before the sweep records it. Mirrored into public.human_agents.status.';
comment on column presence_private.agent_state.chosen_status is 'The status the agent chose by hand; heartbeats and sweeps never change it.';
comment on column presence_private.agent_state.status_mechanism is 'What made the last transition: heartbeat, timeout, left, logout, manual, idle, active or admin.';
comment on column presence_private.agent_state.status_since is 'When the last transition happened (database clock).';
comment on column presence_private.agent_state.last_seen is 'Newest beat of any of the agent''s tabs, by the database clock; null if it never beat. Presence''s truth; public.human_agents.last_seen receives the same instant in the platform''s own type.';
comment on column presence_private.agent_state.active_chats is 'Chats assigned to the agent now; mirrored into public.human_agents.active_chats.';

-- What the sweep reads without a lock: the agents not offline (100k of 1M), and the offline agents that still hold
-- chats (those in their grace and the stranded ones, a handful). Beats touch neither predicate.
create index agent_state_online_idx on presence_private.agent_state (tenant_id) where status <> 'offline';
create index agent_state_offline_holding_idx on presence_private.agent_state (tenant_id)
  where status = 'offline' and active_chats > 0;

-- Every agent the platform has now, with what presence kept on the platform's table so far (1795500000000 made
-- last_seen timestamptz; 1795500000420 gives it back its own type).
insert into presence_private.agent_state
  (agent_id, tenant_id, status, chosen_status, status_mechanism, status_since, last_seen, active_chats)
select a.id, a.tenant_id, a.status::text, a.chosen_status::text, a.status_reason::text, a.status_since,
       a.last_seen, a.active_chats
  from public.human_agents a;

-- presence's tables refer to the agent through its state row.
do $$
declare
  v_fk record;
begin
  for v_fk in
    select c.conrelid::regclass as tab, c.conname
      from pg_constraint c
      join pg_namespace n on n.oid = (select r.relnamespace from pg_class r where r.oid = c.conrelid)
     where c.contype = 'f' and c.confrelid = 'public.human_agents'::regclass
       and n.nspname in ('presence', 'presence_private', 'presence_accounts')
  loop
    execute format('alter table %s drop constraint %I', v_fk.tab, v_fk.conname);
  end loop;
end
$$;
alter table presence_private.sessions
  add constraint sessions_tenant_id_agent_id_fkey foreign key (tenant_id, agent_id)
    references presence_private.agent_state (tenant_id, agent_id) on delete cascade;
alter table presence_private.chats
  add constraint chats_tenant_id_agent_id_fkey foreign key (tenant_id, agent_id)
    references presence_private.agent_state (tenant_id, agent_id) on delete set null (agent_id);
alter table presence_accounts.users
  add constraint users_tenant_id_agent_id_fkey foreign key (tenant_id, agent_id)
    references presence_private.agent_state (tenant_id, agent_id) on delete cascade;

create function presence_private.ensure_agent_state(p_agent_ids presence.agent_key[])
returns void
language sql volatile
set search_path = ''
set timezone to 'UTC'
as $$
  -- A platform's agent presence has not met yet gets its state row from its human_agents row: the platform's
  -- status, a Do Not Disturb or Away it had set taken as chosen by hand, its last_seen (a timestamp read as UTC
  -- wall time: this function runs in UTC) and its chats. In key order, so that two callers wait for each other
  -- instead of deadlocking.
  insert into presence_private.agent_state (agent_id, tenant_id, status, chosen_status, last_seen, active_chats)
  select a.id, a.tenant_id, a.status::text,
         case when a.status::text in ('away', 'dnd') then a.status::text else 'available' end,
         a.last_seen::timestamptz, a.active_chats
    from public.human_agents a
   where a.id = any (p_agent_ids)
     and not exists (select 1 from presence_private.agent_state s where s.agent_id = a.id)
   order by a.id
  on conflict do nothing
$$;
comment on function presence_private.ensure_agent_state(presence.agent_key[]) is 'Makes the state row of each given agent of public.human_agents that has none yet (the platform''s status, away or dnd as chosen, its last_seen and active_chats), in key order; ids that are not agents are skipped. Owner only; called before an agent row is locked.';
