-- Up Migration

-- The team at a glance, for the console and GET {base}/summary: agents per effective status (derived at read time,
-- like every reader), free chat capacity among available agents, the queue's length and its oldest chat's wait.
-- For many tenants in one call, so that a process serving the live streams of many tenants asks once a second.

create function presence.tenant_summaries(p_tenant_ids presence.tenant_key[])
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
         '[]'::json,
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
comment on function presence.tenant_summaries(presence.tenant_key[]) is 'One row per tenant given: agents per effective status (json: available, away, dnd, offline), agents per tenant reason of their chosen status (json array of {id, label, status, count}), free capacity (the sum of max_chats - active_chats among available agents), queued chats and the oldest queued chat''s wait in seconds (null when none waits), as of now.';
grant execute on function presence.tenant_summaries(presence.tenant_key[]) to presence_app;
