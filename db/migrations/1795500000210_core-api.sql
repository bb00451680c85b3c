-- Up Migration

-- The core presence API, replaced as a whole: keys of the platform's own types (presence.tenant_key,
-- presence.agent_key), no clock argument in any function the app role runs, one lock order, and a history that
-- records offline periods exactly when readers saw them.
--
-- Lock order, followed by every function here and in presence_accounts: the agent row first (several agents: in
-- agent key order), then its tabs (presence_private.sessions), then its chats (presence_private.chats). A
-- function that needs several takes them in that order, and says so.
--
-- The liveness rule, in one place: presence.offline_at(last_seen, offline_after_s) is the moment an agent (or a
-- tab) with that last beat reads offline. Readers compare it with now(); the sweep, an owner-only function, with
-- its p_now. A transition that staleness causes is recorded at that moment, not when someone noticed.

drop function presence.is_stale(timestamptz, integer, timestamptz);
drop function presence.effective_status(text, timestamptz, integer, timestamptz);
drop function presence_private.unknown_agent(uuid, uuid);
drop function presence_private.apply_transitions(presence_private.status_change[], timestamptz);
drop function presence.heartbeat(uuid, uuid, text, text);
drop function presence.end_session(uuid, uuid, text, text);
drop function presence.set_status(uuid, uuid, text);
drop function presence.mark_offline(uuid, uuid);
drop function presence.sweep_stale_agents(timestamptz);
drop function presence.configure_tenant(uuid, integer, integer, integer, integer);
drop function presence.agent_history(uuid, uuid, timestamptz, timestamptz);
drop function presence.open_chat(uuid, timestamptz);
drop function presence.assign_chat(uuid, timestamptz);
drop function presence.close_chat(uuid, uuid);
drop function presence.release_chats(uuid, timestamptz);
drop function presence.sweep_scheduler();
drop function presence.sweep_runs();
drop type presence_private.status_change;

-- Each tab records the sign-in it beats under, so that presence.end_sign_in (sign-out) ends exactly those tabs.
alter table presence_private.sessions add column sign_in text;
comment on column presence_private.sessions.sign_in is 'The sign-in the tab beats under, as the app named it (our own server: the sign-in session id); null when the app names none.';

-- Settings --------------------------------------------------------------------------------------------------------

create view presence.settings as
select t.id as tenant_id,
       coalesce(s.heartbeat_interval_s, 30) as heartbeat_interval_s,
       coalesce(s.offline_after_s, 90) as offline_after_s,
       coalesce(s.away_after_s, 300) as away_after_s,
       coalesce(s.release_chats_after_s, 60) as release_chats_after_s
  from public.tenants t
  left join presence.tenant_settings s on s.tenant_id = t.id;
comment on view presence.settings is 'Effective presence settings of every tenant: its tenant_settings row, or the defaults (30 s beat, offline after 90 s, away after 300 s idle, chats released 60 s after going offline).';

-- Liveness: the one rule -------------------------------------------------------------------------------------------

-- `stable`, as timestamptz arithmetic is: a SQL function declared `immutable` over a stable body is not inlined,
-- and the planner then called it once per row (npm run bench, 1M agents: 1.7 s of a 1.9 s sweep; inlined 0.33 s).
create function presence.offline_at(p_last_seen timestamptz, p_offline_after_s integer)
returns timestamptz
language sql stable parallel safe
as $$
  select coalesce(p_last_seen + p_offline_after_s * interval '1 second', '-infinity'::timestamptz)
$$;
comment on function presence.offline_at(timestamptz, integer) is 'The liveness rule: the moment an agent (or a browser tab) whose newest beat was at p_last_seen reads offline, p_offline_after_s later (-infinity if it never beat). It is offline from then on: offline_at(...) <= now(). Used by the views, the sweep and every function that asks whether an agent or a tab is live.';

create function presence.effective_status(p_status text, p_last_seen timestamptz, p_offline_after_s integer)
returns text
language sql stable parallel safe
as $$
  select case when presence.offline_at(p_last_seen, p_offline_after_s) <= now() then 'offline' else p_status end
$$;
comment on function presence.effective_status(text, timestamptz, integer) is 'The status a reader should believe now: the materialized status, or offline once the last beat is older than offline_after_s, whether or not the sweep has run yet.';

create function presence.timeout_at(p_last_seen timestamptz, p_offline_after_s integer, p_status_since timestamptz)
returns timestamptz
language sql stable parallel safe
as $$
  select case when p_last_seen is not null
              then greatest(presence.offline_at(p_last_seen, p_offline_after_s), p_status_since) end
$$;
comment on function presence.timeout_at(timestamptz, integer, timestamptz) is 'When the timeout of a silent agent is recorded: the moment it went offline (presence.offline_at), never before its last transition (status_since); null for an agent that never beat, which is recorded when it is noticed.';

-- Input checks ------------------------------------------------------------------------------------------------------
-- Project SQLSTATEs (class PR): PRAGT unknown tenant/agent pair, PRTEN unknown tenant, PRSES bad session or
-- sign-in id, PRSTA bad status, PRACT bad activity, PRRSN bad reason, PRSET bad setting, PRUSR bad input,
-- PRAPP append-only table, PRADP a platform's tables that cannot be adopted (migration).

create function presence_private.unknown_agent(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key)
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
comment on function presence_private.unknown_agent(presence.tenant_key, presence.agent_key) is 'Raises PRAGT for a tenant/agent pair that does not exist.';

create function presence_private.check_sign_in(p_sign_in text)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_sign_in is not null and (btrim(p_sign_in) = '' or length(p_sign_in) > 200) then
    raise exception 'sign-in id must be null or a non-empty string of at most 200 characters, got %',
      case when length(p_sign_in) > 200 then length(p_sign_in) || ' characters' else quote_literal(p_sign_in) end
      using errcode = 'PRSES';
  end if;
end
$$;
comment on function presence_private.check_sign_in(text) is 'Raises PRSES for a blank or over-long sign-in id (null is allowed: a tab beating outside any named sign-in).';

-- Transitions: the one code path ------------------------------------------------------------------------------

create type presence_private.transition as (
  agent_id presence.agent_key,
  tenant_id presence.tenant_key,
  from_status text,
  to_status text,
  reason text,
  at timestamptz
);
comment on type presence_private.transition is 'One requested transition, handed to presence_private.apply_transitions: when it happened (now, or the moment a silent agent went offline) and why.';

create function presence_private.apply_transitions(p_changes presence_private.transition[])
returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
  v_jobs integer;
  v_notified integer;
begin
  -- Callers hold the row locks of the agents they pass (presence_private.lock_agent, FOR UPDATE or an UPDATE), so
  -- from_status is current; the status = from_status guard keeps a stale request from rewriting history.
  -- A transition is dated at its transaction's start (now()) or when its agent went offline, never before the
  -- agent's previous transition: a caller that waited for the agent's lock started before the transaction it
  -- waited for, whose transition is the earlier one. Readers order events by at: in the storm test
  -- (tests/db/storm.test.ts) 281 of 5,270 events were dated before the event they follow, breaking the chain.
  with changed as (
    update public.human_agents a
       set status = c.to_status::presence.agent_status, status_reason = c.reason,
           status_since = greatest(c.at, a.status_since)
      from unnest(p_changes) c
     where a.id = c.agent_id
       and a.tenant_id = c.tenant_id
       and a.status::text = c.from_status
       and c.to_status <> c.from_status
    returning a.tenant_id, a.id as agent_id, c.from_status, c.to_status, a.chosen_status, c.reason,
              a.status_since as at, a.active_chats
  ), logged as (
    insert into presence.status_events (tenant_id, agent_id, from_status, to_status, reason, at)
    select c.tenant_id, c.agent_id, c.from_status, c.to_status, c.reason, c.at
      from changed c
    returning 1
  ), notified as (
    -- NOTIFY is delivered only if and when the transaction commits. Ids go out as strings, whatever their type.
    select pg_notify('presence_status', json_build_object(
      'tenant', c.tenant_id::text, 'agent', c.agent_id::text, 'from', c.from_status, 'to', c.to_status,
      'chosen', c.chosen_status, 'reason', c.reason, 'at', c.at)::text)
      from changed c
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
  select (select count(*) from logged), (select e.jobs from enqueued e), (select count(*) from notified)
    into v_count, v_jobs, v_notified;
  return v_count;
end
$$;
comment on function presence_private.apply_transitions(presence_private.transition[]) is 'The only writer of human_agents.status: applies the transitions (each at its own time), appends them to presence.status_events, notifies channel presence_status with {tenant, agent, from, to, chosen, reason, at} (on commit only), and for each agent going offline with active chats enqueues graphile-worker job release_chats (job key release_chats:<agent>, run release_chats_after_s after it went offline). Returns how many transitions happened.';

-- Taking an agent: the lock, and the timeout nobody recorded yet -----------------------------------------------------

create function presence_private.lock_agent(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  out status text,
  out chosen_status text,
  out last_seen timestamptz,
  out heartbeat_interval_s integer,
  out offline_after_s integer
)
language plpgsql volatile
set search_path = ''
as $$
begin
  -- First in the lock order: the agent row.
  select a.status::text, a.chosen_status, a.last_seen, s.heartbeat_interval_s, s.offline_after_s
    into status, chosen_status, last_seen, heartbeat_interval_s, offline_after_s
    from public.human_agents a
    join presence.settings s on s.tenant_id = a.tenant_id
   where a.id = p_agent_id and a.tenant_id = p_tenant_id
     for update of a;
  if not found then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;

  -- Readers have seen this agent offline since offline_at; the sweep has not run yet. Record that now, at that
  -- moment, before anything else happens to the agent, so that the history says what every reader saw. Its tabs
  -- are all at least as old as its last beat: they go too.
  if status <> 'offline' and presence.offline_at(last_seen, offline_after_s) <= now() then
    perform presence_private.apply_transitions(array[(p_agent_id, p_tenant_id, status, 'offline', 'timeout',
      coalesce(presence.timeout_at(last_seen, offline_after_s,
                                   (select a.status_since from public.human_agents a where a.id = p_agent_id)),
               now()))::presence_private.transition]);
    delete from presence_private.sessions s where s.agent_id = p_agent_id;
    status := 'offline';
  end if;
end
$$;
comment on function presence_private.lock_agent(presence.tenant_key, presence.agent_key) is 'Locks an agent row (first in the lock order) and returns its status, chosen status, last beat and its tenant''s timing. An agent that went silent and is not offline yet is first taken offline (reason timeout) at the moment readers began to see it offline. Raises PRAGT for an unknown tenant/agent pair.';

-- The write API ------------------------------------------------------------------------------------------------------

create function presence.heartbeat(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  p_session_id text,
  p_activity text default 'active',
  p_sign_in text default null
)
returns table (status text, last_seen timestamptz, heartbeat_interval_s integer)
language plpgsql volatile security definer
set search_path = ''
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
  update public.human_agents a set last_seen = v_now where a.id = p_agent_id;

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
comment on function presence.heartbeat(presence.tenant_key, presence.agent_key, text, text, text) is 'Records a beat of one browser tab (upsert) and refreshes human_agents.last_seen. An agent found silent for longer than offline_after_s is first recorded offline (reason timeout) at the moment it went offline; an offline agent comes back to its chosen status (reason heartbeat); a chosen away/dnd/offline is never overridden. p_activity idle turns an available agent away (reason idle) unless another live tab is active; active turns it back. p_sign_in (optional) names the sign-in the tab beats under, so that presence.end_sign_in ends exactly its tabs. An agent keeps at most 32 tabs. Returns the effective status, the beat time and the tenant''s heartbeat interval.';

-- The common beat, set-based. Nearly every beat is an active beat of a tab the agent already has, by a live agent
-- whose status is already what that beat would make it: it only moves last_seen (agent and tab). presence.heartbeats
-- applies those in two statements for the whole batch; every other beat (new tab, idle, a status to change, a
-- silent agent, bad input) goes through presence.heartbeat one by one. Measured on one connection, batches of 50
-- agents (npm run bench, 2 cores): 82 us per beat with presence.heartbeat for all, 46 us with the set-based path.
-- Generic plans (plan_cache_mode): with array parameters PostgreSQL planned each statement afresh on every call;
-- a call with one beat 441 -> 327-351 us (best of ~5000 calls).
create function presence.heartbeats(
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
  perform 1 from public.human_agents h where h.id = any (p_agent_ids) order by h.id for update;

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
    update public.human_agents h
       set last_seen = now()
      from fast f
      join presence.settings st on st.tenant_id = f.tenant_id
     where h.id = f.agent_id and h.tenant_id = f.tenant_id
       -- presence.heartbeat takes an active beat to the chosen status; a live agent already there only moves
       -- last_seen.
       and h.status::text = h.chosen_status
       and presence.offline_at(h.last_seen, st.offline_after_s) > now()
    returning h.id, h.tenant_id, h.status::text as status, st.heartbeat_interval_s
  ), tabs as (
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
comment on function presence.heartbeats(presence.tenant_key[], presence.agent_key[], text[], text[], text[]) is 'Many beats in one call, as presence.heartbeat would record them one by one: beat i is (p_tenant_ids[i], p_agent_ids[i], p_session_ids[i], p_activities[i], p_sign_ins[i]). Agents are locked in key order. A beat that only moves last_seen is applied set-based for the whole batch (with asynchronous commit when every beat is such a beat); one row per beat, in order. One bad beat fails the call: retry its beats one by one.';

create function presence.end_session(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  p_session_id text,
  p_reason text default 'left'
)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent record;
begin
  perform presence_private.check_session_id(p_session_id);
  if p_reason is null or p_reason not in ('left', 'logout') then
    raise exception 'unknown reason % for ending a session: expected left or logout', coalesce(quote_literal(p_reason), 'null')
      using errcode = 'PRRSN';
  end if;

  -- Lock order: the agent, then its tabs.
  select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);
  -- The ended tab goes, and so do tabs that died silently: what is left is live.
  delete from presence_private.sessions s
   where s.agent_id = p_agent_id
     and (s.session_id = p_session_id or presence.offline_at(s.last_seen, v_agent.offline_after_s) <= now());

  if v_agent.status <> 'offline'
     and not exists (select 1 from presence_private.sessions s where s.agent_id = p_agent_id) then
    perform presence_private.apply_transitions(
      array[(p_agent_id, p_tenant_id, v_agent.status, 'offline', p_reason, now())::presence_private.transition]);
    return 'offline';
  end if;
  return v_agent.status;
end
$$;
comment on function presence.end_session(presence.tenant_key, presence.agent_key, text, text) is 'Ends one browser tab (reason left: tab closed; logout). With no other live tab the agent is offline at once; another live tab keeps it online. Ending an unknown or already ended tab is not an error. Returns the agent''s status.';

create function presence.end_sign_in(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_sign_in text)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent record;
  v_status text;
begin
  if p_sign_in is null then
    raise exception 'sign-in id must be a non-empty string, got null' using errcode = 'PRSES';
  end if;
  perform presence_private.check_sign_in(p_sign_in);
  if p_agent_id is not null then
    -- Lock order: the agent, then its tabs.
    select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);
    v_status := v_agent.status;
    delete from presence_private.sessions s
     where s.agent_id = p_agent_id
       and (s.sign_in = p_sign_in or presence.offline_at(s.last_seen, v_agent.offline_after_s) <= now());
    if v_status <> 'offline' and not exists (select 1 from presence_private.sessions s where s.agent_id = p_agent_id) then
      perform presence_private.apply_transitions(
        array[(p_agent_id, p_tenant_id, v_status, 'offline', 'logout', now())::presence_private.transition]);
      v_status := 'offline';
    end if;
  end if;
  -- Delivered on commit only: live streams opened under this sign-in end.
  perform pg_notify('presence_sign_in_ended', json_build_object('tenant', p_tenant_id::text, 'signIn', p_sign_in)::text);
  return v_status;
end
$$;
comment on function presence.end_sign_in(presence.tenant_key, presence.agent_key, text) is 'Sign-out: ends every tab that beat under sign-in p_sign_in (reason logout); the agent is offline at once unless another live tab of it remains (another browser, another sign-in). p_agent_id null for a user who is not an agent. Announces {tenant, signIn} on channel presence_sign_in_ended, on commit, so that live streams opened under that sign-in end. Returns the agent''s status (null without an agent).';

create function presence.set_status(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_status text)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent record;
  v_target text;
begin
  perform presence_private.check_status(p_status);

  -- Lock order: the agent, then (reading) its tabs.
  select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);
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
comment on function presence.set_status(presence.tenant_key, presence.agent_key, text) is 'The agent''s own choice of status (available, away, dnd, offline; reason manual). Heartbeats and sweeps never override it. Returns the effective status.';

create function presence.mark_offline(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key)
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent record;
begin
  -- Lock order: the agent, then its tabs.
  select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);
  delete from presence_private.sessions s where s.agent_id = p_agent_id;
  perform presence_private.apply_transitions(
    array[(p_agent_id, p_tenant_id, v_agent.status, 'offline', 'admin', now())::presence_private.transition]);
  return 'offline';
end
$$;
comment on function presence.mark_offline(presence.tenant_key, presence.agent_key) is 'Operator fix for one stuck agent: ends all its browser tabs and marks it offline now (reason admin). Its chosen status is kept; a browser that is in fact still open brings it back with its next beat. Owner only.';

-- The sweep ----------------------------------------------------------------------------------------------------------

create table presence_private.sweep_stats (
  id boolean primary key default true constraint sweep_stats_one_row check (id),
  runs bigint not null default 0,
  last_run_at timestamptz,
  last_swept integer
);
insert into presence_private.sweep_stats default values;
comment on table presence_private.sweep_stats is 'One row: how many sweeps ran, when the last one ran and how many agents it took offline, whichever scheduler ran them.';

-- Most agents of a large platform are offline at any moment. This partial index holds only the others; beats never
-- touch it (they change last_seen, which it neither holds nor filters on), so every beat stays a HOT update
-- (measured: 200,000 of 200,000 beats HOT with it in place, no index grew). Only a transition to or from offline
-- writes it. Sweep of 1M agents with 100k online, 1 % of those stale: 146 ms -> 88-95 ms (warm; a fresh pg_cron
-- backend adds 40-55 ms of page faults).
create index human_agents_online_idx on public.human_agents (tenant_id) where status <> 'offline';

-- The sweep's first pass: the row addresses of agents that may be stale, without locks. RETURN QUERY lets its scan
-- run in parallel (a SELECT ... INTO in PL/pgSQL never launches workers): 1M agents all online, 1 % stale,
-- 368 -> 287-314 ms. `last_seen <= cutoff or last_seen is null`, not a coalesce: with the coalesce the planner
-- expects a third of the rows and gives up the parallel plan.
create function presence_private.sweep_candidates(p_cutoff timestamptz)
returns setof tid
language plpgsql stable
set search_path = ''
as $$
begin
  return query
    select a.ctid from public.human_agents a
     where a.status <> 'offline' and (a.last_seen <= p_cutoff or a.last_seen is null);
end
$$;
comment on function presence_private.sweep_candidates(timestamptz) is 'The row addresses of agents not offline whose last beat is at or before p_cutoff (or who never beat): the sweep''s unlocked first pass.';

create function presence.sweep_stale_agents(p_now timestamptz default now())
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_min integer;
  v_max integer;
  v_candidates tid[];
  v_changes presence_private.transition[] := '{}';
  v_count integer := 0;
begin
  -- No agent is stale under its tenant's offline_after_s unless it is stale under the smallest one: the first pass
  -- uses that; the second checks each candidate against its own tenant's (looked up only when tenants differ).
  select min(s.offline_after_s), max(s.offline_after_s) into v_min, v_max from presence.settings s;
  select array_agg(c) into v_candidates from presence_private.sweep_candidates(p_now - v_min * interval '1 second') c;

  if v_candidates is not null then
    -- The second pass locks the candidates and re-checks them on the newest row version: FOR UPDATE passes over a
    -- version a heartbeat replaced meanwhile (that agent is fresh), SKIP LOCKED over rows a heartbeat is writing
    -- right now: a committed beat is never undone by this sweep. A candidate changed by anything else meanwhile is
    -- left to the next sweep. Each is recorded offline at the moment readers began to see it offline.
    select coalesce(array_agg((x.id, x.tenant_id, x.status, 'offline', 'timeout', x.at)::presence_private.transition), '{}')
      into v_changes
      from (
        select a.id, a.tenant_id, a.status::text as status,
               coalesce(presence.timeout_at(a.last_seen, o.offline_after_s, a.status_since), p_now) as at
          from public.human_agents a
         cross join lateral (
           select case when v_min = v_max then v_min
                       else (select s.offline_after_s from presence.settings s where s.tenant_id = a.tenant_id) end
         ) o(offline_after_s)
         where a.ctid = any (v_candidates)
           and a.status <> 'offline'
           and presence.offline_at(a.last_seen, o.offline_after_s) <= p_now
           for update of a skip locked
      ) x;

    -- Lock order: the agents above, then their tabs.
    delete from presence_private.sessions s
     where s.agent_id = any (array(select c.agent_id from unnest(v_changes) c));
    v_count := presence_private.apply_transitions(v_changes);
  end if;
  update presence_private.sweep_stats set runs = runs + 1, last_run_at = now(), last_swept = v_count;
  return v_count;
end
$$;
comment on function presence.sweep_stale_agents(timestamptz) is 'Marks offline (reason timeout) every agent that is not offline and whose newest beat is older than its tenant''s offline_after_s at p_now, each at the moment it went offline; forgets their browser tabs. Set-based, idempotent, safe beside concurrent heartbeats. Returns how many agents it took offline. Scheduled as pg_cron job presence-sweep. Owner only: p_now moves the clock for tests and DBAs.';

-- Readers ------------------------------------------------------------------------------------------------------

create view presence.agent_presence as
select a.tenant_id,
       a.id as agent_id,
       a.name,
       a.email,
       presence.effective_status(a.status::text, a.last_seen, s.offline_after_s) as status,
       a.chosen_status,
       a.last_seen,
       floor(extract(epoch from now() - a.last_seen))::integer as seconds_since_seen,
       a.active_chats,
       a.max_chats,
       presence.offline_at(a.last_seen, s.offline_after_s) as offline_at
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id;
comment on view presence.agent_presence is 'Presence of every agent now. status is derived at read time from last_seen and the tenant''s offline_after_s, so a silent agent reads offline before any sweep has run; chosen_status is what the agent picked by hand; offline_at is when the agent reads offline unless it beats again. Filter by tenant_id.';

-- The status log as readers saw it: the recorded transitions, plus, for an agent that went silent and that no sweep
-- or beat has recorded yet, its timeout at the moment it went offline.
create view presence_private.status_log as
select e.id, e.tenant_id, e.agent_id, e.from_status, e.to_status, e.reason, e.at
  from presence.status_events e
union all
select null, a.tenant_id, a.id, a.status::text, 'offline', 'timeout',
       coalesce(presence.timeout_at(a.last_seen, s.offline_after_s, a.status_since), now())
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id
 where a.status <> 'offline'
   and presence.offline_at(a.last_seen, s.offline_after_s) <= now();
comment on view presence_private.status_log is 'presence.status_events plus the pending timeout of each agent that went silent and is not recorded offline yet (id null), at the moment readers began to see it offline.';

create view presence.time_in_status as
with spans as (
  select l.tenant_id,
         l.agent_id,
         l.to_status as status,
         l.at as started,
         coalesce(lead(l.at) over (partition by l.agent_id order by l.at, l.id nulls last), now()) as ended
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
comment on view presence.time_in_status is 'Seconds (numeric) each agent spent in each status per UTC day, from presence.status_events and the timeouts readers already see; the current status counts up to now.';

create function presence.agent_history(
  p_tenant_id presence.tenant_key,
  p_agent_id presence.agent_key,
  p_from timestamptz default null,
  p_to timestamptz default null
)
returns table (range_from timestamptz, range_to timestamptz, status_at_start text, events json)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_to constant timestamptz := coalesce(p_to, now());
  v_from constant timestamptz := coalesce(p_from, v_to - interval '24 hours');
begin
  if not exists (select 1 from public.human_agents a where a.id = p_agent_id and a.tenant_id = p_tenant_id) then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  if v_from >= v_to then
    raise exception 'history range must have from before to, got % to %', v_from, v_to using errcode = 'PRUSR';
  end if;
  return query
  select v_from, v_to,
         coalesce((select l.to_status from presence_private.status_log l
                    where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at < v_from
                    order by l.at desc, l.id desc nulls first limit 1), 'offline'),
         coalesce((select json_agg(json_build_object('from', l.from_status, 'to', l.to_status, 'reason', l.reason,
                                                     'at', l.at) order by l.at, l.id nulls last)
                     from presence_private.status_log l
                    where l.agent_id = p_agent_id and l.tenant_id = p_tenant_id and l.at >= v_from and l.at < v_to),
                  '[]'::json);
end
$$;
comment on function presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz) is 'Status timeline of one agent of a tenant from p_from (inclusive; default 24 hours before p_to) to p_to (exclusive; default now): the range, the status the agent had at its start and the transitions in it, including a timeout readers already see but no sweep recorded yet. Raises PRAGT for an agent of another tenant, PRUSR for an empty range.';

-- Administration ------------------------------------------------------------------------------------------------

create function presence.configure_tenant(
  p_tenant_id presence.tenant_key,
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
comment on function presence.configure_tenant(presence.tenant_key, integer, integer, integer, integer) is 'Sets a tenant''s presence timing; a null argument keeps the current value. Raises PRTEN for an unknown tenant and PRSET, naming the value, for timing that breaks the rules (offline_after_s >= 2 * heartbeat_interval_s, ...). Owner only.';

-- Stranded chats ---------------------------------------------------------------------------------------------------

create function presence.open_chat(p_tenant_id presence.tenant_key)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;
  insert into presence_private.chats (tenant_id, created_at) values (p_tenant_id, now()) returning id into v_id;
  return v_id;
end
$$;
comment on function presence.open_chat(presence.tenant_key) is 'Queues a new chat for a tenant; returns its id. Raises PRTEN for an unknown tenant.';

create function presence.assign_chat(p_tenant_id presence.tenant_key)
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
  select a.id into v_agent
    from public.human_agents a
    join presence.settings s on s.tenant_id = a.tenant_id
   where a.tenant_id = p_tenant_id
     and a.status <> 'offline'
     and presence.effective_status(a.status::text, a.last_seen, s.offline_after_s) = 'available'
     and a.active_chats < a.max_chats
   order by a.active_chats, a.last_seen desc, a.id
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
  update public.human_agents a set active_chats = a.active_chats + 1 where a.id = v_agent;
  return query select v_chat, v_agent;
end
$$;
comment on function presence.assign_chat(presence.tenant_key) is 'Gives the tenant''s oldest queued chat to the least busy agent that is available by the derived status (fresh last_seen) and under max_chats. Safe under concurrent calls (SKIP LOCKED): never a silent or full agent, never one chat twice. No row when no chat is queued or no agent can take one.';

create function presence.close_chat(p_tenant_id presence.tenant_key, p_chat_id uuid)
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
        perform 1 from public.human_agents a where a.id = v_agent for update;
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
    update public.human_agents a set active_chats = greatest(a.active_chats - 1, 0) where a.id = v_agent;
  end if;
end
$$;
comment on function presence.close_chat(presence.tenant_key, uuid) is 'Closes a chat of a tenant and frees the slot of the agent that holds it. Closing a closed or unknown chat does nothing.';

create function presence.release_chats(p_agent_id presence.agent_key)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_tenant presence.tenant_key;
  v_agent record;
  v_count integer;
begin
  select a.tenant_id into v_tenant from public.human_agents a where a.id = p_agent_id;
  if not found then
    return 0;  -- the agent no longer exists; its chats lost their agent with it
  end if;
  -- Lock order: the agent (which also records a timeout nobody recorded yet), then its chats.
  select * into v_agent from presence_private.lock_agent(v_tenant, p_agent_id);
  if v_agent.status <> 'offline' then
    return 0;  -- came back: its chats stay where they are
  end if;
  with released as (
    update presence_private.chats c set status = 'queued', agent_id = null, assigned_at = null
     where c.agent_id = p_agent_id and c.status = 'assigned'
    returning 1
  )
  select count(*) into v_count from released;
  update public.human_agents a set active_chats = 0 where a.id = p_agent_id and a.active_chats <> 0;
  return v_count;
end
$$;
comment on function presence.release_chats(presence.agent_key) is 'Returns the assigned chats of an agent that is still offline to the queue and sets its active_chats to 0; does nothing for an agent that came back. Run by the graphile-worker task release_chats that presence_private.apply_transitions enqueues. Owner only. Returns how many chats it released.';

-- Which scheduler sweeps --------------------------------------------------------------------------------------------

-- Where pg_cron lives in another database of the same server (managed PostgreSQL keeps it in cron.database_name,
-- usually `postgres`), `npx presence cron install` schedules the sweep there with cron.schedule_in_database and
-- records it here, since this database cannot see that one's cron.job.
create table presence_private.remote_cron_job (
  id boolean primary key default true constraint remote_cron_job_one_row check (id),
  database_name text not null,
  job_name text not null,
  schedule text not null,
  installed_at timestamptz not null default now()
);
comment on table presence_private.remote_cron_job is 'The pg_cron job that sweeps this database from another database of the same server (npx presence cron install), if any.';

create function presence.sweep_scheduler()
returns table (scheduler text, schedule text, active boolean, database_name text, last_run_at timestamptz)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_last timestamptz := (select s.last_run_at from presence_private.sweep_stats s);
begin
  if to_regclass('cron.job') is not null then
    return query execute
      'select ''pg_cron''::text, j.schedule::text, j.active, current_database()::text, $1
         from cron.job j where j.jobname = ''presence-sweep'' and j.database = current_database()'
      using v_last;
    if found then
      return;
    end if;
  end if;
  return query
  select 'pg_cron'::text, r.schedule, true, r.database_name, v_last from presence_private.remote_cron_job r;
  if found then
    return;
  end if;
  return query select 'graphile-worker'::text, '* * * * *'::text, true, current_database()::text, v_last;
end
$$;
comment on function presence.sweep_scheduler() is 'Which scheduler runs presence.sweep_stale_agents() for this database: pg_cron (job presence-sweep, here or, after npx presence cron install, in database_name) or, where pg_cron is unavailable, graphile-worker''s cron in the server process (every minute); with the schedule and when a sweep last ran.';

create function presence.sweep_runs()
returns bigint
language sql stable security definer
set search_path = ''
as $$
  select s.runs from presence_private.sweep_stats s
$$;
comment on function presence.sweep_runs() is 'How many sweeps ran (any scheduler), for the server''s /metrics.';
