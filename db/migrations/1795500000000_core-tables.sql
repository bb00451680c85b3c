-- Up Migration

-- The public API lives in schema `presence` (functions and views); tables the API owns and callers never
-- touch live in `presence_private`.
create schema if not exists presence;
comment on schema presence is 'Agent presence: heartbeat, end_session, set_status, sweep_stale_agents and read-only views. Callers write through these functions only.';
create schema if not exists presence_private;
comment on schema presence_private is 'Internals of the presence API (browser sessions, helpers). Not a public interface.';

-- The platform's tables ------------------------------------------------------------------------------------------
-- A support platform that adopts this project already has public.tenants and public.human_agents, with rows and
-- code of its own that reads them. They are kept as they are: the first block checks them before anything changes
-- (key types, the status values and the platform's own constraint on them) and stops with an error that says what
-- to do; the second adds only the columns presence needs. Nothing of the platform's is dropped, renamed or retyped
-- and no value of its changes, with one exception: a `last_seen timestamp` (without time zone), as the original
-- design note's own migration made it, becomes timestamptz read as UTC. On a database without these tables both
-- are created as a standalone install has them.
-- (This file was reworked once after landing, to adopt an existing schema; tests/db/landed-rework.test.ts proves
-- that an install made with the landed files reaches the same schema.)
do $$
declare
  v_tenants regclass := to_regclass('public.tenants');
  v_agents regclass := to_regclass('public.human_agents');
  v_keys constant regtype[] := array['uuid', 'text', 'character varying', 'integer', 'bigint']::regtype[];
  v_statuses constant text[] := array['available', 'away', 'dnd', 'offline'];
  v_type regtype;
  v_missing text;
  v_found text;
  v_constraint record;
  v_ok boolean;
begin
  if v_tenants is null and v_agents is null then
    create table public.tenants (
      id uuid primary key default gen_random_uuid(),
      name text not null constraint tenants_name_not_blank check (btrim(name) <> ''),
      created_at timestamptz not null default now()
    );
    comment on table public.tenants is 'Customers of the support platform; every agent belongs to one.';

    -- fillfactor 70 leaves room on each page so the per-beat update of last_seen stays a HOT update
    -- (no index touched, no page split); measured 100% HOT and no growth over 1M beats (see bench/).
    create table public.human_agents (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references public.tenants on delete cascade,
      name text not null constraint human_agents_name_not_blank check (btrim(name) <> ''),
      email text not null constraint human_agents_email_shape check (email ~ '^[^@\s]+@[^@\s]+$'),
      status text not null default 'offline'
        constraint human_agents_status_check check (status in ('available', 'away', 'dnd', 'offline')),
      chosen_status text not null default 'available'
        constraint human_agents_chosen_status_check check (chosen_status in ('available', 'away', 'dnd', 'offline')),
      status_reason text,
      status_since timestamptz,
      active_chats integer not null default 0 constraint human_agents_active_chats_check check (active_chats >= 0),
      max_chats integer not null default 5 constraint human_agents_max_chats_check check (max_chats between 0 and 1000),
      last_seen timestamptz,
      created_at timestamptz default now(),
      constraint human_agents_tenant_id_id_key unique (tenant_id, id)
    ) with (fillfactor = 70);
    -- Deliberately no index on last_seen: every beat writes it, and an index on it turns every beat into a
    -- non-HOT update (measured: 0% HOT, indexes 2.5x larger in 45 s, -25% throughput).
    create unique index human_agents_tenant_email_key on public.human_agents (tenant_id, lower(email));
    comment on table public.human_agents is 'Human support agents. status is the materialized effective status; last_seen the newest heartbeat of any of the agent''s browser sessions (database clock). Written only by the presence functions.';
    comment on column public.human_agents.status is 'Effective status (available, away, dnd, offline) as of the last transition. presence.agent_presence derives it at read time, so a stale agent reads offline even before the sweep runs.';
    comment on column public.human_agents.chosen_status is 'The status the agent chose by hand; heartbeats and sweeps never change it.';
    comment on column public.human_agents.status_reason is 'Reason of the last transition: heartbeat, timeout, left, logout, manual, idle, active or admin.';
    comment on column public.human_agents.status_since is 'When the last transition happened (database clock).';
    comment on column public.human_agents.last_seen is 'Newest heartbeat from any of the agent''s browser sessions, by the database clock; null if it never sent one.';
    comment on column public.human_agents.active_chats is 'Chats currently assigned to the agent.';
    comment on column public.human_agents.max_chats is 'Capacity: the most chats the agent takes at once.';
    return;
  end if;

  if v_tenants is null or v_agents is null then
    raise exception 'found % but not %: presence adopts a platform that has both public.tenants and public.human_agents',
      coalesce(v_tenants::text, v_agents::text), case when v_tenants is null then 'public.tenants' else 'public.human_agents' end
      using errcode = 'PRADP';
  end if;

  -- Checks: nothing has changed yet. ---------------------------------------------------------------------------
  select string_agg(c.tab || '.' || c.col, ', ') into v_missing
    from (values ('tenants', 'id'), ('tenants', 'name'), ('human_agents', 'id'), ('human_agents', 'tenant_id'),
                 ('human_agents', 'name'), ('human_agents', 'email')) c(tab, col)
   where not exists (select 1 from pg_attribute a
                      where a.attrelid = ('public.' || c.tab)::regclass and a.attname = c.col and not a.attisdropped);
  if v_missing is not null then
    raise exception 'presence needs columns that the platform''s tables lack: %', v_missing using errcode = 'PRADP';
  end if;

  -- The platform's keys are taken as they are (uuid, text, varchar, integer or bigint): domains over them are made
  -- below, and every table and function of presence refers to those.
  for v_found, v_type in
    select c.col, a.atttypid::regtype
      from (values ('tenants', 'id'), ('human_agents', 'id'), ('human_agents', 'tenant_id')) c(tab, col)
      join pg_attribute a on a.attrelid = ('public.' || c.tab)::regclass and a.attname = c.col
  loop
    if not v_type = any (v_keys) then
      raise exception 'presence takes keys of type uuid, text, varchar, integer or bigint; public.%.% is %',
        case when v_found = 'id' then 'tenants or human_agents' else 'human_agents' end, v_found, v_type
        using errcode = 'PRADP';
    end if;
  end loop;
  if (select a.atttypid from pg_attribute a where a.attrelid = v_agents and a.attname = 'tenant_id')
     <> (select a.atttypid from pg_attribute a where a.attrelid = v_tenants and a.attname = 'id') then
    raise exception 'public.human_agents.tenant_id (%) must have the type of public.tenants.id (%)',
      (select a.atttypid::regtype from pg_attribute a where a.attrelid = v_agents and a.attname = 'tenant_id'),
      (select a.atttypid::regtype from pg_attribute a where a.attrelid = v_tenants and a.attname = 'id')
      using errcode = 'PRADP';
  end if;
  if not exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                  where i.indrelid = v_tenants and i.indisunique and i.indnkeyatts = 1 and a.attname = 'id')
     or not exists (select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
                     where i.indrelid = v_agents and i.indisunique and i.indnkeyatts = 1 and a.attname = 'id') then
    raise exception 'public.tenants.id and public.human_agents.id must each be a primary key or unique'
      using errcode = 'PRADP';
  end if;

  -- The platform's status column is the effective status: its values must be presence's four, and its own check
  -- constraint or enum must admit all four (it is kept, never loosened).
  select a.atttypid::regtype into v_type from pg_attribute a where a.attrelid = v_agents and a.attname = 'status';
  if v_type is not null then
    execute 'select string_agg(coalesce(quote_literal(s.status), ''null'') || '' ('' || s.n || case when s.n = 1 then '' row)'' else '' rows)'' end, '', '')
               from (select h.status::text as status, count(*) as n from public.human_agents h
                      where h.status is null or h.status::text <> all ($1) group by 1 order by 1) s'
      into v_found using v_statuses;
    if v_found is not null then
      raise exception 'public.human_agents.status holds values presence does not know: %', v_found
        using errcode = 'PRADP',
              hint = 'Map each to available, away, dnd or offline first, for example: update public.human_agents set status = ''dnd'' where status = ''busy''; then run the migration again.';
    end if;
    if exists (select 1 from pg_type t where t.oid = v_type and t.typtype = 'e') then
      select string_agg(quote_literal(s), ', ') into v_missing
        from unnest(v_statuses) s
       where not exists (select 1 from pg_enum e where e.enumtypid = v_type and e.enumlabel = s);
      if v_missing is not null then
        raise exception 'the enum % of public.human_agents.status lacks %', v_type, v_missing
          using errcode = 'PRADP', hint = format('alter type %s add value ...; for each, then run the migration again.', v_type);
      end if;
    elsif v_type not in ('text'::regtype, 'character varying'::regtype) then
      raise exception 'public.human_agents.status is %; presence needs text, varchar or an enum', v_type
        using errcode = 'PRADP';
    end if;
    for v_constraint in
      select c.conname, pg_get_expr(c.conbin, c.conrelid) as expr
        from pg_constraint c
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
       where c.conrelid = v_agents and c.contype = 'c' and cardinality(c.conkey) = 1 and a.attname = 'status'
    loop
      -- The platform's own expression, evaluated for each of the four values.
      execute format('select coalesce(bool_and(%s), true) from unnest($1::%s[]) as v(status)', v_constraint.expr, v_type)
        into v_ok using v_statuses;
      if not v_ok then
        raise exception 'the check constraint % on public.human_agents.status (%) refuses one of available, away, dnd, offline',
          v_constraint.conname, v_constraint.expr
          using errcode = 'PRADP', hint = 'Widen the constraint to admit all four, then run the migration again.';
      end if;
    end loop;
  end if;

  select a.atttypid::regtype into v_type from pg_attribute a where a.attrelid = v_agents and a.attname = 'last_seen';
  if v_type is not null and v_type not in ('timestamptz'::regtype, 'timestamp'::regtype) then
    raise exception 'public.human_agents.last_seen is %; presence needs timestamptz', v_type using errcode = 'PRADP';
  end if;
  select string_agg(a.attname || ' (' || a.atttypid::regtype || ')', ', ') into v_found
    from pg_attribute a
   where a.attrelid = v_agents and not a.attisdropped
     and ((a.attname in ('active_chats', 'max_chats') and a.atttypid not in ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype))
       or (a.attname in ('chosen_status', 'status_reason') and a.atttypid not in ('text'::regtype, 'character varying'::regtype))
       or (a.attname = 'status_since' and a.atttypid <> 'timestamptz'::regtype));
  if v_found is not null then
    raise exception 'public.human_agents has columns presence would use with other types: %', v_found
      using errcode = 'PRADP';
  end if;

  -- Additions: only what is missing. -----------------------------------------------------------------------------
  if not exists (select 1 from pg_attribute a where a.attrelid = v_agents and a.attname = 'status' and not a.attisdropped) then
    alter table public.human_agents add column status text not null default 'offline'
      constraint human_agents_status_check check (status in ('available', 'away', 'dnd', 'offline'));
    comment on column public.human_agents.status is 'Effective status (available, away, dnd, offline) as of the last transition. presence.agent_presence derives it at read time, so a stale agent reads offline even before the sweep runs.';
  end if;
  if not exists (select 1 from pg_attribute a where a.attrelid = v_agents and a.attname = 'chosen_status' and not a.attisdropped) then
    alter table public.human_agents add column chosen_status text not null default 'available'
      constraint human_agents_chosen_status_check check (chosen_status in ('available', 'away', 'dnd', 'offline'));
    -- A Do Not Disturb or Away already set on the platform was chosen by hand: heartbeats keep it.
    update public.human_agents h set chosen_status = h.status::text where h.status::text in ('away', 'dnd');
    comment on column public.human_agents.chosen_status is 'The status the agent chose by hand; heartbeats and sweeps never change it.';
  end if;
  if not exists (select 1 from pg_attribute a where a.attrelid = v_agents and a.attname = 'status_reason' and not a.attisdropped) then
    alter table public.human_agents add column status_reason text;
    comment on column public.human_agents.status_reason is 'Reason of the last transition: heartbeat, timeout, left, logout, manual, idle, active or admin.';
  end if;
  if not exists (select 1 from pg_attribute a where a.attrelid = v_agents and a.attname = 'status_since' and not a.attisdropped) then
    alter table public.human_agents add column status_since timestamptz;
    comment on column public.human_agents.status_since is 'When the last transition happened (database clock).';
  end if;
  if not exists (select 1 from pg_attribute a where a.attrelid = v_agents and a.attname = 'active_chats' and not a.attisdropped) then
    alter table public.human_agents add column active_chats integer not null default 0
      constraint human_agents_active_chats_check check (active_chats >= 0);
    comment on column public.human_agents.active_chats is 'Chats currently assigned to the agent.';
  end if;
  if not exists (select 1 from pg_attribute a where a.attrelid = v_agents and a.attname = 'max_chats' and not a.attisdropped) then
    alter table public.human_agents add column max_chats integer not null default 5
      constraint human_agents_max_chats_check check (max_chats between 0 and 1000);
    comment on column public.human_agents.max_chats is 'Capacity: the most chats the agent takes at once.';
  end if;
  select a.atttypid::regtype into v_type from pg_attribute a where a.attrelid = v_agents and a.attname = 'last_seen' and not a.attisdropped;
  if v_type is null then
    alter table public.human_agents add column last_seen timestamptz;
  elsif v_type = 'timestamp'::regtype then
    -- The one change to a platform column: the seed's `last_seen TIMESTAMP DEFAULT NOW()` held UTC wall-clock times.
    alter table public.human_agents alter column last_seen type timestamptz using last_seen at time zone 'UTC';
  end if;
  comment on column public.human_agents.last_seen is 'Newest heartbeat from any of the agent''s browser sessions, by the database clock; null if it never sent one.';
  -- Our tables refer to an agent by (tenant_id, id), so that no row of ours can pair an agent with another tenant.
  if not exists (select 1 from pg_index i
                  where i.indrelid = v_agents and i.indisunique and i.indpred is null and i.indexprs is null
                    and i.indnkeyatts = 2
                    and (select array_agg(a.attname order by k.n) from unnest(i.indkey) with ordinality k(attnum, n)
                           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) = array['tenant_id', 'id']::name[]) then
    alter table public.human_agents add constraint human_agents_tenant_id_id_key unique (tenant_id, id);
  end if;
  -- Every beat rewrites last_seen: room on each page keeps that a HOT update (applies to pages written from now on).
  alter table public.human_agents set (fillfactor = 70);
end
$$;

-- The platform's key types, as presence refers to them everywhere.
do $$
begin
  execute format('create domain presence.tenant_key as %s',
                 (select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                   where a.attrelid = 'public.tenants'::regclass and a.attname = 'id'));
  execute format('create domain presence.agent_key as %s',
                 (select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                   where a.attrelid = 'public.human_agents'::regclass and a.attname = 'id'));
end
$$;

create table presence.tenant_settings (
  tenant_id presence.tenant_key primary key references public.tenants on delete cascade,
  heartbeat_interval_s integer not null default 30
    constraint tenant_settings_heartbeat_interval_s_check check (heartbeat_interval_s between 1 and 3600),
  offline_after_s integer not null default 90
    constraint tenant_settings_offline_after_s_check check (offline_after_s <= 86400),
  away_after_s integer not null default 300
    constraint tenant_settings_away_after_s_check check (away_after_s between 1 and 86400),
  release_chats_after_s integer not null default 60
    constraint tenant_settings_release_chats_after_s_check check (release_chats_after_s between 0 and 86400),
  -- A beat may be lost or late (throttled tab, retry): at least two must go missing before an agent is offline.
  constraint tenant_settings_offline_covers_two_beats check (offline_after_s >= 2 * heartbeat_interval_s)
);
comment on table presence.tenant_settings is 'Per-tenant presence timing. A tenant without a row gets the defaults (see presence.settings).';
comment on column presence.tenant_settings.heartbeat_interval_s is 'How often the browser beats.';
comment on column presence.tenant_settings.offline_after_s is 'An agent with no beat for this long is offline (derived at read time; materialized by the sweep).';
comment on column presence.tenant_settings.away_after_s is 'The browser reports idle after this long without input; an available agent then reads away.';
comment on column presence.tenant_settings.release_chats_after_s is 'Grace before the chats of an agent who went offline return to the queue.';

create table presence.status_events (
  id bigint generated always as identity primary key,
  tenant_id presence.tenant_key not null,
  agent_id presence.agent_key not null,
  from_status text not null,
  to_status text not null,
  reason text not null constraint status_events_reason_check
    check (reason in ('heartbeat', 'timeout', 'left', 'logout', 'manual', 'idle', 'active', 'admin')),
  at timestamptz not null
);
-- No foreign key to human_agents: history outlives a deleted agent, and a per-row RI check would cost the
-- sweep about as much as the sweep itself when thousands of agents time out at once.
create index status_events_agent_at_idx on presence.status_events (agent_id, at);
create index status_events_tenant_at_idx on presence.status_events (tenant_id, at);
comment on table presence.status_events is 'Append-only log: one row per status transition, written in the same transaction as the transition.';

create function presence_private.forbid_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception '% is append-only: % is not allowed', tg_table_schema || '.' || tg_table_name, lower(tg_op)
    using errcode = 'PRAPP';
end
$$;
comment on function presence_private.forbid_change() is 'Trigger function that keeps a table append-only.';
create trigger status_events_append_only before update or truncate on presence.status_events
  for each statement execute function presence_private.forbid_change();

-- One row per browser tab. Upserted by every beat, so it gets the same fillfactor and the same
-- "no index on last_seen" rule as human_agents.
create table presence_private.sessions (
  agent_id presence.agent_key not null,
  session_id text not null,
  tenant_id presence.tenant_key not null,
  activity text not null,
  started_at timestamptz not null,
  last_seen timestamptz not null,
  primary key (agent_id, session_id),
  foreign key (tenant_id, agent_id) references public.human_agents (tenant_id, id) on delete cascade
) with (fillfactor = 70);
comment on table presence_private.sessions is 'Live browser sessions (one per tab) of each agent: the last beat and activity of each.';

create type presence_private.status_change as (
  agent_id presence.agent_key,
  tenant_id presence.tenant_key,
  from_status text,
  to_status text,
  reason text
);
comment on type presence_private.status_change is 'One requested transition, handed to presence_private.apply_transitions.';
