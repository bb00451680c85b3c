-- Up Migration

-- Bounded history. One request for the whole of an agent's history returned every event (200k events: 16 MB,
-- 2.2 s; 20 such requests took the server to 696 MB), one agent could write 385 status events a second by hand,
-- and time_in_status for one agent-day read every event of that agent. Now: the history is read a page at a time
-- after an opaque cursor, over at most 31 days; changes by hand are held to a human rate; one agent-day of
-- time_in_status reads that day's events only (presence.time_in_status_for). Figures: docs/reliability.md.
--
-- Project SQLSTATE added here: PRSCR, too many changes of status by hand (the server answers 429 with Retry-After).

-- The history's order is (at, id): this index hands one agent's events out in that order, from any cursor, without
-- a sort. It replaces (agent_id, at), which it covers.
create index status_events_agent_at_id_idx on presence.status_events (agent_id, at, id);
drop index presence.status_events_agent_at_idx;

-- Readers -----------------------------------------------------------------------------------------------------------

-- presence_private.status_log and presence.time_in_status again, with the keys of both branches of the log typed
-- alike (presence.tenant_key, presence.agent_key). The silent agents' branch had the platform's base types, and a
-- UNION ALL whose branches differ in type keeps a filter on those columns out of its branches: every read of one
-- agent's history scanned every event (1M events: docs/reliability.md).
drop view presence.time_in_status;
drop view presence_private.status_log;

create view presence_private.status_log as
select e.id, e.tenant_id, e.agent_id, e.from_status, e.to_status, e.reason, e.at
  from presence.status_events e
union all
select null, a.tenant_id::presence.tenant_key, a.id::presence.agent_key, a.status::text, 'offline', 'timeout',
       coalesce(presence.timeout_at(a.last_seen, s.offline_after_s, a.status_since), now())
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id
 where a.status <> 'offline'
   and presence.offline_at(a.last_seen, s.offline_after_s) <= now();
comment on view presence_private.status_log is 'presence.status_events plus the pending timeout of each agent that went silent and is not recorded offline yet (id null), at the moment readers began to see it offline. A filter on tenant_id and agent_id reaches the index of each branch.';

-- Partitioned by tenant and agent, so that a filter on either reaches the log's index through the window.
create view presence.time_in_status as
with spans as (
  select l.tenant_id,
         l.agent_id,
         l.to_status as status,
         l.at as started,
         coalesce(lead(l.at) over (partition by l.tenant_id, l.agent_id order by l.at, l.id nulls last), now()) as ended
    from presence_private.status_log l
)
select s.tenant_id,
       s.agent_id,
       d.day::date as day,
       s.status,
       sum(extract(epoch from
             least(s.ended at time zone 'UTC', d.day + interval '1 day')
           - greatest(s.started at time zone 'UTC', d.day))) as seconds
  from spans s
 cross join lateral generate_series(
         date_trunc('day', s.started at time zone 'UTC'),
         date_trunc('day', s.ended at time zone 'UTC'),
         interval '1 day') as d(day)
 where s.ended > s.started
 group by s.tenant_id, s.agent_id, d.day, s.status;
comment on view presence.time_in_status is 'Seconds (numeric) each agent spent in each status per UTC day, from presence.status_events and the timeouts readers already see; the current status counts up to now. A filter on tenant_id and agent_id reads that agent''s events only; for one agent and a few days, presence.time_in_status_for reads only those days.';
grant select on presence.time_in_status to presence_app, presence_analyst;

-- History, a page at a time ------------------------------------------------------------------------------------------

create function presence_private.history_cursor(p_at timestamptz, p_id bigint)
returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select rtrim(translate(encode(convert_to(format('%s.%s', (extract(epoch from p_at) * 1000000)::bigint, p_id), 'UTF8'),
                                'base64'), '+/', '-_'), '=')
$$;
comment on function presence_private.history_cursor(timestamptz, bigint) is 'The opaque cursor presence.agent_history hands out for the event (at, id): base64url of its time in microseconds since the epoch and its id.';

create function presence_private.history_after(p_cursor text, out at timestamptz, out id bigint)
language plpgsql immutable
set search_path = ''
as $$
declare
  v_parts text[];
begin
  begin
    v_parts := regexp_match(
      convert_from(decode(rpad(translate(p_cursor, '-_', '+/'), (length(p_cursor) + 3) / 4 * 4, '='), 'base64'), 'UTF8'),
      '^(-?[0-9]{1,18})\.([0-9]{1,18})$');
  exception when others then
    v_parts := null;
  end;
  if v_parts is null or p_cursor !~ '^[A-Za-z0-9_-]{1,64}$' then
    raise exception 'history cursor % is not one this history handed out', quote_literal(left(p_cursor, 64))
      using errcode = 'PRUSR';
  end if;
  at := 'epoch'::timestamptz + v_parts[1]::bigint * interval '1 microsecond';
  id := v_parts[2]::bigint;
end
$$;
comment on function presence_private.history_after(text) is 'The event (at, id) a cursor of presence.agent_history names. Raises PRUSR for a string that is not such a cursor.';

drop function presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz);

create function presence.agent_history(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  p_from timestamptz default null,
  p_to timestamptz default null,
  p_limit integer default null,
  p_cursor text default null
)
returns table (range_from timestamptz, range_to timestamptz, status_at_start text, events json, next_cursor text)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_to constant timestamptz := coalesce(p_to, now());
  v_from constant timestamptz := coalesce(p_from, v_to - interval '24 hours');
  v_limit constant integer := coalesce(p_limit, 500);
  v_after_at timestamptz := '-infinity';
  v_after_id bigint;
  v_events json;
  v_last text;
  v_count integer;
begin
  if not exists (select 1 from public.human_agents a where a.id = p_agent_id and a.tenant_id = p_tenant_id) then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  if v_from >= v_to then
    raise exception 'history range must have from before to, got % to %', v_from, v_to using errcode = 'PRUSR';
  end if;
  if v_to - v_from > interval '31 days' then
    raise exception 'history range must be at most 31 days, got % to %', v_from, v_to using errcode = 'PRUSR';
  end if;
  if v_limit < 1 or v_limit > 2000 then
    raise exception 'history limit must be from 1 to 2000 events, got %', v_limit using errcode = 'PRUSR';
  end if;
  if p_cursor is not null then
    select c.at, c.id into v_after_at, v_after_id from presence_private.history_after(p_cursor) c;
  end if;

  -- One more than the page, to know whether another follows. Order (at, id) with the pending timeout (id null)
  -- last: the index (agent_id, at, id) gives it without a sort, from the cursor on.
  select json_agg(json_build_object('from', p.from_status, 'to', p.to_status, 'reason', p.reason, 'at', p.at)
                  order by p.n) filter (where p.n <= v_limit),
         min(presence_private.history_cursor(p.at, p.id)) filter (where p.n = v_limit),
         count(*)
    into v_events, v_last, v_count
    from (select l.from_status, l.to_status, l.reason, l.at, l.id,
                 row_number() over (order by l.at, l.id nulls last) as n
            from (select l.from_status, l.to_status, l.reason, l.at, l.id
                    from presence_private.status_log l
                   where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id
                     and l.at >= greatest(v_from, v_after_at) and l.at < v_to
                     and (p_cursor is null or l.at > v_after_at or l.id is null or l.id > v_after_id)
                   order by l.at, l.id nulls last
                   limit v_limit + 1) l) p;

  return query
  select v_from, v_to,
         coalesce((select l.to_status from presence_private.status_log l
                    where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at < v_from
                    order by l.at desc, l.id desc nulls first limit 1), 'offline'),
         coalesce(v_events, '[]'::json),
         case when v_count > v_limit then v_last end;
end
$$;
comment on function presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz, integer, text) is 'Status timeline of one agent of a tenant from p_from (inclusive; default 24 hours before p_to) to p_to (exclusive; default now), at most 31 days: the range, the status the agent had at its start, and a page of at most p_limit (1 to 2000; null: 500) of the transitions in it, in time order, including a timeout readers already see but no sweep recorded yet. next_cursor is null on the last page; otherwise pass it as p_cursor, with the same range, for the transitions after this page (events written meanwhile at later times are on later pages). Raises PRAGT for an agent of another tenant, PRUSR for an empty or too long range, a limit out of range or a cursor it did not hand out.';

-- Time in status for one agent over a few days ------------------------------------------------------------------

-- The view presence.time_in_status spans each agent's whole history with a window function, so a filter on one day
-- cannot reach the index (one agent-day with 1M events: docs/reliability.md). This function reads the days asked
-- for: the last transition before them, theirs, and the first one after them. It counts exactly as the view does
-- (tests/db/history.test.ts compares the two).
create function presence.time_in_status_for(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  p_from_day date,
  p_to_day date
)
returns table (day date, status text, seconds numeric)
language plpgsql stable security definer
set search_path = ''
-- The planner takes each span for 1,000 days (generate_series over timestamps has no row estimate), and JIT then
-- compiled for 190 ms a query that runs in 10 (one agent-day of 6,700 events).
set jit = off
as $$
declare
  v_from constant timestamptz := p_from_day::timestamp at time zone 'UTC';
  v_to constant timestamptz := (p_to_day + 1)::timestamp at time zone 'UTC';
begin
  if not exists (select 1 from public.human_agents a where a.id = p_agent_id and a.tenant_id = p_tenant_id) then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  if p_from_day is null or p_to_day is null or p_from_day > p_to_day or p_to_day - p_from_day >= 31 then
    raise exception 'days must run from one day to at most 31 days later, got % to %',
      coalesce(p_from_day::text, 'null'), coalesce(p_to_day::text, 'null') using errcode = 'PRUSR';
  end if;
  return query
  with log as (
    (select l.to_status, l.at, l.id from presence_private.status_log l
      where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at < v_from
      order by l.at desc, l.id desc nulls first limit 1)
    union all
    select l.to_status, l.at, l.id from presence_private.status_log l
     where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at >= v_from and l.at < v_to
    union all
    (select l.to_status, l.at, l.id from presence_private.status_log l
      where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at >= v_to
      order by l.at, l.id nulls last limit 1)
  ), spans as (
    select l.to_status as status,
           l.at as started,
           coalesce(lead(l.at) over (order by l.at, l.id nulls last), now()) as ended
      from log l
  )
  select d.day::date,
         s.status,
         sum(extract(epoch from
               least(s.ended at time zone 'UTC', d.day + interval '1 day')
             - greatest(s.started at time zone 'UTC', d.day)))
    from spans s
   cross join lateral generate_series(
           greatest(date_trunc('day', s.started at time zone 'UTC'), p_from_day::timestamp),
           least(date_trunc('day', s.ended at time zone 'UTC'), p_to_day::timestamp),
           interval '1 day') as d(day)
   where s.ended > s.started
   group by d.day, s.status
   order by d.day, s.status;
end
$$;
comment on function presence.time_in_status_for(presence.tenant_key, presence.agent_key, date, date) is 'Seconds (numeric) one agent of a tenant spent in each status on each UTC day from p_from_day to p_to_day (at most 31 days), as presence.time_in_status counts them, reading only those days'' transitions: the way to ask for one agent and a few days. Raises PRAGT for an agent of another tenant, PRUSR for days out of order or more than 31 of them.';

-- Changes by hand at a human rate ------------------------------------------------------------------------------------

create or replace function presence.set_status(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_status text)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent record;
  v_target text;
  v_recent integer;
  v_oldest timestamptz;
begin
  perform presence_private.check_status(p_status);

  -- Lock order: the agent, then (reading) its tabs.
  select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);

  -- At most 20 changes by hand a minute, counted from the agent's own transitions under its row lock, so parallel
  -- calls cannot overshoot; beyond, nothing is written (not even a timeout lock_agent recorded: the error undoes it).
  select count(*), min(e.at) into v_recent, v_oldest
    from (select e.at from presence.status_events e
           where e.agent_id = p_agent_id and e.reason = 'manual' and e.at > now() - interval '1 minute'
           order by e.at desc limit 20) e;
  if v_recent >= 20 then
    raise exception 'agent % changed status by hand % times in the last minute: at most 20 changes a minute',
      p_agent_id, v_recent
      using errcode = 'PRSCR',
            detail = format('retry_after_s=%s', greatest(1, ceil(extract(epoch from v_oldest + interval '1 minute' - now())))::integer);
  end if;

  update public.human_agents a set chosen_status = p_status where a.id = p_agent_id;

  -- The choice takes effect at once for a live agent; one with no live tab stays offline and takes its chosen
  -- status with its next beat.
  v_target := case
    when p_status = 'offline' then 'offline'
    when exists (select 1 from presence_private.sessions s
                  where s.agent_id = p_agent_id and presence.offline_at(s.last_seen, v_agent.offline_after_s) > now())
      then p_status
    else 'offline'
  end;
  if v_target <> v_agent.status then
    perform presence_private.apply_transitions(
      array[(p_agent_id, p_tenant_id, v_agent.status, v_target, 'manual', now())::presence_private.transition]);
  end if;
  return v_target;
end
$$;
comment on function presence.set_status(presence.tenant_key, presence.agent_key, text) is 'The agent''s own choice of status (available, away, dnd, offline; reason manual). Heartbeats and sweeps never override it. At most 20 transitions by hand a minute per agent: beyond, raises PRSCR with detail retry_after_s=<seconds> and writes nothing. Returns the effective status.';

-- Privileges -------------------------------------------------------------------------------------------------------

revoke all on function
  presence_private.history_cursor(timestamptz, bigint),
  presence_private.history_after(text),
  presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz, integer, text),
  presence.time_in_status_for(presence.tenant_key, presence.agent_key, date, date)
  from public;
grant execute on function
  presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz, integer, text),
  presence.time_in_status_for(presence.tenant_key, presence.agent_key, date, date)
  to presence_app;
grant execute on function presence.time_in_status_for(presence.tenant_key, presence.agent_key, date, date)
  to presence_analyst;
