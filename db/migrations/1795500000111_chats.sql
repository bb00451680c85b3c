-- Up Migration

-- Stranded chats: a minimal chat queue, assignment to available agents, and the release of an offline agent's
-- chats by a graphile-worker job that the single transition path enqueues.

create table presence_private.chats (
  id uuid primary key default gen_random_uuid(),
  tenant_id presence.tenant_key not null references public.tenants on delete cascade,
  agent_id presence.agent_key,
  status text not null default 'queued' constraint chats_status_check check (status in ('queued', 'assigned', 'closed')),
  created_at timestamptz not null default now(),
  assigned_at timestamptz,
  foreign key (tenant_id, agent_id) references public.human_agents (tenant_id, id) on delete set null (agent_id),
  constraint chats_agent_matches_status check ((status = 'assigned') = (agent_id is not null))
);
-- assign_chat takes the oldest queued chat of a tenant; the release job finds an agent's assigned chats.
create index chats_queued_idx on presence_private.chats (tenant_id, created_at) where status = 'queued';
create index chats_assigned_idx on presence_private.chats (agent_id) where status = 'assigned';
comment on table presence_private.chats is 'Customer chats: queued (waiting for an agent), assigned (to agent_id) or closed. human_agents.active_chats counts an agent''s assigned chats.';

create function presence.open_chat(p_tenant_id uuid, p_now timestamptz default now())
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
  insert into presence_private.chats (tenant_id, created_at) values (p_tenant_id, p_now) returning id into v_id;
  return v_id;
end
$$;
comment on function presence.open_chat(uuid, timestamptz) is 'Queues a new chat for a tenant; returns its id. Raises PRTEN for an unknown tenant.';

create function presence.assign_chat(p_tenant_id uuid, p_now timestamptz default now())
returns table (chat_id uuid, agent_id uuid)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_chat uuid;
  v_agent uuid;
begin
  -- SKIP LOCKED on both sides: concurrent callers take different chats and never wait on each other. The agent
  -- row lock re-checks the predicate against the newest row version (EvalPlanQual), so an agent another caller
  -- just filled up, or one that a sweep just took offline, is not picked.
  select c.id into v_chat
    from presence_private.chats c
   where c.tenant_id = p_tenant_id and c.status = 'queued'
   order by c.created_at, c.id
   limit 1
     for update skip locked;
  if v_chat is null then
    return;
  end if;

  select a.id into v_agent
    from public.human_agents a
    join presence.settings s on s.tenant_id = a.tenant_id
   where a.tenant_id = p_tenant_id
     and presence.effective_status(a.status, a.last_seen, s.offline_after_s, p_now) = 'available'
     and a.active_chats < a.max_chats
   order by a.active_chats, a.last_seen desc, a.id
   limit 1
     for update of a skip locked;
  if v_agent is null then
    return;
  end if;

  update presence_private.chats c set status = 'assigned', agent_id = v_agent, assigned_at = p_now where c.id = v_chat;
  update public.human_agents a set active_chats = a.active_chats + 1 where a.id = v_agent;
  return query select v_chat, v_agent;
end
$$;
comment on function presence.assign_chat(uuid, timestamptz) is 'Gives the tenant''s oldest queued chat to the least busy agent that is available by the derived status (fresh last_seen) and under max_chats. Safe under concurrent calls (SKIP LOCKED): never a stale or full agent, never one chat twice. No row when no chat is queued or no agent can take one.';

create function presence.close_chat(p_tenant_id uuid, p_chat_id uuid)
returns void
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent uuid;
begin
  update presence_private.chats c set status = 'closed', agent_id = null
    from presence_private.chats old
   where c.id = p_chat_id and c.tenant_id = p_tenant_id and old.id = c.id and c.status <> 'closed'
  returning old.agent_id into v_agent;
  if v_agent is not null then
    update public.human_agents a set active_chats = greatest(a.active_chats - 1, 0) where a.id = v_agent;
  end if;
end
$$;
comment on function presence.close_chat(uuid, uuid) is 'Closes a chat of a tenant and frees its agent''s slot. Closing a closed or unknown chat does nothing.';

create function presence.release_chats(p_agent_id uuid, p_now timestamptz default now())
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_status text;
  v_count integer;
begin
  -- The agent's row lock orders this against a heartbeat that brings it back.
  select presence.effective_status(a.status, a.last_seen, s.offline_after_s, p_now) into v_status
    from public.human_agents a
    join presence.settings s on s.tenant_id = a.tenant_id
   where a.id = p_agent_id
     for update of a;
  if v_status is distinct from 'offline' then
    return 0;  -- came back (or no longer exists): its chats stay where they are
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
comment on function presence.release_chats(uuid, timestamptz) is 'Returns the assigned chats of an agent that is still offline to the queue and sets its active_chats to 0; does nothing for an agent that came back. Run by the graphile-worker task release_chats that presence_private.apply_transitions enqueues. Returns how many chats it released.';

grant execute on function presence.assign_chat(uuid, timestamptz) to presence_app;
