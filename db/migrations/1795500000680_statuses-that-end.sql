-- Up Migration

-- Choices with a reason, an end and an author, and statuses that end.
--
-- A status is chosen by the agent (presence.set_status, mechanism manual) or for the agent by a manager
-- (presence.set_agent_status, mechanism supervisor: the router checks who manages, the function the tenant), with
-- an optional tenant reason of that status and an optional end (until; without it the reason's default duration),
-- and who chose it (the platform's user id and name). Beats never undo a choice; the agent may choose again.
-- When until passes, the agent reads available again (offline if silent) at once (presence.current_status, in the
-- views), and the end is recorded at that moment (mechanism expiry) by whichever comes first: the agent's next beat
-- (presence_private.lock_agent) or the sweep. Nothing outside the database keeps a timer.
--
-- Project SQLSTATEs added here:
--   PRRCH  a reason that cannot be chosen: not of this tenant, of another status, or retired      400 invalid_input
--   PRUNT  an until in the past, more than 7 days ahead, or with status available                   400 invalid_input

create function presence_private.choose_status(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key,
                                               p_status text, p_reason_id uuid, p_until timestamptz, p_mechanism text,
                                               p_actor_id text, p_actor_name text)
returns text
language plpgsql volatile
set search_path = ''
as $$
declare
  v_agent record;
  v_reason presence_private.tenant_reasons;
  v_until timestamptz := p_until;
  v_before presence_private.agent_state;
  v_target text;
  v_recent integer;
  v_oldest timestamptz;
begin
  perform presence_private.check_status(p_status);
  if p_reason_id is not null then
    select * into v_reason from presence_private.tenant_reasons r where r.id = p_reason_id and r.tenant_id = p_tenant_id;
    if not found then
      raise exception 'reason: no reason % in this tenant', p_reason_id using errcode = 'PRRCH';
    end if;
    if v_reason.status <> p_status then
      raise exception 'reason: "%" is a reason for %, not for %', v_reason.label, v_reason.status, p_status
        using errcode = 'PRRCH';
    end if;
    if v_reason.retired_at is not null then
      raise exception 'reason: "%" is retired', v_reason.label using errcode = 'PRRCH';
    end if;
    v_until := coalesce(v_until, now() + v_reason.default_duration_s * interval '1 second');
  end if;
  if v_until is not null then
    if p_status = 'available' then
      raise exception 'until: an end applies to away, dnd and offline, not to available' using errcode = 'PRUNT';
    end if;
    if v_until <= now() then
      raise exception 'until: must be later than now, got %', v_until using errcode = 'PRUNT';
    end if;
    if v_until > now() + interval '7 days' then
      raise exception 'until: must be at most 7 days ahead, got %', v_until using errcode = 'PRUNT';
    end if;
  end if;
  if p_actor_id is not null and (btrim(p_actor_id) = '' or length(p_actor_id) > 200) then
    raise exception 'actor id must be 1 to 200 characters, got %', length(p_actor_id) using errcode = 'PRUSR';
  end if;
  if length(p_actor_name) > 200 then
    raise exception 'actor name must be at most 200 characters, got %', length(p_actor_name) using errcode = 'PRUSR';
  end if;

  -- Lock order: the agent, then (reading) its tabs.
  select * into v_agent from presence_private.lock_agent(p_tenant_id, p_agent_id);

  -- At most 20 choices a minute per agent (its own and its managers'), counted from the agent's transitions under
  -- its row lock, so parallel calls cannot overshoot; beyond, nothing is written (not even what lock_agent
  -- recorded: the error undoes it).
  select count(*), min(e.at) into v_recent, v_oldest
    from (select e.at from presence.status_events e
           where e.agent_id = p_agent_id and e.mechanism in ('manual', 'supervisor')
             and e.at > now() - interval '1 minute'
           order by e.at desc limit 20) e;
  if v_recent >= 20 then
    raise exception 'agent % changed status by hand % times in the last minute: at most 20 changes a minute',
      p_agent_id, v_recent
      using errcode = 'PRSCR',
            detail = format('retry_after_s=%s', greatest(1, ceil(extract(epoch from v_oldest + interval '1 minute' - now())))::integer);
  end if;

  select * into v_before from presence_private.agent_state a where a.agent_id = p_agent_id;
  update presence_private.agent_state a
     set chosen_status = p_status, chosen_reason_id = p_reason_id, chosen_until = v_until,
         set_by_id = p_actor_id, set_by_name = p_actor_name
   where a.agent_id = p_agent_id;

  -- The choice takes effect at once for a live agent; one with no live tab stays offline and takes its chosen
  -- status with its next beat.
  v_target := case
    when p_status = 'offline' then 'offline'
    when exists (select 1 from presence_private.sessions s
                  where s.agent_id = p_agent_id and presence.offline_at(s.last_seen, v_agent.offline_after_s) > now())
      then p_status
    else 'offline'
  end;
  -- Recorded when the status changes, and when the agent is in the chosen status and its reason or end changed.
  if v_target <> v_agent.status
     or (v_target = p_status
         and (v_before.chosen_status <> p_status or v_before.chosen_reason_id is distinct from p_reason_id
              or v_before.chosen_until is distinct from v_until)) then
    perform presence_private.apply_transitions(
      array[(p_agent_id, p_tenant_id, v_agent.status, v_target, p_mechanism, now())::presence_private.transition]);
  end if;
  return v_target;
end
$$;
comment on function presence_private.choose_status(presence.tenant_key, presence.agent_key, text, uuid, timestamptz, text, text, text) is 'A status chosen for an agent, by the agent (mechanism manual) or a manager (supervisor), with a tenant reason, an end and who chose it: checks them (PRSTA, PRRCH, PRUNT, PRUSR), locks the agent (PRAGT for another tenant''s), holds choices to 20 a minute (PRSCR), records the choice and the transition. Returns the effective status. Shared by presence.set_status and presence.set_agent_status.';

drop function presence.set_status(presence.tenant_key, presence.agent_key, text);

create function presence.set_status(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_status text,
                                    p_reason_id uuid default null, p_until timestamptz default null,
                                    p_actor_id text default null, p_actor_name text default null)
returns text
language sql volatile security definer
set search_path = ''
as $$
  select presence_private.choose_status(p_tenant_id, p_agent_id, p_status, p_reason_id, p_until, 'manual',
                                        p_actor_id, p_actor_name)
$$;
comment on function presence.set_status(presence.tenant_key, presence.agent_key, text, uuid, timestamptz, text, text) is 'The agent''s own choice of status (available, away, dnd, offline; mechanism manual), with an optional tenant reason of that status (p_reason_id), an end (p_until: later than now, at most 7 days ahead; default the reason''s default duration) and who chose (p_actor_id, p_actor_name: the platform''s user). Heartbeats and sweeps never override it; when p_until passes the agent reads available again. Raises PRSTA, PRRCH (a reason not of this tenant and status, or retired), PRUNT (a bad until), PRAGT, and PRSCR (with detail retry_after_s) beyond 20 choices a minute; writes nothing then. Returns the effective status.';

create function presence.set_agent_status(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_status text,
                                          p_reason_id uuid default null, p_until timestamptz default null,
                                          p_actor_id text default null, p_actor_name text default null)
returns text
language sql volatile security definer
set search_path = ''
as $$
  select presence_private.choose_status(p_tenant_id, p_agent_id, p_status, p_reason_id, p_until, 'supervisor',
                                        p_actor_id, p_actor_name)
$$;
comment on function presence.set_agent_status(presence.tenant_key, presence.agent_key, text, uuid, timestamptz, text, text) is 'A manager''s choice of an agent''s status (mechanism supervisor), with the same reason, end and errors as presence.set_status; the actor is the manager. The agent''s beats never undo it; the agent may choose again. The caller checks that the actor manages the team; PRAGT for an agent of another tenant. Returns the effective status.';

grant execute on function presence.set_status(presence.tenant_key, presence.agent_key, text, uuid, timestamptz, text, text),
                          presence.set_agent_status(presence.tenant_key, presence.agent_key, text, uuid, timestamptz, text, text)
  to presence_app;

-- Statuses that end: recorded by the agent's next beat (lock_agent; the beats' fast path leaves such an agent to
-- presence.heartbeat) or by the sweep, whichever comes first.

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
  v_until timestamptz;
begin
  -- First in the lock order: the agent's state row, made from the platform's row the first time presence meets
  -- the agent (callers lock nothing before this, or made the row first, as presence.heartbeats does). The tenant is
  -- checked on every call: a state row pairs an agent with the tenant the platform gave it.
  select a.status, a.chosen_status, a.last_seen, a.status_since, a.chosen_until, s.heartbeat_interval_s, s.offline_after_s
    into status, chosen_status, last_seen, v_since, v_until, heartbeat_interval_s, offline_after_s
    from presence_private.agent_state a
    join presence.settings s on s.tenant_id = a.tenant_id
   where a.agent_id = p_agent_id and a.tenant_id = p_tenant_id
     for update of a;
  if not found then
    perform presence_private.ensure_agent_state(array[p_agent_id]);
    select a.status, a.chosen_status, a.last_seen, a.status_since, a.chosen_until, s.heartbeat_interval_s, s.offline_after_s
      into status, chosen_status, last_seen, v_since, v_until, heartbeat_interval_s, offline_after_s
      from presence_private.agent_state a
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.agent_id = p_agent_id and a.tenant_id = p_tenant_id
       for update of a;
    if not found then
      perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
    end if;
  end if;

  -- A chosen status whose end has passed: readers have seen the agent available since then (offline if it was
  -- silent by then). Record the end at that moment, before the timeout that may follow it; an agent offline by its
  -- own choice with a tab still open comes back now. The choice is cleared either way.
  if v_until <= now() then
    update presence_private.agent_state a
       set chosen_status = 'available', chosen_reason_id = null, chosen_until = null, set_by_id = null, set_by_name = null
     where a.agent_id = p_agent_id;
    if status not in ('offline', 'available') and presence.offline_at(last_seen, offline_after_s) > v_until then
      perform presence_private.apply_transitions(array[(p_agent_id, p_tenant_id, status, 'available', 'expiry',
        v_until)::presence_private.transition]);
      status := 'available';
      v_since := greatest(v_until, v_since);
    elsif status = 'offline' and chosen_status = 'offline'
          and exists (select 1 from presence_private.sessions s
                       where s.agent_id = p_agent_id and presence.offline_at(s.last_seen, offline_after_s) > now()) then
      perform presence_private.apply_transitions(array[(p_agent_id, p_tenant_id, 'offline', 'available', 'expiry',
        now())::presence_private.transition]);
      status := 'available';
      v_since := now();
    end if;
    chosen_status := 'available';
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

comment on function presence_private.lock_agent(presence.tenant_key, presence.agent_key) is 'Locks an agent''s state row (first in the lock order; made from public.human_agents the first time) and returns its status, chosen status, last beat and its tenant''s timing. A chosen status whose end (until) has passed is first ended (mechanism expiry, at that moment, if the agent was live then), and an agent that went silent and is not offline yet is then taken offline (mechanism timeout) at the moment readers began to see it offline. Raises PRAGT for an unknown tenant/agent pair.';

-- Through define_for_platform (1795500000430): the platform's last_seen only where the platform has one.
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
       -- a chosen status that has ended is recorded by presence.heartbeat (lock_agent)
       and (h.chosen_until is null or h.chosen_until > now())
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
$$
$def$);

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
  v_expiries presence_private.transition[];
begin
  -- Chosen statuses whose end has passed, first (their rows change, and the timeout pass below finds rows by
  -- address): each is cleared, and the end recorded at its moment for an agent that was live then; the timeout
  -- that may follow is recorded below. Found through agent_state_chosen_until_idx; SKIP LOCKED: an agent a beat
  -- holds now has its end recorded by that beat.
  with expired as (
    select a.agent_id, a.tenant_id, a.status, a.chosen_until,
           presence.offline_at(a.last_seen, s.offline_after_s) > a.chosen_until as live_at_end
      from presence_private.agent_state a
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.chosen_until <= p_now
     order by a.agent_id
       for update of a skip locked
  ), cleared as (
    update presence_private.agent_state a
       set chosen_status = 'available', chosen_reason_id = null, chosen_until = null, set_by_id = null, set_by_name = null
      from expired x
     where a.agent_id = x.agent_id
    returning x.agent_id, x.tenant_id, x.status, x.chosen_until, x.live_at_end
  )
  select coalesce(array_agg((c.agent_id, c.tenant_id, c.status, 'available', 'expiry', c.chosen_until)::presence_private.transition)
                    filter (where c.status not in ('offline', 'available') and c.live_at_end), '{}')
    into v_expiries
    from cleared c;
  perform presence_private.apply_transitions(v_expiries);

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
