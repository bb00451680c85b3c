-- Up Migration

-- Presence never adds a column to the platform's public.human_agents. 1795500000000 added status, last_seen,
-- active_chats and max_chats (with their checks) to a platform that lacked them; since 1795500000400 presence keeps
-- its truth in presence_private.agent_state (status, last_seen, active_chats) and only mirrors values into the
-- platform's columns. This file takes off the platform's table the columns presence added and keeps their values in
-- its own state: the capacity in agent_state.max_chats (new here; presence.set_capacity sets it), the chats held and
-- the last beat where they already are. Which columns the platform lacked is known when db/migrate.ts adopted it in
-- this same run (it reads them before the first migration: setting presence.adopted_lacking, an array, '{}' when it
-- had all four). A database adopted by an earlier release cannot tell: presence keeps the columns it finds, with a
-- NOTICE. A status column presence added stays (every status transition writes it; see db/README.md).
--
-- Everything that names one of those platform columns is defined through presence_private.define_for_platform,
-- which keeps or drops the text between /*<column>*/ and /*</column>*/ (the part after /*|*/ is the text for a
-- platform without it) by what the platform has: a platform that has the column gets the very statement it had
-- before (the beat path costs nothing more), one without it gets none. presence_private.mirror_active_chats and the
-- view presence_private.agent_capacity are the platform's active_chats and max_chats for the functions that do not
-- need to be defined that way (release_held_chats, assign_chat, close_chat).

create function presence_private.define_for_platform(p_sql text)
returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_sql text := p_sql;
  v_column text;
  v_has boolean;
  v_open text;
  v_close text;
  v_at integer;
  v_end integer;
  v_inner text;
  v_sep integer;
begin
  foreach v_column in array array['last_seen', 'active_chats', 'max_chats'] loop
    v_has := exists (select 1 from pg_catalog.pg_attribute a
                      where a.attrelid = 'public.human_agents'::regclass and a.attname = v_column
                        and a.attnum > 0 and not a.attisdropped);
    v_open := '/*<' || v_column || '>*/';
    v_close := '/*</' || v_column || '>*/';
    loop
      v_at := strpos(v_sql, v_open);
      exit when v_at = 0;
      v_end := strpos(substr(v_sql, v_at), v_close);
      if v_end = 0 then
        raise exception 'define_for_platform: % without %', v_open, v_close;
      end if;
      v_inner := substr(v_sql, v_at + length(v_open), v_end - 1 - length(v_open));
      v_sep := strpos(v_inner, '/*|*/');
      v_sql := left(v_sql, v_at - 1)
        || case when v_has then case when v_sep > 0 then left(v_inner, v_sep - 1) else v_inner end
                else case when v_sep > 0 then substr(v_inner, v_sep + 5) else '' end end
        || substr(v_sql, v_at + v_end - 1 + length(v_close));
    end loop;
  end loop;
  execute v_sql;
end
$$;
comment on function presence_private.define_for_platform(text) is 'For migrations: runs a definition that names columns of public.human_agents a platform may lack, keeping the text between /*<column>*/ and /*</column>*/ (last_seen, active_chats, max_chats) where the platform has the column and, where it has not, the text after /*|*/ inside them (or nothing). Owner only.';
revoke all on function presence_private.define_for_platform(text) from public;

alter table presence_private.agent_state
  add column max_chats integer constraint agent_state_max_chats_check check (max_chats between 0 and 1000);
comment on column presence_private.agent_state.max_chats is 'Capacity (the most chats the agent takes at once) where the platform''s human_agents has no max_chats column; null where it has one. Set by presence.set_capacity.';

-- Reads the platform's max_chats and active_chats: defined again below from what the platform has.
drop view presence.agent_presence;

do $$
declare
  v_lacking constant text[] := nullif(current_setting('presence.adopted_lacking', true), '')::text[];
  v_standalone constant boolean := coalesce(obj_description('public.human_agents'::regclass, 'pg_class') like 'Human support agents.%', false);
begin
  if v_lacking is null and not v_standalone then
    raise notice '%', 'presence cannot tell which of public.human_agents'' columns status, last_seen, active_chats and '
      || 'max_chats it added when an earlier release adopted this database, and keeps writing and reading them there. '
      || 'A column the platform does not declare was added by presence: see "A platform that lacks a column" in db/README.md.';
  end if;
  if 'max_chats' = any (v_lacking) then
    update presence_private.agent_state s set max_chats = a.max_chats from public.human_agents a where a.id = s.agent_id;
    alter table presence_private.agent_state alter column max_chats set default 5;
    alter table public.human_agents drop column if exists max_chats;
  end if;
  -- agent_state has held active_chats and last_seen since 1795500000400.
  if 'active_chats' = any (v_lacking) then
    alter table public.human_agents drop column if exists active_chats;
  end if;
  if 'last_seen' = any (v_lacking) then
    alter table public.human_agents drop column if exists last_seen;
  end if;
  if 'status' = any (v_lacking) then
    raise notice '%', 'public.human_agents.status was added by presence when it adopted this database and stays: '
      || 'presence writes each agent''s effective status there. See db/README.md.';
  end if;
end
$$;

select presence_private.define_for_platform($def$
create function presence_private.mirror_active_chats(p_agent_ids presence.agent_key[])
returns void
language sql volatile
set search_path = ''
as $$
  /*<active_chats>*/update public.human_agents h set active_chats = s.active_chats
    from presence_private.agent_state s
   where s.agent_id = h.id and h.id = any (p_agent_ids) and h.active_chats is distinct from s.active_chats/*|*/select/*</active_chats>*/
$$
$def$);
comment on function presence_private.mirror_active_chats(presence.agent_key[]) is 'Copies presence''s active_chats of the given agents into public.human_agents.active_chats, or does nothing where the platform has no such column. Owner only; the caller holds the agents'' rows.';
revoke all on function presence_private.mirror_active_chats(presence.agent_key[]) from public;

select presence_private.define_for_platform($def$
create view presence_private.agent_capacity as
/*<max_chats>*/select a.id as agent_id, a.max_chats::integer as max_chats from public.human_agents a/*|*/select s.agent_id, s.max_chats from presence_private.agent_state s/*</max_chats>*/
$def$);
comment on view presence_private.agent_capacity is 'Each agent''s capacity (the most chats it takes at once): the platform''s human_agents.max_chats, or presence_private.agent_state.max_chats where the platform has no such column. Read this, never the platform''s column.';

select presence_private.define_for_platform($def$
create or replace function presence_private.ensure_agent_state(p_agent_ids presence.agent_key[])
returns void
language sql volatile
set search_path = ''
set timezone to 'UTC'
as $$
  -- A platform's agent presence has not met yet gets its state row from its human_agents row: the platform's
  -- status, a Do Not Disturb or Away it had set taken as chosen by hand, its last_seen (a timestamp read as UTC
  -- wall time: this function runs in UTC) and its chats, where the platform has those columns. In key order, so
  -- that two callers wait for each other instead of deadlocking.
  insert into presence_private.agent_state (agent_id, tenant_id, status, chosen_status, last_seen, active_chats)
  select a.id, a.tenant_id, a.status::text,
         case when a.status::text in ('away', 'dnd') then a.status::text else 'available' end,
         /*<last_seen>*/a.last_seen::timestamptz/*|*/null::timestamptz/*</last_seen>*/,
         /*<active_chats>*/a.active_chats/*|*/0/*</active_chats>*/
    from public.human_agents a
   where a.id = any (p_agent_ids)
     and not exists (select 1 from presence_private.agent_state s where s.agent_id = a.id)
   order by a.id
  on conflict do nothing
$$
$def$);

-- The beats: the platform's last_seen written in the statement that wrote it before, or nowhere.
select presence_private.define_for_platform($def$
create or replace function presence.heartbeat(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  p_session_id text,
  p_activity text default 'active',
  p_sign_in text default null
)
returns table (status text, last_seen timestamptz, heartbeat_interval_s integer)
language plpgsql volatile security definer
set search_path = ''
set timezone to 'UTC'
as $$
declare
  v_now constant timestamptz := now();
  v_agent record;
  v_new_session boolean;
  v_target text;
begin
  perform presence_private.check_session_id(p_session_id);
  perform presence_private.check_sign_in(p_sign_in);
  if p_activity is null or p_activity not in ('active', 'idle') then
    raise exception 'unknown activity %: expected active or idle', coalesce(quote_literal(p_activity), 'null')
      using errcode = 'PRACT';
  end if;

  -- Lock order: the agent, then its tab.
  select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);
  update presence_private.agent_state a set last_seen = v_now where a.agent_id = p_agent_id;
  /*<last_seen>*/-- The platform's column, in its own type (TimeZone is UTC here: a timestamp gets UTC wall time).
  update public.human_agents a set last_seen = v_now where a.id = p_agent_id;
  /*</last_seen>*/
  insert into presence_private.sessions as s (agent_id, session_id, tenant_id, activity, sign_in, started_at, last_seen)
  values (p_agent_id, p_session_id, p_tenant_id, p_activity, p_sign_in, v_now, v_now)
  on conflict (agent_id, session_id) do update
    set last_seen = excluded.last_seen, activity = excluded.activity, sign_in = excluded.sign_in
  returning (s.xmax = 0) into v_new_session;

  if v_new_session then
    -- A new tab: forget the agent's tabs that died without saying goodbye, and keep at most 32 (a browser that
    -- invents tab ids cannot grow the table: the least recently seen go). Once per tab, not per beat.
    delete from presence_private.sessions s
     where s.agent_id = p_agent_id and s.session_id <> p_session_id
       and (presence.offline_at(s.last_seen, v_agent.offline_after_s) <= v_now
            or s.session_id in (select o.session_id from presence_private.sessions o
                                 where o.agent_id = p_agent_id and o.session_id <> p_session_id
                                 order by o.last_seen desc, o.session_id offset 31));
  end if;

  v_target := case
    when v_agent.chosen_status <> 'available' then v_agent.chosen_status  -- a status chosen by hand is never overridden
    when p_activity = 'active' then 'available'
    when v_agent.status = 'away' then 'away'          -- already idle: skip the look at the other tabs
    -- idle here, but another live tab of the agent is in use: still available
    when exists (select 1 from presence_private.sessions o
                  where o.agent_id = p_agent_id and o.session_id <> p_session_id and o.activity = 'active'
                    and presence.offline_at(o.last_seen, v_agent.offline_after_s) > v_now) then 'available'
    else 'away'
  end;

  if v_target <> v_agent.status then
    perform presence_private.apply_transitions(array[(
      p_agent_id, p_tenant_id, v_agent.status, v_target,
      case when v_agent.status = 'offline' then 'heartbeat' when v_target = 'away' then 'idle' else 'active' end,
      v_now
    )::presence_private.transition]);
  end if;

  return query select v_target, v_now, v_agent.heartbeat_interval_s;
end
$$;
$def$);

select presence_private.define_for_platform($def$
create or replace function presence.heartbeats(
  p_tenant_ids presence.tenant_key[],
  p_agent_ids presence.agent_key[],
  p_session_ids text[],
  p_activities text[],
  p_sign_ins text[]
)
returns table (ord integer, status text, last_seen timestamptz, heartbeat_interval_s integer)
language plpgsql volatile security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
set timezone to 'UTC'
as $$
declare
  v_fast_ords integer[];
  v_fast_statuses text[];
  v_fast_intervals integer[];
begin
  if cardinality(p_agent_ids) is distinct from cardinality(p_tenant_ids)
     or cardinality(p_agent_ids) is distinct from cardinality(p_session_ids)
     or cardinality(p_agent_ids) is distinct from cardinality(p_activities)
     or cardinality(p_agent_ids) is distinct from cardinality(p_sign_ins) then
    raise exception 'the arrays of a heartbeat batch must have one element per beat, got % tenants, % agents, % tabs, % activities, % sign-ins',
      cardinality(p_tenant_ids), cardinality(p_agent_ids), cardinality(p_session_ids), cardinality(p_activities),
      cardinality(p_sign_ins)
      using errcode = 'PRUSR';
  end if;

  -- Lock order: every agent of the batch first, in agent key order, so that two batches (two server processes)
  -- that share agents wait for each other instead of deadlocking; then their tabs.
  -- An agent presence meets for the first time gets its state row before any row is locked (in key order, waiting
  -- for another batch that makes the same one): making it while holding other agents' rows deadlocked against a
  -- batch that held it and wanted them (tests/db/storm.test.ts). One index probe per beat otherwise.
  if exists (select 1 from unnest(p_agent_ids) x(agent_id)
              where not exists (select 1 from presence_private.agent_state s where s.agent_id = x.agent_id)) then
    perform presence_private.ensure_agent_state(p_agent_ids);
  end if;
  perform 1 from presence_private.agent_state h where h.agent_id = any (p_agent_ids) order by h.agent_id for update;

  -- The fast path. The conditions are in the UPDATE's WHERE, so they hold for the newest row version under the
  -- lock: an agent that a sweep, a sign-out or a status change got to first, or one that went silent, falls through
  -- to presence.heartbeat below. A tab row that exists was validated by the beat that created it.
  with beats as (
    select b.*
      from unnest(p_tenant_ids, p_agent_ids, p_session_ids, p_activities, p_sign_ins)
           with ordinality as b(tenant_id, agent_id, session_id, activity, sign_in, ord)
  ), fast as (
    select distinct on (b.agent_id) b.agent_id, b.tenant_id
      from beats b
      join presence_private.sessions s
        on s.agent_id = b.agent_id and s.session_id = b.session_id and s.sign_in is not distinct from b.sign_in
     where b.activity = 'active'
     order by b.agent_id
  ), agents as (
    update presence_private.agent_state h
       set last_seen = now()
      from fast f
      join presence.settings st on st.tenant_id = f.tenant_id
     where h.agent_id = f.agent_id and h.tenant_id = f.tenant_id
       -- presence.heartbeat takes an active beat to the chosen status; a live agent already there only moves
       -- last_seen.
       and h.status = h.chosen_status
       and presence.offline_at(h.last_seen, st.offline_after_s) > now()
    returning h.agent_id as id, h.tenant_id, h.status, st.heartbeat_interval_s
  ), /*<last_seen>*/platform as (
    -- The platform's column, in its own type (TimeZone is UTC here: a timestamp gets UTC wall time). Every row is
    -- already locked through its state row above.
    update public.human_agents a
       set last_seen = now()
      from agents g
     where a.id = g.id
    returning 1
  ), /*</last_seen>*/tabs as (
    update presence_private.sessions s
       set last_seen = now(), activity = 'active'
      from beats b
      join agents g on g.id = b.agent_id and g.tenant_id = b.tenant_id
     where s.agent_id = b.agent_id and s.session_id = b.session_id and b.activity = 'active'
       and s.sign_in is not distinct from b.sign_in
    returning s.agent_id, s.session_id
  )
  select coalesce(array_agg(b.ord), '{}'), coalesce(array_agg(g.status), '{}'), coalesce(array_agg(g.heartbeat_interval_s), '{}')
    into v_fast_ords, v_fast_statuses, v_fast_intervals
    from beats b
    join agents g on g.id = b.agent_id and g.tenant_id = b.tenant_id
    join tabs t on t.agent_id = b.agent_id and t.session_id = b.session_id;

  -- Asynchronous commit when the batch only moved last_seen (every beat took the fast path): no new tab, no
  -- transition, no event, no notification in this transaction. A crash then loses at most the last ~0.6 s
  -- (3 x wal_writer_delay) of last_seen moves, which the next beat (one interval later) writes again; an agent is
  -- only ever offline after two missed beats (offline_after_s >= 2 x heartbeat_interval_s). Every transition stays
  -- durable. Measured on one connection: a call with one beat 671 -> 491 us (the WAL flush leaves the request).
  if cardinality(v_fast_ords) = cardinality(p_agent_ids) then
    perform set_config('synchronous_commit', 'off', true);
    -- Every beat took the fast path: the answer is in the arrays, without the query below. Calls carry one or two
    -- beats when tabs beat at their own pace (npm run bench: 1.1-1.9 beats per call at 500-700 beats/s), so the
    -- per-call cost counts: a one-beat call 238-260 -> 210-243 us of backend CPU (4,000 calls, named statement,
    -- alternated three times with the query below).
    return query
    select f.ord::integer, f.status, now(), f.heartbeat_interval_s
      from unnest(v_fast_ords, v_fast_statuses, v_fast_intervals) f(ord, status, heartbeat_interval_s)
     order by f.ord;
    return;
  end if;

  return query
  with fast as (
    select f.ord, f.status, f.heartbeat_interval_s
      from unnest(v_fast_ords, v_fast_statuses, v_fast_intervals) f(ord, status, heartbeat_interval_s)
  ), slow as (
    select b.ord, h.status, h.last_seen, h.heartbeat_interval_s
      from (select x.*
              from unnest(p_tenant_ids, p_agent_ids, p_session_ids, p_activities, p_sign_ins)
                   with ordinality as x(tenant_id, agent_id, session_id, activity, sign_in, ord)
             where x.ord not in (select f.ord from fast f)
             order by x.agent_id, x.ord) b
     cross join lateral presence.heartbeat(b.tenant_id, b.agent_id, b.session_id, b.activity, b.sign_in) h
  )
  select r.ord::integer,
         coalesce(f.status, sl.status),
         case when f.ord is not null then now() else sl.last_seen end,
         coalesce(f.heartbeat_interval_s, sl.heartbeat_interval_s)
    from generate_series(1, cardinality(p_agent_ids)) as r(ord)
    left join fast f on f.ord = r.ord
    left join slow sl on sl.ord = r.ord
   order by r.ord;
end
$$;
$def$);

select presence_private.define_for_platform($def$
create function presence.set_capacity(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_max_chats integer)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_max_chats is null or p_max_chats not between 0 and 1000 then
    raise exception 'max_chats must be between 0 and 1000, got %', coalesce(p_max_chats::text, 'null') using errcode = 'PRUSR';
  end if;
  -- Lock order: the agent first (raises PRAGT for an unknown tenant/agent pair).
  perform presence_private.lock_agent(p_tenant_id, p_agent_id);
  /*<max_chats>*/update public.human_agents a set max_chats = p_max_chats
   where a.id = p_agent_id and a.max_chats is distinct from p_max_chats;/*|*/update presence_private.agent_state s set max_chats = p_max_chats where s.agent_id = p_agent_id;/*</max_chats>*/
end
$$
$def$);
comment on function presence.set_capacity(presence.tenant_key, presence.agent_key, integer) is 'Sets an agent''s capacity (0 to 1000 chats at once): the platform''s human_agents.max_chats where it has that column, else presence''s own (presence_private.agent_state.max_chats). Raises PRUSR for a capacity out of range and PRAGT for an unknown tenant/agent pair. Owner only (the platform''s own administration calls it).';
revoke all on function presence.set_capacity(presence.tenant_key, presence.agent_key, integer) from public;

select presence_private.define_for_platform($def$
create or replace function presence_accounts.create_account(
  p_tenant_id presence.tenant_key,
  p_email text,
  p_name text,
  p_role text,
  p_password text,
  p_max_chats integer default 5
)
returns table (user_id uuid, agent_id presence.agent_key)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_policy presence_accounts.sign_in_policy;
  v_agent_id presence.agent_key;
  v_user_id uuid;
begin
  select * into v_policy from presence_accounts.sign_in_policy;
  if not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;
  if p_role is null or p_role not in ('support_staff', 'client_admin', 'supervisor') then
    raise exception 'unknown role %: expected one of support_staff, client_admin, supervisor',
      coalesce(quote_literal(p_role), 'null') using errcode = 'PRUSR';
  end if;
  if p_email is null or p_email !~ '^[^@\s]+@[^@\s]+$' or length(p_email) > 320 then
    raise exception 'not an e-mail address: %', coalesce(quote_literal(left(p_email, 320)), 'null') using errcode = 'PRUSR';
  end if;
  if p_name is null or btrim(p_name) = '' then
    raise exception 'name must be a non-empty string, got %', coalesce(quote_literal(p_name), 'null')
      using errcode = 'PRUSR';
  end if;
  if p_password is null or length(p_password) < v_policy.min_password_length or length(p_password) > 1024 then
    raise exception 'a password must have between % and 1024 characters, got %', v_policy.min_password_length,
      coalesce(length(p_password)::text, 'null')
      using errcode = 'PRUSR';
  end if;
  if p_max_chats is null or p_max_chats not between 0 and 1000 then
    raise exception 'max_chats must be between 0 and 1000, got %', coalesce(p_max_chats::text, 'null')
      using errcode = 'PRUSR';
  end if;
  if exists (select 1 from presence_accounts.users u where lower(u.email) = lower(p_email)) then
    raise exception 'an account with e-mail % already exists', p_email using errcode = 'PRUSR';
  end if;

  if p_role <> 'supervisor' then
    insert into public.human_agents (tenant_id, name, email/*<max_chats>*/, max_chats/*</max_chats>*/)
    values (p_tenant_id, btrim(p_name), p_email/*<max_chats>*/, p_max_chats/*</max_chats>*/)
    returning id into v_agent_id;
    perform presence_private.ensure_agent_state(array[v_agent_id]);
    perform presence.set_capacity(p_tenant_id, v_agent_id, p_max_chats);
  end if;
  insert into presence_accounts.users (tenant_id, email, name, role, agent_id, password_hash)
  values (p_tenant_id, p_email, btrim(p_name), p_role, v_agent_id,
          presence_accounts.bcrypt(presence_accounts.password_secret(p_password), v_policy.bcrypt_cost))
  returning id into v_user_id;
  return query select v_user_id, v_agent_id;
end
$$;
$def$);

-- Same columns as before; agents the platform made after presence last met them have no state row yet and read
-- offline, with the chosen status their row will get.
select presence_private.define_for_platform($def$
create view presence.agent_presence as
select a.tenant_id,
       a.id as agent_id,
       a.name,
       a.email,
       presence.effective_status(coalesce(st.status, 'offline'), st.last_seen, s.offline_after_s) as status,
       coalesce(st.chosen_status, case when a.status::text in ('away', 'dnd') then a.status::text else 'available' end)
         as chosen_status,
       st.last_seen,
       floor(extract(epoch from now() - st.last_seen))::integer as seconds_since_seen,
       coalesce(st.active_chats, /*<active_chats>*/a.active_chats/*|*/0/*</active_chats>*/)::integer as active_chats,
       /*<max_chats>*/a.max_chats/*|*/coalesce(st.max_chats, 5)/*</max_chats>*/ as max_chats,
       presence.offline_at(st.last_seen, s.offline_after_s) as offline_at
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id
  left join presence_private.agent_state st on st.agent_id = a.id
$def$);
comment on view presence.agent_presence is 'Presence of every agent now. status is derived at read time from last_seen and the tenant''s offline_after_s, so a silent agent reads offline before any sweep has run; chosen_status is what the agent picked by hand; offline_at is when the agent reads offline unless it beats again. Filter by tenant_id.';
grant select on presence.agent_presence to presence_app, presence_analyst;

create or replace function presence_private.release_held_chats(p_agent_ids presence.agent_key[])
returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
  v_emptied presence.agent_key[];
begin
  -- Callers hold the row locks of these agents (first in the lock order); their chats come second.
  with released as (
    update presence_private.chats c set status = 'queued', agent_id = null, assigned_at = null
     where c.agent_id = any (p_agent_ids) and c.status = 'assigned'
    returning 1
  )
  select count(*) into v_count from released;
  with emptied as (
    update presence_private.agent_state a set active_chats = 0
     where a.agent_id = any (p_agent_ids) and a.active_chats <> 0
    returning a.agent_id
  )
  select array_agg(e.agent_id) into v_emptied from emptied e;
  if v_emptied is not null then
    perform presence_private.mirror_active_chats(v_emptied);
  end if;
  return v_count;
end
$$;

create or replace function presence.assign_chat(p_tenant_id presence.tenant_key)
returns table (chat_id uuid, agent_id presence.agent_key)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent presence.agent_key;
  v_chat uuid;
begin
  -- Lock order: the agent, then the chat. SKIP LOCKED on both: concurrent callers take different agents and
  -- chats and never wait on each other. The row lock re-checks the predicate against the newest row version, so
  -- an agent another caller just filled up, or one a sweep just took offline, is not picked.
  -- The capacity is the platform's human_agents.max_chats, or presence's where the platform has none
  -- (presence_private.agent_capacity); the count and the status are presence's.
  select a.agent_id into v_agent
    from presence_private.agent_state a
    join presence.settings s on s.tenant_id = a.tenant_id
    join presence_private.agent_capacity h on h.agent_id = a.agent_id
   where a.tenant_id = p_tenant_id
     and a.status <> 'offline'
     and presence.effective_status(a.status, a.last_seen, s.offline_after_s) = 'available'
     and a.active_chats < h.max_chats
   order by a.active_chats, a.last_seen desc, a.agent_id
   limit 1
     for update of a skip locked;
  if v_agent is null then
    return;
  end if;

  select c.id into v_chat
    from presence_private.chats c
   where c.tenant_id = p_tenant_id and c.status = 'queued'
   order by c.created_at, c.id
   limit 1
     for update skip locked;
  if v_chat is null then
    return;
  end if;

  update presence_private.chats c set status = 'assigned', agent_id = v_agent, assigned_at = now() where c.id = v_chat;
  update presence_private.agent_state a set active_chats = a.active_chats + 1 where a.agent_id = v_agent;
  perform presence_private.mirror_active_chats(array[v_agent]);
  return query select v_chat, v_agent;
end
$$;

create or replace function presence.close_chat(p_tenant_id presence.tenant_key, p_chat_id uuid)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent presence.agent_key;
  v_locked presence.agent_key;
begin
  -- Lock order: the agent first, then the chat. Whose chat it is can change until the agent is locked (a release
  -- job may hand it back to the queue, an assignment may take it): read it, lock that agent, and read it again
  -- under the lock until the two agree. An attempt that finds the chat moved is rolled back (a subtransaction),
  -- which lets go of the agent and the chat it locked: holding the old agent while waiting for the new one, out of
  -- key order, deadlocked against a heartbeat batch holding both (tests/db/storm.test.ts).
  loop
    begin
      select c.agent_id into v_agent
        from presence_private.chats c
       where c.id = p_chat_id and c.tenant_id = p_tenant_id and c.status <> 'closed';
      if not found then
        return;  -- closed already, or no such chat in this tenant
      end if;
      if v_agent is not null then
        perform 1 from presence_private.agent_state a where a.agent_id = v_agent for update;
      end if;
      select c.agent_id into v_locked
        from presence_private.chats c
       where c.id = p_chat_id and c.tenant_id = p_tenant_id and c.status <> 'closed'
         for update;
      if not found then
        return;
      end if;
      if v_locked is distinct from v_agent then
        raise exception 'chat % changed hands', p_chat_id using errcode = 'PRRTY';
      end if;
    exception when sqlstate 'PRRTY' then
      continue;
    end;
    exit;
  end loop;

  update presence_private.chats c set status = 'closed', agent_id = null where c.id = p_chat_id;
  if v_agent is not null then
    update presence_private.agent_state a set active_chats = greatest(a.active_chats - 1, 0) where a.agent_id = v_agent;
    perform presence_private.mirror_active_chats(array[v_agent]);
  end if;
end
$$;
