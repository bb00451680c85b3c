-- Up Migration

-- presence_private.apply_transitions as in 1795500000111_chats.sql, except that graphile_worker.add_jobs is called
-- only when some agent going offline has chats to release (see the comment on `enqueued`).

create or replace function presence_private.apply_transitions(p_changes presence_private.status_change[], p_now timestamptz)
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
