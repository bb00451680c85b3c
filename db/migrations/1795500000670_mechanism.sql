-- Up Migration

-- Names nobody can confuse, and every transition on the record. What caused a transition is its mechanism
-- (status_events.reason was that: heartbeat, timeout, left, ...; now status_events.mechanism, with two more:
-- supervisor, a manager's choice, and expiry, the end of a chosen status's `until`); a tenant's reason is
-- reason_id. Presence's state of each agent keeps the chosen status's reason, its end and who chose it, and the
-- one writer of transitions records them with each event: the reason when the agent is in its chosen status, who
-- acted when a person did (the agent's own choice, a supervisor's), and when the chosen status ends.
--
-- Every reader follows: the status log, the history, the stream's events, the agent's day, the time-in-status and
-- daily views carry the mechanism, the reason and the actor.

alter table presence.status_events rename column reason to mechanism;
alter table presence.status_events drop constraint status_events_reason_check;
alter table presence.status_events add constraint status_events_mechanism_check
  check (mechanism in ('heartbeat', 'timeout', 'left', 'logout', 'manual', 'idle', 'active', 'admin', 'supervisor', 'expiry'));
alter table presence.status_events add column chosen_until timestamptz;
comment on column presence.status_events.mechanism is 'What caused the transition: heartbeat, timeout, left (a tab closed), logout, manual (the agent chose), idle, active, admin (an operator''s command), supervisor (a manager chose), expiry (a chosen status''s end passed).';
comment on column presence.status_events.chosen_until is 'When the chosen status ends, if it was chosen with an end, as of the transition.';

alter type presence_private.transition rename attribute reason to mechanism;

alter table presence_private.agent_state drop constraint agent_state_status_mechanism_check;
alter table presence_private.agent_state add constraint agent_state_status_mechanism_check
  check (status_mechanism in ('heartbeat', 'timeout', 'left', 'logout', 'manual', 'idle', 'active', 'admin', 'supervisor', 'expiry'));
alter table presence_private.agent_state
  add column chosen_reason_id uuid,
  add column chosen_until timestamptz,
  add column set_by_id text,
  add column set_by_name text;
comment on column presence_private.agent_state.status_mechanism is 'What made the last transition: heartbeat, timeout, left, logout, manual, idle, active, admin, supervisor or expiry.';
comment on column presence_private.agent_state.chosen_reason_id is 'The tenant reason (presence.reasons) the chosen status was chosen with; null: none.';
comment on column presence_private.agent_state.chosen_until is 'When the chosen status ends: from then on the agent reads available (offline if silent), and the end is recorded at that moment (mechanism expiry) by the agent''s next beat or the sweep, whichever comes first.';
comment on column presence_private.agent_state.set_by_id is 'Who chose the chosen status (the platform''s user id: the agent, or a supervisor); null for the default or an expiry.';
comment on column presence_private.agent_state.set_by_name is 'The name the platform gave for set_by_id.';
-- The sweep's expiry pass: only agents whose chosen status ends.
create index agent_state_chosen_until_idx on presence_private.agent_state (chosen_until) where chosen_until is not null;

-- The status readers believe now: offline once silent past offline_after_s; available once the chosen status's end
-- has passed (until the end is recorded); else the materialized status. An agent offline by choice reads offline
-- until its next beat records the end (it may have closed its last tab meanwhile: only a beat knows).
create function presence.current_status(p_status text, p_until timestamptz, p_last_seen timestamptz,
                                        p_offline_after_s integer)
returns text
language sql stable parallel safe
as $$
  select case when presence.offline_at(p_last_seen, p_offline_after_s) <= now() then 'offline'
              when p_until <= now() and p_status <> 'offline' then 'available'
              else p_status end
$$;
comment on function presence.current_status(text, timestamptz, timestamptz, integer) is 'The status a reader should believe now: offline once the last beat is older than offline_after_s, available once a chosen status''s end (p_until) has passed, else the materialized status; whether or not a sweep or a beat has recorded it yet.';
grant execute on function presence.current_status(text, timestamptz, timestamptz, integer) to presence_app, presence_analyst;

-- The one writer -----------------------------------------------------------------------------------------------------

create or replace function presence_private.apply_transitions(p_changes presence_private.transition[])
returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
  v_jobs integer;
begin
  -- Callers hold the state rows of the agents they pass (presence_private.lock_agent, FOR UPDATE or an UPDATE), so
  -- from_status is current; the status = from_status guard keeps a stale request from rewriting history.
  -- A transition is dated at its transaction's start (now()) or when its agent went offline, never before the
  -- agent's previous transition: a caller that waited for the agent's lock started before the transaction it
  -- waited for, whose transition is the earlier one. Readers order events by at: in the storm test
  -- (tests/db/storm.test.ts) 281 of 5,270 events were dated before the event they follow, breaking the chain.
  -- A choice by a person (manual, supervisor) is recorded even when the status stays, since its reason or end
  -- changed (the callers pass one only then).
  --
  -- The UPDATE comes before the INSERT, so the transaction has its id before it takes an event id:
  -- presence.status_changes_after relies on that to know when an event id it has not seen can no longer commit.
  -- The platform's status column receives the new status (as its own type: text, varchar or an enum).
  with changed as (
    update presence_private.agent_state a
       set status = c.to_status, status_mechanism = c.mechanism, status_since = greatest(c.at, a.status_since)
      from unnest(p_changes) c
     where a.agent_id = c.agent_id
       and a.tenant_id = c.tenant_id
       and a.status = c.from_status
       and (c.to_status <> c.from_status or c.mechanism in ('manual', 'supervisor'))
    returning a.tenant_id, a.agent_id, c.from_status, c.to_status, a.chosen_status, c.mechanism,
              a.status_since as at, a.active_chats,
              case when c.to_status = a.chosen_status then a.chosen_reason_id end as reason_id,
              case when c.mechanism in ('manual', 'supervisor') then a.set_by_id end as actor_id,
              case when c.mechanism in ('manual', 'supervisor') then a.set_by_name end as actor_name,
              a.chosen_until
  ), mirrored as (
    update public.human_agents h set status = c.to_status::presence.agent_status
      from changed c
     where h.id = c.agent_id and c.to_status <> c.from_status
    returning 1
  ), logged as (
    insert into presence.status_events (tenant_id, agent_id, from_status, to_status, chosen_status, mechanism, at,
                                        reason_id, actor_id, actor_name, chosen_until)
    select c.tenant_id, c.agent_id, c.from_status, c.to_status, c.chosen_status::text, c.mechanism, c.at,
           c.reason_id, c.actor_id, c.actor_name, c.chosen_until
      from changed c
    returning 1
  ), releases as (
    -- Agents going offline with chats get one release job each, after their tenant's grace counted from when they
    -- went offline. The job key is per agent, so a flapping agent has one pending job whose run_at moves to the
    -- latest offline.
    select array(
      select row('release_chats', json_build_object('agentId', c.agent_id::text), null,
                 greatest(c.at + st.release_chats_after_s * interval '1 second', now()), 5,
                 'release_chats:' || c.agent_id::text, null, null)::graphile_worker.job_spec
        from changed c
        join presence.settings st on st.tenant_id = c.tenant_id
       where c.to_status = 'offline' and c.from_status <> 'offline' and c.active_chats > 0) as specs
  ), enqueued as (
    -- add_jobs only when there is a job to add: even with an empty array it runs four statements and sends a
    -- jobs:insert notification that wakes every worker, and most transitions (every come-back, every manual
    -- status, most timeouts) have no chats to release.
    select case when cardinality(r.specs) > 0
                then (select count(*) from graphile_worker.add_jobs(r.specs))
                else 0 end as jobs
      from releases r
  )
  select (select count(*) from logged), (select e.jobs from enqueued e)
    into v_count, v_jobs;
  if v_count > 0 then
    -- A doorbell, delivered on commit only, with nothing in it: listeners read the events from the table. Identical
    -- notifications of one transaction are folded into one.
    perform pg_notify('presence_status', '');
  end if;
  return v_count;
end
$$;
comment on function presence_private.apply_transitions(presence_private.transition[]) is 'The only writer of an agent''s status: applies the transitions to presence_private.agent_state and mirrors the status into public.human_agents.status, appends them to presence.status_events with their mechanism, the chosen status''s reason (when the agent is in it), who acted (for manual and supervisor) and the chosen status''s end, and rings channel presence_status on commit with an empty payload. For each agent going offline with chats it enqueues graphile-worker job release_chats. Returns how many transitions happened.';

-- Readers ------------------------------------------------------------------------------------------------------------

drop view presence.daily_occupancy;
drop view presence.daily_status_seconds;
drop view presence.time_in_status;
drop view presence_private.status_log;

-- The recorded events, plus what every reader already sees and nothing recorded yet: the end of a chosen status
-- (at its until, while the agent was live then) and the timeout of a silent agent (at the moment readers began to
-- see it offline), in that order.
create view presence_private.status_log as
select e.id, e.tenant_id, e.agent_id, e.from_status, e.to_status, e.mechanism, e.at, e.reason_id, e.actor_id,
       e.actor_name
  from presence.status_events e
union all
select null, a.tenant_id, a.agent_id, a.status, 'available', 'expiry', greatest(a.chosen_until, a.status_since),
       null, null, null
  from presence_private.agent_state a
  join presence.settings s on s.tenant_id = a.tenant_id
 where a.chosen_until <= now()
   and a.status not in ('offline', 'available')
   and presence.offline_at(a.last_seen, s.offline_after_s) > a.chosen_until
union all
select null, a.tenant_id, a.agent_id,
       case when x.expired then 'available' else a.status end, 'offline', 'timeout',
       coalesce(presence.timeout_at(a.last_seen, s.offline_after_s,
                                    case when x.expired then greatest(a.chosen_until, a.status_since)
                                         else a.status_since end), now()),
       null, null, null
  from presence_private.agent_state a
  join presence.settings s on s.tenant_id = a.tenant_id
 cross join lateral (select coalesce(a.chosen_until <= now() and a.status not in ('offline', 'available')
                                     and presence.offline_at(a.last_seen, s.offline_after_s) > a.chosen_until,
                                     false) as expired) x
 where a.status <> 'offline'
   and presence.offline_at(a.last_seen, s.offline_after_s) <= now();
comment on view presence_private.status_log is 'presence.status_events plus what readers already see that is not recorded yet (id null): the end of a chosen status at its until (mechanism expiry) and the timeout of an agent that went silent, at the moment readers began to see it offline. A filter on tenant_id and agent_id reaches the index of each branch.';

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

create view presence.daily_status_seconds as
with spans as (
  select l.tenant_id,
         l.agent_id,
         l.to_status as status,
         l.reason_id,
         l.at as started,
         coalesce(lead(l.at) over (partition by l.tenant_id, l.agent_id order by l.at, l.id nulls last), now()) as ended
    from presence_private.status_log l
)
select s.tenant_id,
       s.agent_id,
       d.day::date as day,
       s.status,
       s.reason_id,
       r.label as reason_label,
       sum(extract(epoch from
             least(s.ended, (d.day + interval '1 day') at time zone st.time_zone)
           - greatest(s.started, d.day at time zone st.time_zone))) as seconds
  from spans s
  join presence.settings st on st.tenant_id = s.tenant_id
  left join presence_private.tenant_reasons r on r.id = s.reason_id
 cross join lateral generate_series(
         date_trunc('day', s.started at time zone st.time_zone),
         date_trunc('day', s.ended at time zone st.time_zone),
         interval '1 day') as d(day)
 where s.ended > s.started
 group by s.tenant_id, s.agent_id, d.day, s.status, s.reason_id, r.label;
comment on view presence.daily_status_seconds is 'Seconds (numeric) each agent spent in each status and tenant reason (reason_id, reason_label; null: none named) per day of the tenant''s time zone, from presence.status_events and what readers already see (timeouts, ends of chosen statuses); the current status counts up to now. Filter by tenant_id (and agent_id, day).';
grant select on presence.daily_status_seconds to presence_analyst;

create view presence.daily_occupancy as
with spans as (
  select l.tenant_id,
         l.agent_id,
         l.to_status as status,
         l.at as started,
         coalesce(lead(l.at) over (partition by l.tenant_id, l.agent_id order by l.at, l.id nulls last), now()) as ended
    from presence_private.status_log l
), available as (
  -- Each available span cut at the tenant's midnights.
  select s.tenant_id, s.agent_id, d.day::date as day,
         greatest(s.started, d.day at time zone st.time_zone) as piece_from,
         least(s.ended, (d.day + interval '1 day') at time zone st.time_zone) as piece_to
    from spans s
    join presence.settings st on st.tenant_id = s.tenant_id
   cross join lateral generate_series(
           date_trunc('day', s.started at time zone st.time_zone),
           date_trunc('day', s.ended at time zone st.time_zone),
           interval '1 day') as d(day)
   where s.status = 'available' and s.ended > s.started
), steps as (
  -- How many chats each agent held: +1 at each hold's start, -1 at its end, from no chats at the beginning of time.
  select h.tenant_id, h.agent_id, h.held_from as t, 1 as delta from presence_private.chat_holds h
  union all
  select h.tenant_id, h.agent_id, h.held_until, -1 from presence_private.chat_holds h where h.held_until is not null
  union all
  select a.tenant_id::presence.tenant_key, a.agent_id::presence.agent_key, '-infinity'::timestamptz, 0
    from presence.agent_presence a
), held as (
  select t.tenant_id, t.agent_id, t.t as held_from,
         coalesce(lead(t.t) over w, 'infinity') as held_to,
         sum(t.delta) over (w rows between unbounded preceding and current row) as chats
    from (select s.tenant_id, s.agent_id, s.t, sum(s.delta) as delta
            from steps s group by s.tenant_id, s.agent_id, s.t) t
  window w as (partition by t.tenant_id, t.agent_id order by t.t)
)
select a.tenant_id,
       a.agent_id,
       a.day,
       sum(extract(epoch from a.piece_to - a.piece_from)) as available_seconds,
       coalesce(sum(o.full_seconds), 0) as available_full_seconds,
       case when sum(extract(epoch from a.piece_to - a.piece_from)) > 0
            then coalesce(sum(o.chat_seconds), 0) / sum(extract(epoch from a.piece_to - a.piece_from)) end
         as average_chats_available
  from available a
  join presence.agent_presence p on p.tenant_id = a.tenant_id and p.agent_id = a.agent_id
  left join lateral (
    select sum(extract(epoch from least(a.piece_to, h.held_to) - greatest(a.piece_from, h.held_from)) * h.chats)
             as chat_seconds,
           sum(extract(epoch from least(a.piece_to, h.held_to) - greatest(a.piece_from, h.held_from)))
             filter (where h.chats >= p.max_chats) as full_seconds
      from held h
     where h.tenant_id = a.tenant_id and h.agent_id = a.agent_id
       and h.held_from < a.piece_to and h.held_to > a.piece_from) o on true
 where a.piece_to > a.piece_from
 group by a.tenant_id, a.agent_id, a.day;
comment on view presence.daily_occupancy is 'Per agent and day of the tenant''s time zone: seconds available, seconds available with no free capacity (holding max_chats chats or more; max_chats as it is now), and the average number of chats held while available (null when never available). From the status log and presence_private.chat_holds (kept since migration 1795500000630); the current status counts up to now. Filter by tenant_id (and agent_id, day).';
grant select on presence.daily_occupancy to presence_analyst;

-- The history, the stream's events and the agent's day, with the mechanism, the reason and who acted.

create or replace function presence.agent_history(
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
  select json_agg(json_build_object('from', p.from_status, 'to', p.to_status, 'mechanism', p.mechanism,
                    'reason', case when p.reason_label is null then null
                                   else json_build_object('id', p.reason_id, 'label', p.reason_label) end,
                    'actor', case when p.actor_id is null then null
                                  else json_build_object('id', p.actor_id, 'name', p.actor_name) end,
                    'at', p.at)
                  order by p.n) filter (where p.n <= v_limit),
         min(presence_private.history_cursor(p.at, p.id)) filter (where p.n = v_limit),
         count(*)
    into v_events, v_last, v_count
    from (select l.from_status, l.to_status, l.mechanism, l.at, l.id, l.reason_id, r.label as reason_label,
                 l.actor_id, l.actor_name,
                 row_number() over (order by l.at, l.id nulls last) as n
            from (select l.from_status, l.to_status, l.mechanism, l.at, l.id, l.reason_id, l.actor_id, l.actor_name
                    from presence_private.status_log l
                   where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id
                     and l.at >= greatest(v_from, v_after_at) and l.at < v_to
                     and (p_cursor is null or l.at > v_after_at or l.id is null or l.id > v_after_id)
                   order by l.at, l.id nulls last
                   limit v_limit + 1) l
            left join presence_private.tenant_reasons r on r.id = l.reason_id) p;

  return query
  select v_from, v_to,
         coalesce((select l.to_status from presence_private.status_log l
                    where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at < v_from
                    order by l.at desc, l.id desc nulls first limit 1), 'offline'),
         coalesce(v_events, '[]'::json),
         case when v_count > v_limit then v_last end;
end
$$;


create or replace function presence.status_changes_after(
  p_after bigint,
  p_tenant_ids presence.tenant_key[],
  p_pending_ids bigint[],
  p_pending_xids bigint[],
  p_limit integer,
  out changes json,
  out next_after bigint,
  out more boolean,
  out pending_ids bigint[],
  out pending_xids bigint[],
  out reasons text[],
  out reason_counts integer[]
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_last bigint;
  v_xid xid8;
  v_end bigint;
begin
  if p_after is not null and p_after < 0 then
    raise exception 'after must be null or an event id (>= 0), got %', p_after using errcode = 'PRUSR';
  end if;
  if p_limit is null or p_limit < 1 or p_limit > 10000 then
    raise exception 'limit must be between 1 and 10000, got %', coalesce(p_limit::text, 'null') using errcode = 'PRUSR';
  end if;
  if coalesce(cardinality(p_tenant_ids), 0) > 100000 then
    raise exception 'at most 100000 tenants, got %', cardinality(p_tenant_ids) using errcode = 'PRUSR';
  end if;
  if coalesce(cardinality(p_pending_ids), 0) <> coalesce(cardinality(p_pending_xids), 0)
     or coalesce(cardinality(p_pending_ids), 0) > 100000 then
    raise exception 'pending ids and xids must be arrays of one length, at most 100000, got % and %',
      coalesce(cardinality(p_pending_ids), 0), coalesce(cardinality(p_pending_xids), 0) using errcode = 'PRUSR';
  end if;

  -- 1. Every event id taken so far, committed, rolled back or still in flight, is at most v_last.
  v_last := coalesce(pg_sequence_last_value(pg_get_serial_sequence('presence.status_events', 'id')::regclass), 0);
  if p_after is null then
    -- A new reader starts from here: what happened before it is in the snapshot its streams read first.
    changes := '[]'::json;
    next_after := v_last;
    more := false;
    pending_ids := '{}';
    pending_xids := '{}';
    reasons := '{}';
    reason_counts := '{}';
    return;
  end if;
  -- 2. A transaction id above that of every writer that took one of those ids (apply_transitions takes its
  -- transaction id before its event ids). Once no transaction at or below it is running, an id it has not seen
  -- in the table never will be: rolled back.
  v_xid := pg_current_xact_id();
  v_end := least(v_last, p_after + p_limit);

  -- 3. One statement, so one snapshot: the ids after p_after (at most p_limit of them), the ids seen missing
  -- before and not yet known rolled back, and which of those are still missing.
  with snap as (
    select pg_snapshot_xmin(pg_current_snapshot()) as xmin
  ), pending as (
    select p.id, p.xid from unnest(p_pending_ids, p_pending_xids) p(id, xid) where p.id <= p_after
  ), found as (
    select e.* from presence.status_events e where e.id > p_after and e.id <= v_end
    union all
    select e.* from presence.status_events e where e.id in (select p.id from pending p)
  ), missing as (
    -- in the new range: taken, not visible now
    select g.id, v_xid::text::bigint as xid
      from generate_series(p_after + 1, v_end) g(id)
     where not exists (select 1 from found f where f.id = g.id)
    union all
    -- pending from earlier reads: still not visible, and the writer may still be running
    select p.id, p.xid from pending p, snap s
     where not exists (select 1 from found f where f.id = p.id)
       and s.xmin <= p.xid::text::xid8
  )
  select coalesce((select json_agg(json_build_object(
                     'id', f.id, 'tenant', f.tenant_id::text, 'agent', f.agent_id::text, 'from', f.from_status,
                     'to', f.to_status, 'chosen', f.chosen_status, 'mechanism', f.mechanism,
                     'reason', case when r.id is null then null else json_build_object('id', r.id, 'label', r.label) end,
                     'actor', case when f.actor_id is null then null
                                   else json_build_object('id', f.actor_id, 'name', f.actor_name) end,
                     'until', f.chosen_until, 'at', f.at) order by f.id)
                     from found f left join presence_private.tenant_reasons r on r.id = f.reason_id
                    where f.tenant_id = any(p_tenant_ids)), '[]'::json),
         array(select m.id from missing m order by m.id),
         array(select m.xid from missing m order by m.id),
         array(select r.mechanism from found r group by r.mechanism order by r.mechanism),
         array(select count(*)::integer from found r group by r.mechanism order by r.mechanism)
    into changes, pending_ids, pending_xids, reasons, reason_counts;
  next_after := v_end;
  more := v_end < v_last;
end
$$;

comment on function presence.status_changes_after(bigint, presence.tenant_key[], bigint[], bigint[], integer) is 'What a server reads when channel presence_status rings: the status events after event id p_after for the tenants named (json: id, tenant, agent, from, to, chosen, mechanism, reason {id, label}, actor {id, name}, until, at), with counts by mechanism over all tenants for metrics (reasons, reason_counts: the names of an earlier version). Returns the id to pass next and the ids whose transaction may still commit, which the caller passes back so that a late commit is read once. Reads only; no clock argument.';

create or replace function presence.agent_day(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_date date default null)
returns table (day date, time_zone text, range_from timestamptz, range_to timestamptz, status_at_start text,
               events json, totals json)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_zone text;
  v_day date;
  v_from timestamptz;
  v_to timestamptz;
begin
  select s.time_zone into v_zone from presence.settings s where s.tenant_id = p_tenant_id;
  if not exists (select 1 from presence.agent_presence p where p.tenant_id = p_tenant_id and p.agent_id = p_agent_id) then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  v_day := coalesce(p_date, (now() at time zone v_zone)::date);
  if v_day not between date '2000-01-01' and (now() at time zone v_zone)::date + 1 then
    raise exception 'date must be between 2000-01-01 and tomorrow in the tenant''s time zone, got %', v_day
      using errcode = 'PRUSR';
  end if;
  v_from := v_day::timestamp at time zone v_zone;
  v_to := (v_day + 1)::timestamp at time zone v_zone;

  return query
  with log as (
    select l.id, l.from_status, l.to_status, l.mechanism, l.at, l.reason_id, l.actor_id, l.actor_name
      from presence_private.status_log l
     where l.tenant_id = p_tenant_id and l.agent_id = p_agent_id
  ), before as (
    select b.to_status, b.reason_id from log b where b.at < v_from order by b.at desc, b.id desc nulls first limit 1
  ), inside as (
    select i.* from log i where i.at >= v_from and i.at < v_to order by i.at, i.id nulls last limit 2000
  ), spans as (
    select b.to_status as status, b.reason_id, v_from as started from before b
    union all
    select i.to_status, i.reason_id, i.at from inside i
  ), clipped as (
    select s.status, s.reason_id,
           greatest(s.started, v_from) as started,
           least(coalesce(lead(s.started) over (order by s.started), v_to), v_to, now()) as ended
      from spans s
  )
  select v_day, v_zone, v_from, v_to,
         coalesce((select b.to_status from before b), 'offline'),
         coalesce((select json_agg(json_build_object(
                     'from', i.from_status, 'to', i.to_status, 'mechanism', i.mechanism,
                     'reason', case when r.id is null then null else json_build_object('id', r.id, 'label', r.label) end,
                     'actor', case when i.actor_id is null then null
                                   else json_build_object('id', i.actor_id, 'name', i.actor_name) end,
                     'at', i.at) order by i.at, i.id nulls last)
                     from inside i left join presence_private.tenant_reasons r on r.id = i.reason_id), '[]'::json),
         coalesce((select json_agg(json_build_object(
                     'status', t.status,
                     'reason', case when r.id is null then null else json_build_object('id', r.id, 'label', r.label) end,
                     'seconds', t.seconds) order by t.status, r.label)
                     from (select c.status, c.reason_id, sum(extract(epoch from c.ended - c.started)) as seconds
                             from clipped c where c.ended > c.started
                            group by c.status, c.reason_id) t
                     left join presence_private.tenant_reasons r on r.id = t.reason_id), '[]'::json);
end
$$;


-- Every agent now: the same columns (status, chosen_status derived with the chosen status's end), then the reason,
-- the last transition's mechanism and moment, the end and who chose.
-- Through define_for_platform (1795500000430): the platform's active_chats and max_chats, or presence's.
select presence_private.define_for_platform($def$
create or replace view presence.agent_presence as
select a.tenant_id,
       a.id as agent_id,
       a.name,
       a.email,
       presence.current_status(coalesce(st.status, 'offline'), st.chosen_until, st.last_seen, s.offline_after_s) as status,
       case when st.chosen_until <= now() then 'available'
            else coalesce(st.chosen_status,
                          case when a.status::text in ('away', 'dnd') then a.status::text else 'available' end) end
         as chosen_status,
       st.last_seen,
       floor(extract(epoch from now() - st.last_seen))::integer as seconds_since_seen,
       coalesce(st.active_chats, /*<active_chats>*/a.active_chats/*|*/0/*</active_chats>*/)::integer as active_chats,
       /*<max_chats>*/a.max_chats/*|*/coalesce(st.max_chats, 5)/*</max_chats>*/ as max_chats,
       presence.offline_at(st.last_seen, s.offline_after_s) as offline_at,
       case when st.chosen_until <= now() then null else st.chosen_reason_id end as reason_id,
       case when st.chosen_until <= now() then null else r.label end as reason_label,
       st.status_mechanism as mechanism,
       st.status_since as since,
       case when st.chosen_until <= now() then null else st.chosen_until end as until,
       case when st.chosen_until <= now() then null else st.set_by_id end as set_by_id,
       case when st.chosen_until <= now() then null else st.set_by_name end as set_by_name
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id
  left join presence_private.agent_state st on st.agent_id = a.id
  left join presence_private.tenant_reasons r on r.id = st.chosen_reason_id
$def$);
comment on view presence.agent_presence is 'Presence of every agent now. status is derived at read time from last_seen and the tenant''s offline_after_s, so a silent agent reads offline before any sweep has run, and from the chosen status''s end (until), so an agent whose chosen status ended reads available before anything recorded it; chosen_status is what the agent (or a supervisor) chose, with its tenant reason (reason_id, reason_label), end (until) and who chose it (set_by_id, set_by_name); mechanism and since are the last recorded transition''s; offline_at is when the agent reads offline unless it beats again. Filter by tenant_id.';

-- The sign-in's user: its agent's status derived the same way, and the tenant's time zone.
alter type presence_accounts.session_user_row add attribute time_zone text;

create or replace function presence_accounts.session_users(p_token_hashes bytea[])
returns setof presence_accounts.session_user_row
language plpgsql stable security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
  return query
  select r.ord::integer, s.id, u.id, u.email, u.name, u.role, t.id::presence.tenant_key, t.name::text,
         a.agent_id,
         presence.current_status(a.status, a.chosen_until, a.last_seen, st.offline_after_s),
         case when a.chosen_until <= now() then 'available' else a.chosen_status end,
         st.heartbeat_interval_s, st.offline_after_s, st.away_after_s,
         extract(epoch from s.expires_at - now())::double precision,
         st.time_zone
    from unnest(p_token_hashes) with ordinality as r(token_hash, ord)
    join presence_accounts.auth_sessions s on s.token_hash = r.token_hash and s.revoked_at is null and s.expires_at > now()
    join presence_accounts.users u on u.id = s.user_id
    join public.tenants t on t.id = u.tenant_id
    join presence.settings st on st.tenant_id = u.tenant_id
    left join presence_private.agent_state a on a.agent_id = u.agent_id
   order by r.ord;
end
$$;

-- The summary counts the agents in each reason of their chosen status (while they are in that status).
create or replace function presence.tenant_summaries(p_tenant_ids presence.tenant_key[])
returns table (tenant_id text, at timestamptz, statuses json, reasons json, free_capacity bigint, queued_chats bigint,
               oldest_queued_wait_s integer)
language sql stable security definer
set search_path = ''
as $$
  select t.id::text,
         now(),
         json_build_object(
           'available', coalesce(a.available, 0),
           'away', coalesce(a.away, 0),
           'dnd', coalesce(a.dnd, 0),
           'offline', coalesce(a.offline, 0)),
         coalesce((select json_agg(json_build_object('id', x.reason_id, 'label', x.reason_label, 'status', x.status,
                                                     'count', x.n) order by x.status, x.position)
                     from (select p.reason_id, p.reason_label, p.status, min(r.position) as position, count(*) as n
                             from presence.agent_presence p
                             join presence_private.tenant_reasons r on r.id = p.reason_id and r.status = p.status
                            where p.tenant_id = t.id
                            group by p.reason_id, p.reason_label, p.status) x), '[]'::json),
         coalesce(a.free_capacity, 0),
         coalesce(q.queued, 0),
         q.oldest_wait_s
    from unnest(p_tenant_ids) as t(id)
    left join lateral (
      select count(*) filter (where p.status = 'available') as available,
             count(*) filter (where p.status = 'away') as away,
             count(*) filter (where p.status = 'dnd') as dnd,
             count(*) filter (where p.status = 'offline') as offline,
             sum(greatest(p.max_chats - p.active_chats, 0)) filter (where p.status = 'available') as free_capacity
        from presence.agent_presence p
       where p.tenant_id = t.id) a on true
    left join lateral (
      select count(*) as queued, floor(extract(epoch from now() - min(c.created_at)))::integer as oldest_wait_s
        from presence_private.chats c
       where c.tenant_id = t.id and c.status = 'queued') q on true
$$;

-- The stream hub's question at a tenant's deadline: besides the timeouts readers began to see, the ends of chosen
-- statuses (mechanism expiry, at their until, for agents live then), shaped as status_changes_after's events; the
-- next deadline is the earliest of a live agent's offline moment and a chosen status's end.
create or replace function presence.timeouts_due(p_tenant_ids presence.tenant_key[], p_after timestamptz[])
returns table(tenant_id text, checked_at timestamptz, next_check_at timestamptz, timeouts json)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  -- A timeout is reported once it is this old. A beat that began before an agent's offline moment keeps the agent
  -- live (its now() is its start) without any event; it takes its agent's lock at once, and the lock below waits
  -- for it, so an agent a beat already under way keeps live is never reported offline.
  v_settle constant interval := interval '100 milliseconds';
  v_settled constant timestamptz := now() - v_settle;
begin
  if coalesce(cardinality(p_tenant_ids), 0) <> coalesce(cardinality(p_after), 0)
     or coalesce(cardinality(p_tenant_ids), 0) > 100000 then
    raise exception 'tenant ids and after must be arrays of one length, at most 100000, got % and %',
      coalesce(cardinality(p_tenant_ids), 0), coalesce(cardinality(p_after), 0) using errcode = 'PRUSR';
  end if;

  return query
  with asked as (
    select k.tenant_id, coalesce(k.after, '-infinity'::timestamptz) as after
      from unnest(p_tenant_ids, p_after) k(tenant_id, after)
  ), agents as (
    -- Agents not recorded offline whose offline moment or chosen status's end passed since the tenant was last
    -- asked. Lock order: the agents only, in key order; FOR SHARE re-checks each on its newest row version once a
    -- beat holding it commits.
    select a.agent_id as id, a.tenant_id, a.status, a.chosen_status, a.chosen_until, a.status_since,
           presence.offline_at(a.last_seen, s.offline_after_s) as offline_at, s.offline_after_s, a.last_seen,
           k.after
      from presence_private.agent_state a
      join asked k on k.tenant_id = a.tenant_id
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.status <> 'offline'
       and ((presence.offline_at(a.last_seen, s.offline_after_s) > k.after
             and presence.offline_at(a.last_seen, s.offline_after_s) <= v_settled)
            or (a.chosen_until > k.after and a.chosen_until <= v_settled))
     order by a.agent_id
       for share of a
  ), due as (
    select g.id, g.tenant_id, g.status as from_status, 'available' as to_status, 'available' as chosen_status,
           'expiry' as mechanism, greatest(g.chosen_until, g.status_since) as at
      from agents g
     where g.chosen_until > g.after and g.chosen_until <= v_settled
       and g.status <> 'available' and g.offline_at > g.chosen_until
    union all
    select g.id, g.tenant_id,
           case when x.expired then 'available' else g.status end, 'offline',
           case when x.expired then 'available' else g.chosen_status end, 'timeout',
           presence.timeout_at(g.last_seen, g.offline_after_s,
                               case when x.expired then greatest(g.chosen_until, g.status_since) else g.status_since end)
      from agents g
     cross join lateral (select coalesce(g.chosen_until <= now() and g.status <> 'available'
                                         and g.offline_at > g.chosen_until, false) as expired) x
     where g.offline_at > g.after and g.offline_at <= v_settled
  ), live as (
    -- The earliest moment another agent of the tenant reads otherwise: offline unless it beats again
    -- (agent_state_online_idx), or its chosen status ends.
    select a.tenant_id,
           min(least(presence.offline_at(a.last_seen, s.offline_after_s),
                     case when a.chosen_until > v_settled then a.chosen_until end)) as next_at
      from presence_private.agent_state a
      join asked k on k.tenant_id = a.tenant_id
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.status <> 'offline'
       and presence.offline_at(a.last_seen, s.offline_after_s) > v_settled
     group by a.tenant_id
  )
  select k.tenant_id::text,
         greatest(k.after, v_settled),
         l.next_at + v_settle,
         coalesce((select json_agg(json_build_object(
                     'tenant', d.tenant_id::text, 'agent', d.id::text, 'from', d.from_status, 'to', d.to_status,
                     'chosen', d.chosen_status, 'mechanism', d.mechanism, 'reason', null, 'actor', null,
                     'until', null, 'at', d.at) order by d.at, d.id)
                     from due d where d.tenant_id = k.tenant_id), '[]'::json)
    from asked k
    join presence.settings s on s.tenant_id = k.tenant_id
    left join live l on l.tenant_id = k.tenant_id;
end
$$;
comment on function presence.timeouts_due(presence.tenant_key[], timestamptz[]) is 'What a server''s stream hub asks at a tenant''s deadline: for each tenant named (one row each, unknown tenants left out), the timeouts readers began to see and the ends of chosen statuses (mechanism expiry) that passed after p_after (the checked_at of the tenant''s previous answer; null: every one) and that nothing recorded yet, shaped as status_changes_after''s events, with checked_at to pass next and next_check_at, when another of its agents reads offline unless it beats again or its chosen status ends (null: none is live). The clock is now(); p_after only bounds which of its decisions are listed. PRUSR for arrays of different lengths.';
