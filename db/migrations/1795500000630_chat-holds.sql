-- Up Migration

-- Occupancy needs how many chats each agent held, and when: presence_private.chats keeps only the present (a closed
-- or released chat forgets its agent). presence_private.chat_holds keeps every hold of a chat by an agent, from its
-- assignment to its close or release, written by a trigger on the chats table so that every writer of chats
-- (assign_chat, close_chat, the releases, a platform's own code) is covered without changing it.

create table presence_private.chat_holds (
  chat_id uuid not null,
  tenant_id presence.tenant_key not null,
  agent_id presence.agent_key not null,
  held_from timestamptz not null,
  held_until timestamptz,
  primary key (chat_id, held_from),
  constraint chat_holds_ordered check (held_until >= held_from)
);
comment on table presence_private.chat_holds is 'Every hold of a chat by an agent: from its assignment (held_from) to its close or release (held_until, null while held). Written by the trigger chats_record_holds; read by presence.daily_occupancy.';
create index chat_holds_tenant_agent_idx on presence_private.chat_holds (tenant_id, agent_id, held_from);

create function presence_private.record_chat_holds()
returns trigger
language plpgsql volatile
set search_path = ''
as $$
begin
  -- The chat row is locked by the statement that fired this; its hold rows follow it (after the agent and its tabs
  -- in the lock order, as the chat itself).
  if tg_op = 'UPDATE' and old.status = 'assigned'
     and (new.status <> 'assigned' or new.agent_id is distinct from old.agent_id) then
    update presence_private.chat_holds h set held_until = greatest(now(), h.held_from)
     where h.chat_id = old.id and h.held_until is null;
  end if;
  if new.status = 'assigned' and new.agent_id is not null
     and (tg_op = 'INSERT' or old.status <> 'assigned' or new.agent_id is distinct from old.agent_id) then
    insert into presence_private.chat_holds (chat_id, tenant_id, agent_id, held_from)
    values (new.id, new.tenant_id, new.agent_id, coalesce(new.assigned_at, now()))
    on conflict do nothing;
  end if;
  return null;
end
$$;
comment on function presence_private.record_chat_holds() is 'Trigger of presence_private.chats: opens a hold when a chat is assigned to an agent and closes it when the chat leaves that agent (closed, released, reassigned).';

create trigger chats_record_holds
  after insert or update of status, agent_id on presence_private.chats
  for each row execute function presence_private.record_chat_holds();

-- The chats held now, so that an upgraded database starts with its present holds.
insert into presence_private.chat_holds (chat_id, tenant_id, agent_id, held_from)
select c.id, c.tenant_id, c.agent_id, coalesce(c.assigned_at, now())
  from presence_private.chats c
 where c.status = 'assigned' and c.agent_id is not null;
