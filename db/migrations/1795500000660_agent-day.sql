-- Up Migration

-- One agent's day in the tenant's time zone, for the console's per-agent panel (GET {base}/agents/:id/day): the
-- status at midnight, the day's transitions (at most 2,000) with their mechanism, tenant reason and who did it, and
-- the seconds in each status and reason, up to now for today. From the status log, so that a silent agent's
-- pending timeout is in it as every reader sees it.

create function presence.agent_day(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_date date default null)
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
    select l.id, l.from_status, l.to_status, l.reason as mechanism, l.at, e.reason_id, e.actor_id, e.actor_name
      from presence_private.status_log l
      left join presence.status_events e on e.id = l.id
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
comment on function presence.agent_day(presence.tenant_key, presence.agent_key, date) is 'One agent''s day (default today) in the tenant''s time zone: the day, the zone, its start and end as instants, the status at its start, its transitions (json array of {from, to, mechanism, reason {id, label} or null, actor {id, name} or null, at}, at most 2,000) and the seconds per status and reason up to now (json array of {status, reason, seconds}). Raises PRAGT for an agent not of that tenant, PRUSR for a date before 2000 or after tomorrow.';
grant execute on function presence.agent_day(presence.tenant_key, presence.agent_key, date) to presence_app;
