-- Up Migration

-- Live streams that cost what changes. A server's stream hub re-read each watched tenant's whole snapshot every
-- heartbeat interval, so that an agent gone silent would read offline on the consoles before any sweep: at capacity
-- ~200 snapshot queries a second while nothing changed (docs/benchmarks.md). Transitions reach the hub as events
-- (presence.status_changes_after); what no event announces is a timeout the liveness rule makes at read time. This
-- function reports exactly those, at the tenant's next liveness deadline, which it also computes: the hub asks it
-- only then, for every tenant due in one call, and holds a timer for the answer's next_check_at. Node never decides
-- that an agent is offline; it only asks at a moment the database named.

create function presence.timeouts_due(p_tenant_ids presence.tenant_key[], p_after timestamptz[])
returns table(tenant_id text, checked_at timestamptz, next_check_at timestamptz, timeouts json)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  -- A timeout is reported once it is this old. A beat that began before an agent's offline moment keeps the agent
  -- live (its now() is its start) without any event; it takes its agent's lock at once, and the lock below waits
  -- for it, so an agent a beat already under way keeps live is never reported offline.
  v_settle constant interval := interval '100 milliseconds';
  v_settled constant timestamptz := now() - v_settle;
begin
  if coalesce(cardinality(p_tenant_ids), 0) <> coalesce(cardinality(p_after), 0)
     or coalesce(cardinality(p_tenant_ids), 0) > 100000 then
    raise exception 'tenant ids and after must be arrays of one length, at most 100000, got % and %',
      coalesce(cardinality(p_tenant_ids), 0), coalesce(cardinality(p_after), 0) using errcode = 'PRUSR';
  end if;

  return query
  with asked as (
    select k.tenant_id, coalesce(k.after, '-infinity'::timestamptz) as after
      from unnest(p_tenant_ids, p_after) k(tenant_id, after)
  ), due as (
    -- Agents not recorded offline whose offline moment passed since the tenant was last asked. Lock order: the
    -- agents only, in key order; FOR SHARE re-checks each on its newest row version once a beat holding it commits.
    select a.agent_id as id, a.tenant_id, a.status as from_status, a.chosen_status,
           presence.timeout_at(a.last_seen, s.offline_after_s, a.status_since) as at
      from presence_private.agent_state a
      join asked k on k.tenant_id = a.tenant_id
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.status <> 'offline'
       and presence.offline_at(a.last_seen, s.offline_after_s) > k.after
       and presence.offline_at(a.last_seen, s.offline_after_s) <= v_settled
     order by a.agent_id
       for share of a
  ), live as (
    -- The earliest moment another agent of the tenant reads offline unless it beats again (agent_state_online_idx).
    select a.tenant_id, min(presence.offline_at(a.last_seen, s.offline_after_s)) as offline_at
      from presence_private.agent_state a
      join asked k on k.tenant_id = a.tenant_id
      join presence.settings s on s.tenant_id = a.tenant_id
     where a.status <> 'offline'
       and presence.offline_at(a.last_seen, s.offline_after_s) > v_settled
     group by a.tenant_id
  )
  select k.tenant_id::text,
         greatest(k.after, v_settled),
         l.offline_at + v_settle,
         coalesce((select json_agg(json_build_object(
                     'tenant', d.tenant_id::text, 'agent', d.id::text, 'from', d.from_status, 'to', 'offline',
                     'chosen', d.chosen_status, 'reason', 'timeout', 'at', d.at) order by d.at, d.id)
                     from due d where d.tenant_id = k.tenant_id), '[]'::json)
    from asked k
    join presence.settings s on s.tenant_id = k.tenant_id
    left join live l on l.tenant_id = k.tenant_id;
end
$$;
comment on function presence.timeouts_due(presence.tenant_key[], timestamptz[]) is 'What a server''s stream hub asks at a tenant''s liveness deadline: for each tenant named (one row each, unknown tenants left out), the timeouts readers began to see after p_after (the checked_at of the tenant''s previous answer; null: every one) that no sweep has recorded yet, shaped as status_changes_after''s events, with checked_at to pass next and next_check_at, when another of its agents reads offline unless it beats again (null: none is live). The clock is now(); p_after only bounds which of its decisions are listed. PRUSR for arrays of different lengths.';
grant execute on function presence.timeouts_due(presence.tenant_key[], timestamptz[]) to presence_app;
