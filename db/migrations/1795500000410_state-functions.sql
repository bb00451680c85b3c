-- Up Migration

-- Every function and view that read or wrote presence's columns of public.human_agents now reads and writes
-- presence_private.agent_state (1795500000400), the agent row of the lock order: the agent's state row first, then
-- its tabs, then its chats. The platform's table receives values only: status from the one writer of transitions,
-- last_seen from the beats, active_chats from the chat functions, each while its agent's state row is locked.
--
-- last_seen keeps the platform's type (1795500000420 gives a `timestamp` back its type). The functions that write or
-- read the platform's last_seen run with TimeZone UTC, so a `timestamp` column holds UTC wall time and a
-- `timestamptz` column the instant, whatever the caller's or the database's TimeZone; nothing of presence depends on
-- the column's type, and the platform may retype it with its own tool. Presence reads agent_state.last_seen.
--
-- A beat now writes three rows (the state row, the platform's row, the tab), each a HOT update: bench/hot.ts, 50k
-- beats over 5k agents from 4 connections, HOT ratio 1.0 on all three; 22.5-23.4k beats/s against 23.9-24.6k with
-- the two of before, alternated on one cluster. The sweep of 1M agents with 100k online, 1 % of those stale, reads
-- agent_state_online_idx: 48 ms median (46-81 ms, bench/sweep.ts), scan floor 13 ms.

-- The agent row -------------------------------------------------------------------------------------------------------

create or replace function presence_private.lock_agent(
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
declare
  v_since timestamptz;
begin
  -- First in the lock order: the agent's state row, made from the platform's row the first time presence meets
  -- the agent (callers lock nothing before this, or made the row first, as presence.heartbeats does). The tenant is
  -- checked on every call: a state row pairs an agent with the tenant the platform gave it.
  select a.status, a.chosen_status, a.last_seen, a.status_since, s.heartbeat_interval_s, s.offline_after_s
    into status, chosen_status, last_seen, v_since, heartbeat_interval_s, offline_after_s
    from presence_private.agent_state a
    join presence.settings s on s.tenant_id = a.tenant_id
   where a.agent_id = p_agent_id and a.tenant_id = p_tenant_id
     for update of a;
  if not found then
    perform presence_private.ensure_agent_state(array[p_agent_id]);
    select a.status, a.chosen_status, a.last_seen, a.status_since, s.heartbeat_interval_s, s.offline_after_s
      into status, chosen_status, last_seen, v_since, heartbeat_interval_s, offline_after_s
      from presence_private.agent_state a
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.agent_id = p_agent_id and a.tenant_id = p_tenant_id
       for update of a;
    if not found then
      perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
    end if;
  end if;

  -- Readers have seen this agent offline since offline_at; the sweep has not run yet. Record that now, at that
  -- moment, before anything else happens to the agent, so that the history says what every reader saw. Its tabs
  -- are all at least as old as its last beat: they go too.
  if status <> 'offline' and presence.offline_at(last_seen, offline_after_s) <= now() then
    perform presence_private.apply_transitions(array[(p_agent_id, p_tenant_id, status, 'offline', 'timeout',
      coalesce(presence.timeout_at(last_seen, offline_after_s, v_since), now()))::presence_private.transition]);
    delete from presence_private.sessions s where s.agent_id = p_agent_id;
    status := 'offline';
  end if;
end
$$;
comment on function presence_private.lock_agent(presence.tenant_key, presence.agent_key) is 'Locks an agent''s state row (first in the lock order; made from public.human_agents the first time) and returns its status, chosen status, last beat and its tenant''s timing. An agent that went silent and is not offline yet is first taken offline (reason timeout) at the moment readers began to see it offline. Raises PRAGT for an unknown tenant/agent pair.';

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
  --
  -- The UPDATE comes before the INSERT, so the transaction has its id before it takes an event id:
  -- presence.status_changes_after relies on that to know when an event id it has not seen can no longer commit.
  -- The platform's status column receives the new status (as its own type: text, varchar or an enum).
  with changed as (
    update presence_private.agent_state a
       set status = c.to_status, status_mechanism = c.reason, status_since = greatest(c.at, a.status_since)
      from unnest(p_changes) c
     where a.agent_id = c.agent_id
       and a.tenant_id = c.tenant_id
       and a.status = c.from_status
       and c.to_status <> c.from_status
    returning a.tenant_id, a.agent_id, c.from_status, c.to_status, a.chosen_status, c.reason,
              a.status_since as at, a.active_chats
  ), mirrored as (
    update public.human_agents h set status = c.to_status::presence.agent_status
      from changed c
     where h.id = c.agent_id
    returning 1
  ), logged as (
    insert into presence.status_events (tenant_id, agent_id, from_status, to_status, chosen_status, reason, at)
    select c.tenant_id, c.agent_id, c.from_status, c.to_status, c.chosen_status::text, c.reason, c.at
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
comment on function presence_private.apply_transitions(presence_private.transition[]) is 'The only writer of an agent''s status: applies the transitions to presence_private.agent_state and mirrors the status into public.human_agents.status, appends them to presence.status_events and rings channel presence_status on commit with an empty payload. For each agent going offline with chats it enqueues graphile-worker job release_chats. Returns how many transitions happened.';

-- The beats -----------------------------------------------------------------------------------------------------------

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
  -- The platform's column, in its own type (TimeZone is UTC here: a timestamp gets UTC wall time).
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

-- The common beat, set-based. Nearly every beat is an active beat of a tab the agent already has, by a live agent
-- whose status is already what that beat would make it: it only moves last_seen (agent and tab). presence.heartbeats
-- applies those in two statements for the whole batch; every other beat (new tab, idle, a status to change, a
-- silent agent, bad input) goes through presence.heartbeat one by one. Measured on one connection, batches of 50
-- agents (npm run bench, 2 cores): 82 us per beat with presence.heartbeat for all, 46 us with the set-based path.
-- Generic plans (plan_cache_mode): with array parameters PostgreSQL planned each statement afresh on every call;
-- a call with one beat 441 -> 327-351 us (best of ~5000 calls).
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
  ), platform as (
    -- The platform's column, in its own type (TimeZone is UTC here: a timestamp gets UTC wall time). Every row is
    -- already locked through its state row above.
    update public.human_agents a
       set last_seen = now()
      from agents g
     where a.id = g.id
    returning 1
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

comment on function presence.heartbeat(presence.tenant_key, presence.agent_key, text, text, text) is 'Records a beat of one browser tab (upsert) and refreshes the agent''s last_seen (and the platform''s human_agents.last_seen, in its own type); an agent silent past offline_after_s is first recorded offline at the moment it went offline, and an offline agent comes back to its chosen status, which beats never override. p_activity idle or active turns an available agent away and back; p_sign_in names the sign-in the tab beats under. Returns the effective status, the beat time and the heartbeat interval.';
comment on function presence.heartbeats(presence.tenant_key[], presence.agent_key[], text[], text[], text[]) is 'Many beats in one call, each recorded as presence.heartbeat would, one row per beat in order; agents are locked in key order. A beat that only moves last_seen is applied set-based for the whole batch. One bad beat fails the call: retry its beats one by one.';


-- The agent's choice ----------------------------------------------------------------------------------------------

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

  update presence_private.agent_state a set chosen_status = p_status where a.agent_id = p_agent_id;

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

-- Chats --------------------------------------------------------------------------------------------------------------

create or replace function presence_private.release_held_chats(p_agent_ids presence.agent_key[])
returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
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
  update public.human_agents h set active_chats = 0 from emptied e where h.id = e.agent_id;
  return v_count;
end
$$;
comment on function presence_private.release_held_chats(presence.agent_key[]) is 'Returns the assigned chats of the given agents to the queue and sets their active_chats to 0 (presence''s count and the platform''s); the caller holds the agents'' row locks and has decided they are offline past their grace. Shared by presence.release_chats (the job) and presence.sweep_stale_agents. Returns how many chats it released.';

create or replace function presence.release_chats(p_agent_id presence.agent_key)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_tenant presence.tenant_key;
  v_agent record;
begin
  select a.tenant_id into v_tenant from presence_private.agent_state a where a.agent_id = p_agent_id;
  if not found then
    return 0;  -- the agent no longer exists (its chats lost their agent with it), or never held one
  end if;
  -- Lock order: the agent (which also records a timeout nobody recorded yet), then its chats.
  select * into v_agent from presence_private.lock_agent(v_tenant, p_agent_id);
  if v_agent.status <> 'offline' then
    return 0;  -- came back: its chats stay where they are
  end if;
  return presence_private.release_held_chats(array[p_agent_id]);
end
$$;
comment on function presence.release_chats(presence.agent_key) is 'Returns the assigned chats of an agent that is still offline to the queue and sets its active_chats to 0; does nothing for an agent that came back. Run by the graphile-worker task release_chats that presence_private.apply_transitions enqueues; presence.sweep_stale_agents releases the same chats once the grace has passed if no job did. Owner only. Returns how many chats it released.';

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
  -- The capacity is the platform's (human_agents.max_chats); the count and the status are presence's.
  select a.agent_id into v_agent
    from presence_private.agent_state a
    join presence.settings s on s.tenant_id = a.tenant_id
    join public.human_agents h on h.id = a.agent_id
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
  with counted as (
    update presence_private.agent_state a set active_chats = a.active_chats + 1 where a.agent_id = v_agent
    returning a.active_chats
  )
  update public.human_agents h set active_chats = c.active_chats from counted c where h.id = v_agent;
  return query select v_chat, v_agent;
end
$$;
comment on function presence.assign_chat(presence.tenant_key) is 'Gives the tenant''s oldest queued chat to the least busy agent that is available by the derived status (fresh last_seen) and under max_chats. Safe under concurrent calls (SKIP LOCKED): never a silent or full agent, never one chat twice. No row when no chat is queued or no agent can take one.';

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
    with counted as (
      update presence_private.agent_state a set active_chats = greatest(a.active_chats - 1, 0) where a.agent_id = v_agent
      returning a.active_chats
    )
    update public.human_agents h set active_chats = c.active_chats from counted c where h.id = v_agent;
  end if;
end
$$;
comment on function presence.close_chat(presence.tenant_key, uuid) is 'Closes a chat of a tenant and frees the slot of the agent that holds it. Closing a closed or unknown chat does nothing.';

-- The sweep ----------------------------------------------------------------------------------------------------------

-- The sweep's first pass: the row addresses of agents that may be stale, without locks. RETURN QUERY lets its scan
-- run in parallel (a SELECT ... INTO in PL/pgSQL never launches workers): 1M agents all online, 1 % stale,
-- 368 -> 287-314 ms. `last_seen <= cutoff or last_seen is null`, not a coalesce: with the coalesce the planner
-- expects a third of the rows and gives up the parallel plan.
create or replace function presence_private.sweep_candidates(p_cutoff timestamptz)
returns setof tid
language plpgsql stable
set search_path = ''
as $$
begin
  return query
    select a.ctid from presence_private.agent_state a
     where a.status <> 'offline' and (a.last_seen <= p_cutoff or a.last_seen is null);
end
$$;
comment on function presence_private.sweep_candidates(timestamptz) is 'The row addresses of agents not offline whose last beat is at or before p_cutoff (or who never beat): the sweep''s unlocked first pass.';

create or replace function presence.sweep_stale_agents(p_now timestamptz default now())
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
  v_release presence.agent_key[];
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
        select a.agent_id as id, a.tenant_id, a.status,
               coalesce(presence.timeout_at(a.last_seen, o.offline_after_s, a.status_since), p_now) as at
          from presence_private.agent_state a
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

  -- Stranded chats: agents offline for longer than their tenant's release_chats_after_s who still hold chats, whatever
  -- became of their release job (a worker that died with its machine keeps the job locked for 4 hours). Found
  -- through agent_state_offline_holding_idx, which holds only offline agents with chats. Lock order: the agents
  -- (SKIP LOCKED, as above: one a beat or a job holds now is left to that or to the next sweep), then their chats.
  -- An agent that came back is not offline, and keeps its chats.
  select array_agg(x.id) into v_release
    from (
      select a.agent_id
        from presence_private.agent_state a
        join presence.settings s on s.tenant_id = a.tenant_id
       where a.status = 'offline'
         and a.active_chats > 0
         and a.status_since + s.release_chats_after_s * interval '1 second' <= p_now
       order by a.agent_id
         for update of a skip locked
    ) x(id);
  if v_release is not null then
    perform presence_private.release_held_chats(v_release);
  end if;

  update presence_private.sweep_stats set runs = runs + 1, last_run_at = now(), last_swept = v_count;
  return v_count;
end
$$;
-- Readers ------------------------------------------------------------------------------------------------------------

-- Same columns as before; agents the platform made after presence last met them have no state row yet and read
-- offline, with the chosen status their row will get.
drop view presence.agent_presence;
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
       coalesce(st.active_chats, a.active_chats)::integer as active_chats,
       a.max_chats,
       presence.offline_at(st.last_seen, s.offline_after_s) as offline_at
  from public.human_agents a
  join presence.settings s on s.tenant_id = a.tenant_id
  left join presence_private.agent_state st on st.agent_id = a.id;
comment on view presence.agent_presence is 'Presence of every agent now. status is derived at read time from last_seen and the tenant''s offline_after_s, so a silent agent reads offline before any sweep has run; chosen_status is what the agent picked by hand; offline_at is when the agent reads offline unless it beats again. Filter by tenant_id.';
grant select on presence.agent_presence to presence_app, presence_analyst;

create or replace view presence_private.status_log as
select e.id, e.tenant_id, e.agent_id, e.from_status, e.to_status, e.reason, e.at
  from presence.status_events e
union all
select null, a.tenant_id, a.agent_id, a.status, 'offline', 'timeout',
       coalesce(presence.timeout_at(a.last_seen, s.offline_after_s, a.status_since), now())
  from presence_private.agent_state a
  join presence.settings s on s.tenant_id = a.tenant_id
 where a.status <> 'offline'
   and presence.offline_at(a.last_seen, s.offline_after_s) <= now();

-- Accounts -----------------------------------------------------------------------------------------------------------

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
         presence.effective_status(a.status, a.last_seen, st.offline_after_s), a.chosen_status,
         st.heartbeat_interval_s, st.offline_after_s, st.away_after_s,
         extract(epoch from s.expires_at - now())::double precision
    from unnest(p_token_hashes) with ordinality as r(token_hash, ord)
    join presence_accounts.auth_sessions s on s.token_hash = r.token_hash and s.revoked_at is null and s.expires_at > now()
    join presence_accounts.users u on u.id = s.user_id
    join public.tenants t on t.id = u.tenant_id
    join presence.settings st on st.tenant_id = u.tenant_id
    left join presence_private.agent_state a on a.agent_id = u.agent_id
   order by r.ord;
end
$$;

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
    insert into public.human_agents (tenant_id, name, email, max_chats)
    values (p_tenant_id, btrim(p_name), p_email, p_max_chats)
    returning id into v_agent_id;
    perform presence_private.ensure_agent_state(array[v_agent_id]);
  end if;
  insert into presence_accounts.users (tenant_id, email, name, role, agent_id, password_hash)
  values (p_tenant_id, p_email, btrim(p_name), p_role, v_agent_id,
          presence_accounts.bcrypt(presence_accounts.password_secret(p_password), v_policy.bcrypt_cost))
  returning id into v_user_id;
  return query select v_user_id, v_agent_id;
end
$$;

