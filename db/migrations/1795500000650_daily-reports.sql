-- Up Migration

-- Daily reports for analysts, in each tenant's time zone (presence.settings.time_zone; a day runs from midnight to
-- midnight there, 23 or 25 hours across a change of clocks), from presence.status_events and the timeouts readers
-- already see (presence_private.status_log); the current status counts up to now.

create view presence.daily_status_seconds as
with spans as (
  select l.tenant_id,
         l.agent_id,
         l.to_status as status,
         e.reason_id,
         l.at as started,
         coalesce(lead(l.at) over (partition by l.tenant_id, l.agent_id order by l.at, l.id nulls last), now()) as ended
    from presence_private.status_log l
    left join presence.status_events e on e.id = l.id
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
comment on view presence.daily_status_seconds is 'Seconds (numeric) each agent spent in each status and tenant reason (reason_id, reason_label; null: none named) per day of the tenant''s time zone, from presence.status_events and the timeouts readers already see; the current status counts up to now. Filter by tenant_id (and agent_id, day).';
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
