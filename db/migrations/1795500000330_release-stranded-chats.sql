-- Up Migration

-- Chats are released whatever happened to a job. The release job (graphile-worker task release_chats) stays the fast
-- path, but a job whose worker died with its machine stays locked for graphile-worker's 4 hours, and its agent sat
-- offline holding its chats all that time. The sweep (pg_cron every minute, or the worker's fallback) now also
-- returns to the queue, set-based, the chats of every agent offline for longer than its tenant's
-- release_chats_after_s, so the database releases them within a sweep of that moment whatever became of the job.

-- The offline agents that still hold chats: the agents in their grace and the stranded ones, a handful. Beats never
-- touch it (they write last_seen, which it neither holds nor filters on), so they stay HOT updates; a transition to
-- or from offline and a change of active_chats write it. With it, 40k chats held by online agents add nothing to
-- the sweep (docs/reliability.md, bench/stranded-chats.ts); found through the assigned chats instead, they added
-- 30 ms at 100k agents.
create index human_agents_offline_holding_idx on public.human_agents (tenant_id) where status = 'offline' and active_chats > 0;

create function presence_private.release_held_chats(p_agent_ids presence.agent_key[])
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
  update public.human_agents a set active_chats = 0 where a.id = any (p_agent_ids) and a.active_chats <> 0;
  return v_count;
end
$$;
comment on function presence_private.release_held_chats(presence.agent_key[]) is 'Returns the assigned chats of the given agents to the queue and sets their active_chats to 0; the caller holds the agents'' row locks and has decided they are offline past their grace. Shared by presence.release_chats (the job) and presence.sweep_stale_agents. Returns how many chats it released.';

create or replace function presence.release_chats(p_agent_id presence.agent_key)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_tenant presence.tenant_key;
  v_agent record;
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
  return presence_private.release_held_chats(array[p_agent_id]);
end
$$;
comment on function presence.release_chats(presence.agent_key) is 'Returns the assigned chats of an agent that is still offline to the queue and sets its active_chats to 0; does nothing for an agent that came back. Run by the graphile-worker task release_chats that presence_private.apply_transitions enqueues; presence.sweep_stale_agents releases the same chats once the grace has passed if no job did. Owner only. Returns how many chats it released.';

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

  -- Stranded chats: agents offline for longer than their tenant's release_chats_after_s who still hold chats, whatever
  -- became of their release job (a worker that died with its machine keeps the job locked for 4 hours). Found
  -- through human_agents_offline_holding_idx, which holds only offline agents with chats. Lock order: the agents
  -- (SKIP LOCKED, as above: one a beat or a job holds now is left to that or to the next sweep), then their chats.
  -- An agent that came back is not offline, and keeps its chats.
  select array_agg(x.id) into v_release
    from (
      select a.id
        from public.human_agents a
        join presence.settings s on s.tenant_id = a.tenant_id
       where a.status = 'offline'
         and a.active_chats > 0
         and a.status_since + s.release_chats_after_s * interval '1 second' <= p_now
       order by a.id
         for update of a skip locked
    ) x;
  if v_release is not null then
    perform presence_private.release_held_chats(v_release);
  end if;

  update presence_private.sweep_stats set runs = runs + 1, last_run_at = now(), last_swept = v_count;
  return v_count;
end
$$;
comment on function presence.sweep_stale_agents(timestamptz) is 'Marks offline (reason timeout) every agent that is not offline and whose newest beat is older than its tenant''s offline_after_s at p_now, each at the moment it went offline; forgets their browser tabs. Then returns to the queue the chats of every agent offline for longer than its tenant''s release_chats_after_s at p_now, whatever became of its release job. Set-based, idempotent, safe beside concurrent heartbeats. Returns how many agents it took offline. Scheduled as pg_cron job presence-sweep. Owner only: p_now moves the clock for tests and DBAs.';
