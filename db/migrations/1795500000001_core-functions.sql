-- Up Migration

-- Settings ------------------------------------------------------------------------------------------------

create view presence.settings as
select t.id as tenant_id,
       coalesce(s.heartbeat_interval_s, 30) as heartbeat_interval_s,
       coalesce(s.offline_after_s, 90) as offline_after_s,
       coalesce(s.away_after_s, 300) as away_after_s,
       coalesce(s.release_chats_after_s, 60) as release_chats_after_s
  from public.tenants t
  left join presence.tenant_settings s on s.tenant_id = t.id;
comment on view presence.settings is 'Effective presence settings of every tenant: its tenant_settings row, or the defaults (30 s beat, offline after 90 s, away after 300 s idle, chats released 60 s after going offline).';

-- Liveness: the one rule ------------------------------------------------------------------------------------

-- `stable`, as the timestamptz arithmetic in its body is: a SQL function declared `immutable` over a stable body
-- is not inlined, and the planner then called it once per row (npm run bench, 1M agents: 1.7 s of a 1.9 s sweep;
-- inlined, the sweep takes 0.33 s). The same goes for effective_status, which the views call per row.
create function presence.is_stale(p_last_seen timestamptz, p_offline_after_s integer, p_now timestamptz)
returns boolean
language sql stable parallel safe
as $$
  select p_last_seen is null or p_last_seen < p_now - p_offline_after_s * interval '1 second'
$$;
comment on function presence.is_stale(timestamptz, integer, timestamptz) is 'The liveness rule: a beat older than offline_after_s (or none at all) is stale. Used by the views, the sweep and every function that asks whether an agent or a session is live.';

create function presence.effective_status(p_status text, p_last_seen timestamptz, p_offline_after_s integer, p_now timestamptz)
returns text
language sql stable parallel safe
as $$
  select case when presence.is_stale(p_last_seen, p_offline_after_s, p_now) then 'offline' else p_status end
$$;
comment on function presence.effective_status(text, timestamptz, integer, timestamptz) is 'The status a reader should believe at p_now: the materialized status, or offline once last_seen is stale, whether or not the sweep has run yet.';

-- Input checks ------------------------------------------------------------------------------------------------
-- Project SQLSTATEs (class PR): PRAGT unknown tenant/agent pair, PRSES bad session id, PRSTA bad status,
-- PRACT bad activity, PRRSN bad reason, PRSET bad setting, PRAPP append-only table.

create function presence_private.check_session_id(p_session_id text)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_session_id is null or btrim(p_session_id) = '' then
    raise exception 'session id must be a non-empty string, got %', coalesce(quote_literal(p_session_id), 'null')
      using errcode = 'PRSES';
  end if;
  if length(p_session_id) > 200 then
    raise exception 'session id must be at most 200 characters, got % characters', length(p_session_id)
      using errcode = 'PRSES';
  end if;
end
$$;
comment on function presence_private.check_session_id(text) is 'Raises PRSES for a null, blank or over-long browser session id.';

create function presence_private.check_status(p_status text)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_status is null or p_status not in ('available', 'away', 'dnd', 'offline') then
    raise exception 'unknown status %: expected one of available, away, dnd, offline', coalesce(quote_literal(p_status), 'null')
      using errcode = 'PRSTA';
  end if;
end
$$;
comment on function presence_private.check_status(text) is 'Raises PRSTA unless the status is available, away, dnd or offline.';

create function presence_private.unknown_agent(p_tenant_id uuid, p_agent_id uuid)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  -- One message whether the agent is missing or belongs to another tenant: a caller learns nothing about
  -- other tenants.
  raise exception 'no agent % in tenant %', coalesce(p_agent_id::text, 'null'), coalesce(p_tenant_id::text, 'null')
    using errcode = 'PRAGT';
end
$$;
comment on function presence_private.unknown_agent(uuid, uuid) is 'Raises PRAGT for a tenant/agent pair that does not exist.';

-- Transitions: the one code path ------------------------------------------------------------------------

create function presence_private.apply_transitions(p_changes presence_private.status_change[], p_now timestamptz)
returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
  v_jobs integer;
begin
  -- Callers hold the row locks of the agents they pass (FOR UPDATE or an UPDATE), so from_status is current;
  -- the a.status = c.from_status guard keeps a stale request from rewriting history.
  with changed as (
    update public.human_agents a
       set status = c.to_status, status_reason = c.reason, status_since = p_now
      from unnest(p_changes) c
     where a.id = c.agent_id
       and a.tenant_id = c.tenant_id
       and a.status = c.from_status
       and c.to_status <> c.from_status
    returning a.tenant_id, a.id as agent_id, c.from_status, c.to_status, c.reason, a.active_chats
  ), logged as (
    insert into presence.status_events (tenant_id, agent_id, from_status, to_status, reason, at)
    select changed.tenant_id, changed.agent_id, changed.from_status, changed.to_status, changed.reason, p_now
      from changed
    -- NOTIFY is delivered only if and when the transaction commits.
    returning pg_notify('presence_status', json_build_object(
      'tenant', tenant_id, 'agent', agent_id, 'from', from_status, 'to', to_status, 'reason', reason, 'at', at)::text)
  ), releases as (
    -- Agents going offline with chats get one release job each, after their tenant's grace. The job key is
    -- per agent, so a flapping agent has one pending job whose run_at moves to the latest offline.
    select array(
      select row('release_chats', json_build_object('agentId', c.agent_id), null, p_now
                 + st.release_chats_after_s * interval '1 second', 5, 'release_chats:' || c.agent_id, null, null
                )::graphile_worker.job_spec
        from changed c
        join presence.settings st on st.tenant_id = c.tenant_id
       where c.to_status = 'offline' and c.active_chats > 0) as specs
  ), enqueued as (
    -- add_jobs only when there is a job to add: even with an empty array it runs four statements and sends a
    -- jobs:insert notification that wakes every worker, and most transitions (every come-back, every manual
    -- status, most timeouts) have no chats to release.
    select case when cardinality(r.specs) > 0
                then (select count(*) from graphile_worker.add_jobs(r.specs))
                else 0 end as jobs
      from releases r
  )
  select (select count(*) from logged), (select e.jobs from enqueued e) into v_count, v_jobs;
  return v_count;
end
$$;
comment on function presence_private.apply_transitions(presence_private.status_change[], timestamptz) is 'The only writer of human_agents.status: applies the transitions, appends them to presence.status_events, notifies channel presence_status with {tenant, agent, from, to, reason, at} (on commit only), and for each agent going offline with active chats enqueues graphile-worker job release_chats (job key release_chats:<agent>, run at now + release_chats_after_s). Returns how many transitions happened.';

-- The write API ------------------------------------------------------------------------------------------------

create function presence.heartbeat(
  p_tenant_id uuid,
  p_agent_id uuid,
  p_session_id text,
  p_activity text default 'active'
)
returns table (status text, last_seen timestamptz, heartbeat_interval_s integer)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now constant timestamptz := now();
  v_status text;
  v_chosen text;
  v_interval integer;
  v_offline_after integer;
  v_new_session boolean;
  v_target text;
begin
  perform presence_private.check_session_id(p_session_id);
  if p_activity is null or p_activity not in ('active', 'idle') then
    raise exception 'unknown activity %: expected active or idle', coalesce(quote_literal(p_activity), 'null')
      using errcode = 'PRACT';
  end if;

  -- The hot path: one HOT update (last_seen has no index) that also takes the row lock, so a concurrent
  -- sweep either sees this beat or is seen by it.
  update public.human_agents a
     set last_seen = v_now
   where a.id = p_agent_id and a.tenant_id = p_tenant_id
  returning a.status, a.chosen_status into v_status, v_chosen;
  if not found then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;

  select s.heartbeat_interval_s, s.offline_after_s into v_interval, v_offline_after
    from presence.settings s where s.tenant_id = p_tenant_id;

  insert into presence_private.sessions as s (agent_id, session_id, tenant_id, activity, started_at, last_seen)
  values (p_agent_id, p_session_id, p_tenant_id, p_activity, v_now, v_now)
  on conflict (agent_id, session_id) do update set last_seen = excluded.last_seen, activity = excluded.activity
  returning (s.xmax = 0) into v_new_session;

  if v_new_session then
    -- A new tab: forget the agent's tabs that died without saying goodbye. Once per tab, not per beat.
    delete from presence_private.sessions s
     where s.agent_id = p_agent_id and s.session_id <> p_session_id
       and presence.is_stale(s.last_seen, v_offline_after, v_now);
  end if;

  v_target := case
    when v_chosen <> 'available' then v_chosen  -- a status chosen by hand is never overridden
    when p_activity = 'active' then 'available'
    when v_status = 'away' then 'away'          -- already idle: skip the look at the other tabs
    -- idle here, but another live tab of the agent is in use: still available
    when exists (select 1 from presence_private.sessions o
                  where o.agent_id = p_agent_id and o.session_id <> p_session_id and o.activity = 'active'
                    and not presence.is_stale(o.last_seen, v_offline_after, v_now)) then 'available'
    else 'away'
  end;

  if v_target <> v_status then
    perform presence_private.apply_transitions(array[(
      p_agent_id, p_tenant_id, v_status, v_target,
      case when v_status = 'offline' then 'heartbeat' when v_target = 'away' then 'idle' else 'active' end
    )::presence_private.status_change], v_now);
  end if;

  return query select v_target, v_now, v_interval;
end
$$;
comment on function presence.heartbeat(uuid, uuid, text, text) is 'Records a beat of one browser session (upsert) and refreshes human_agents.last_seen. Brings an agent that was offline by timeout or leave back to its chosen status; never overrides a chosen away/dnd/offline. p_activity idle turns an available agent away (reason idle) unless another live tab is active; active turns it back. Returns the effective status, the beat time and the tenant''s heartbeat interval.';

create function presence.end_session(
  p_tenant_id uuid,
  p_agent_id uuid,
  p_session_id text,
  p_reason text default 'left'
)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now constant timestamptz := now();
  v_status text;
  v_offline_after integer;
begin
  perform presence_private.check_session_id(p_session_id);
  if p_reason is null or p_reason not in ('left', 'logout') then
    raise exception 'unknown reason % for ending a session: expected left or logout', coalesce(quote_literal(p_reason), 'null')
      using errcode = 'PRRSN';
  end if;

  select a.status into v_status
    from public.human_agents a
   where a.id = p_agent_id and a.tenant_id = p_tenant_id
     for update;
  if not found then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  select s.offline_after_s into v_offline_after from presence.settings s where s.tenant_id = p_tenant_id;

  -- The ended tab goes, and so do tabs that died silently: what is left is live.
  delete from presence_private.sessions s
   where s.agent_id = p_agent_id
     and (s.session_id = p_session_id or presence.is_stale(s.last_seen, v_offline_after, v_now));

  if v_status <> 'offline'
     and not exists (select 1 from presence_private.sessions s where s.agent_id = p_agent_id) then
    perform presence_private.apply_transitions(
      array[(p_agent_id, p_tenant_id, v_status, 'offline', p_reason)::presence_private.status_change], v_now);
    return 'offline';
  end if;
  return v_status;
end
$$;
comment on function presence.end_session(uuid, uuid, text, text) is 'Ends one browser session (reason left: tab closed; logout). With no other live session the agent is offline at once; another live tab keeps it online. Ending an unknown or already ended session is not an error. Returns the agent''s status.';

create function presence.set_status(p_tenant_id uuid, p_agent_id uuid, p_status text)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now constant timestamptz := now();
  v_status text;
  v_target text;
  v_offline_after integer;
begin
  perform presence_private.check_status(p_status);

  update public.human_agents a
     set chosen_status = p_status
   where a.id = p_agent_id and a.tenant_id = p_tenant_id
  returning a.status into v_status;
  if not found then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  select s.offline_after_s into v_offline_after from presence.settings s where s.tenant_id = p_tenant_id;

  -- The choice takes effect at once for a live agent; one with no live tab stays offline and takes its
  -- chosen status with its next beat.
  v_target := case
    when p_status = 'offline' then 'offline'
    when exists (select 1 from presence_private.sessions s
                  where s.agent_id = p_agent_id and not presence.is_stale(s.last_seen, v_offline_after, v_now))
      then p_status
    else 'offline'
  end;
  if v_target <> v_status then
    perform presence_private.apply_transitions(
      array[(p_agent_id, p_tenant_id, v_status, v_target, 'manual')::presence_private.status_change], v_now);
  end if;
  return v_target;
end
$$;
comment on function presence.set_status(uuid, uuid, text) is 'The agent''s own choice of status (available, away, dnd, offline; reason manual). Heartbeats and sweeps never override it. Returns the effective status.';

create function presence.mark_offline(p_tenant_id uuid, p_agent_id uuid)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now constant timestamptz := now();
  v_status text;
begin
  select a.status into v_status
    from public.human_agents a
   where a.id = p_agent_id and a.tenant_id = p_tenant_id
     for update;
  if not found then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  delete from presence_private.sessions s where s.agent_id = p_agent_id;
  perform presence_private.apply_transitions(
    array[(p_agent_id, p_tenant_id, v_status, 'offline', 'admin')::presence_private.status_change], v_now);
  return 'offline';
end
$$;
comment on function presence.mark_offline(uuid, uuid) is 'Operator fix for one stuck agent: ends all its browser sessions and marks it offline now (reason admin). Its chosen status is kept; a browser that is in fact still open brings it back with its next beat.';

create function presence.sweep_stale_agents(p_now timestamptz default now())
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_changes presence_private.status_change[];
  v_min_offline_after integer;
begin
  -- No agent is stale under its tenant's offline_after_s unless it is stale under the smallest one: ruling
  -- fresh agents out with that in the scan itself leaves the join with the settings 1 % of the rows
  -- (npm run bench, 1M agents with 1 % stale: -150 ms).
  select min(s.offline_after_s) into v_min_offline_after from presence.settings s;

  -- One statement finds and locks every stale agent of every tenant. FOR UPDATE re-checks the staleness of a
  -- row that a heartbeat committed meanwhile, and SKIP LOCKED passes over rows a heartbeat is writing right
  -- now (they are fresh): a committed beat is never undone by this sweep.
  select coalesce(array_agg((x.id, x.tenant_id, x.status, 'offline', 'timeout')::presence_private.status_change), '{}')
    into v_changes
    from (
      select a.id, a.tenant_id, a.status
        from public.human_agents a
        join presence.settings s on s.tenant_id = a.tenant_id
       where a.status <> 'offline'
         and presence.is_stale(a.last_seen, v_min_offline_after, p_now)
         and presence.is_stale(a.last_seen, s.offline_after_s, p_now)
         for update of a skip locked
    ) x;

  delete from presence_private.sessions s
   using unnest(v_changes) c
   where s.agent_id = c.agent_id;

  return presence_private.apply_transitions(v_changes, p_now);
end
$$;
comment on function presence.sweep_stale_agents(timestamptz) is 'Marks offline (reason timeout) every agent that is not offline and whose newest beat is older than its tenant''s offline_after_s at p_now; forgets their browser sessions. Set-based, idempotent, safe beside concurrent heartbeats. Returns how many agents it took offline. Scheduled as pg_cron job presence-sweep.';

-- Readers ------------------------------------------------------------------------------------------------------

create view presence.agent_presence as
select a.tenant_id,
       a.id as agent_id,
       a.name,
       a.email,
       presence.effective_status(a.status::text, a.last_seen, s.offline_after_s, now()) as status,
       a.chosen_status,
       a.last_seen,
       floor(extract(epoch from now() - a.last_seen))::integer as seconds_since_seen,
       a.active_chats,
       a.max_chats
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id;
comment on view presence.agent_presence is 'Presence of every agent now. status is derived at read time from last_seen and the tenant''s offline_after_s, so a stale agent reads offline before any sweep has run; chosen_status is what the agent picked by hand. Filter by tenant_id.';

create view presence.time_in_status as
with spans as (
  select e.tenant_id,
         e.agent_id,
         e.to_status as status,
         e.at as started,
         coalesce(lead(e.at) over (partition by e.agent_id order by e.at, e.id), now()) as ended
    from presence.status_events e
)
select s.tenant_id,
       s.agent_id,
       d.day::date as day,
       s.status,
       sum(extract(epoch from
             least(s.ended at time zone 'UTC', d.day + interval '1 day')
           - greatest(s.started at time zone 'UTC', d.day)))::double precision as seconds
  from spans s
 cross join lateral generate_series(
         date_trunc('day', s.started at time zone 'UTC'),
         date_trunc('day', s.ended at time zone 'UTC'),
         interval '1 day') as d(day)
 where s.ended > s.started
 group by s.tenant_id, s.agent_id, d.day, s.status;
comment on view presence.time_in_status is 'Seconds each agent spent in each status per UTC day, from presence.status_events; the current status counts up to now.';

-- Administration ----------------------------------------------------------------------------------------------

create function presence.configure_tenant(
  p_tenant_id uuid,
  p_heartbeat_interval_s integer default null,
  p_offline_after_s integer default null,
  p_away_after_s integer default null,
  p_release_chats_after_s integer default null
)
returns presence.tenant_settings
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_current presence.settings;
  v_result presence.tenant_settings;
begin
  select s.* into v_current from presence.settings s where s.tenant_id = p_tenant_id;
  if not found then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;
  v_current.heartbeat_interval_s := coalesce(p_heartbeat_interval_s, v_current.heartbeat_interval_s);
  v_current.offline_after_s := coalesce(p_offline_after_s, v_current.offline_after_s);
  v_current.away_after_s := coalesce(p_away_after_s, v_current.away_after_s);
  v_current.release_chats_after_s := coalesce(p_release_chats_after_s, v_current.release_chats_after_s);

  if v_current.heartbeat_interval_s not between 1 and 3600 then
    raise exception 'heartbeat_interval_s must be between 1 and 3600 seconds, got %', v_current.heartbeat_interval_s
      using errcode = 'PRSET';
  end if;
  if v_current.offline_after_s < 2 * v_current.heartbeat_interval_s or v_current.offline_after_s > 86400 then
    raise exception 'offline_after_s must be at least twice heartbeat_interval_s (%) and at most 86400 seconds, got %',
      v_current.heartbeat_interval_s, v_current.offline_after_s
      using errcode = 'PRSET';
  end if;
  if v_current.away_after_s not between 1 and 86400 then
    raise exception 'away_after_s must be between 1 and 86400 seconds, got %', v_current.away_after_s
      using errcode = 'PRSET';
  end if;
  if v_current.release_chats_after_s not between 0 and 86400 then
    raise exception 'release_chats_after_s must be between 0 and 86400 seconds, got %', v_current.release_chats_after_s
      using errcode = 'PRSET';
  end if;

  insert into presence.tenant_settings as t
    (tenant_id, heartbeat_interval_s, offline_after_s, away_after_s, release_chats_after_s)
  values (p_tenant_id, v_current.heartbeat_interval_s, v_current.offline_after_s, v_current.away_after_s,
          v_current.release_chats_after_s)
  on conflict (tenant_id) do update
     set heartbeat_interval_s = excluded.heartbeat_interval_s,
         offline_after_s = excluded.offline_after_s,
         away_after_s = excluded.away_after_s,
         release_chats_after_s = excluded.release_chats_after_s
  returning t.* into v_result;
  return v_result;
end
$$;
comment on function presence.configure_tenant(uuid, integer, integer, integer, integer) is 'Sets a tenant''s presence timing; a null argument keeps the current value. Raises PRTEN for an unknown tenant and PRSET, naming the value, for timing that breaks the rules (offline_after_s >= 2 * heartbeat_interval_s, ...).';
