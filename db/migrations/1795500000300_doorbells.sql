-- Up Migration

-- Notifications are doorbells, never facts. PostgreSQL has no privilege on NOTIFY or LISTEN: any role that can
-- connect to the database can send on presence_status and presence_sign_in_ended, and read them. So the payloads
-- now carry nothing (an empty string), and what a live stream shows, what ends it and what a metric counts come
-- from rows only presence's functions write: presence.status_events (read through presence.status_changes_after)
-- and presence_private.ended_sign_ins (read through presence.sign_ins_ended).

-- The status frame says what the agent had chosen at the transition: kept with the event, so the stream reads it
-- from the row. Null for events written before this migration.
alter table presence.status_events add column chosen_status text;
comment on column presence.status_events.chosen_status is 'The agent''s chosen status when the transition happened (null for events recorded before it was kept).';

-- Sign-outs, so that a server can ask whether the sign-in of a live stream has ended. A row lives a day: a server
-- checks the sign-ins of its open streams on every doorbell of presence_sign_in_ended and again after its LISTEN
-- connection comes back, so a row is needed only as long as such a connection can be away (seconds to minutes in an
-- outage); a day leaves room for a long one and keeps the table at one day of sign-outs (each sign-out removes up to
-- 16 rows older than that: no job needed).
create table presence_private.ended_sign_ins (
  tenant_id presence.tenant_key not null,
  sign_in text not null,
  ended_at timestamptz not null,
  primary key (tenant_id, sign_in)
);
create index ended_sign_ins_ended_at_idx on presence_private.ended_sign_ins (ended_at);
comment on table presence_private.ended_sign_ins is 'Sign-ins ended by presence.end_sign_in in the last day (tenant, sign-in id, when), read by presence.sign_ins_ended so that servers end exactly the live streams of ended sign-ins.';

-- Transitions: the one code path, now a doorbell ----------------------------------------------------------------

create or replace function presence_private.apply_transitions(p_changes presence_private.transition[])
returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
  v_jobs integer;
begin
  -- Callers hold the row locks of the agents they pass (presence_private.lock_agent, FOR UPDATE or an UPDATE), so
  -- from_status is current; the status = from_status guard keeps a stale request from rewriting history.
  -- A transition is dated at its transaction's start (now()) or when its agent went offline, never before the
  -- agent's previous transition: a caller that waited for the agent's lock started before the transaction it
  -- waited for, whose transition is the earlier one. Readers order events by at: in the storm test
  -- (tests/db/storm.test.ts) 281 of 5,270 events were dated before the event they follow, breaking the chain.
  --
  -- The UPDATE comes before the INSERT, so the transaction has its id before it takes an event id:
  -- presence.status_changes_after relies on that to know when an event id it has not seen can no longer commit.
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
comment on function presence_private.apply_transitions(presence_private.transition[]) is 'The only writer of human_agents.status: applies the transitions (each at its own time), appends them to presence.status_events (with the agent''s chosen status), rings channel presence_status on commit with an empty payload (listeners read the events through presence.status_changes_after, never from the notification), and for each agent going offline with active chats enqueues graphile-worker job release_chats (job key release_chats:<agent>, run release_chats_after_s after it went offline). Returns how many transitions happened.';

create or replace function presence.end_sign_in(p_tenant_id presence.tenant_key, p_agent_id presence.agent_key, p_sign_in text)
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
  if p_tenant_id is null then
    raise exception 'tenant id must not be null' using errcode = 'PRTEN';
  end if;
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
  -- The record servers check before ending a stream; a day is kept (see the table's comment), older rows go a few
  -- at a time with each sign-out.
  insert into presence_private.ended_sign_ins (tenant_id, sign_in, ended_at)
  values (p_tenant_id, p_sign_in, now())
  on conflict (tenant_id, sign_in) do update set ended_at = excluded.ended_at;
  delete from presence_private.ended_sign_ins e
   where e.ctid = any(array(select o.ctid from presence_private.ended_sign_ins o
                             where o.ended_at < now() - interval '1 day'
                             order by o.ended_at limit 16));
  -- A doorbell, delivered on commit only, with nothing in it: no sign-in id goes to whoever listens.
  perform pg_notify('presence_sign_in_ended', '');
  return v_status;
end
$$;
comment on function presence.end_sign_in(presence.tenant_key, presence.agent_key, text) is 'Sign-out: ends every tab that beat under sign-in p_sign_in (reason logout); the agent is offline at once unless another live tab of it remains (another browser, another sign-in). p_agent_id null for a user who is not an agent. Records the ended sign-in for a day (presence.sign_ins_ended reads it) and rings channel presence_sign_in_ended on commit with an empty payload, so that servers end the live streams opened under it. Returns the agent''s status (null without an agent).';

-- What the servers read on a doorbell ------------------------------------------------------------------------------

create function presence.status_changes_after(
  p_after bigint,
  p_tenant_ids presence.tenant_key[],
  p_pending_ids bigint[],
  p_pending_xids bigint[],
  p_limit integer,
  out changes json,
  out next_after bigint,
  out more boolean,
  out pending_ids bigint[],
  out pending_xids bigint[],
  out reasons text[],
  out reason_counts integer[]
)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_last bigint;
  v_xid xid8;
  v_end bigint;
begin
  if p_after is not null and p_after < 0 then
    raise exception 'after must be null or an event id (>= 0), got %', p_after using errcode = 'PRUSR';
  end if;
  if p_limit is null or p_limit < 1 or p_limit > 10000 then
    raise exception 'limit must be between 1 and 10000, got %', coalesce(p_limit::text, 'null') using errcode = 'PRUSR';
  end if;
  if coalesce(cardinality(p_tenant_ids), 0) > 100000 then
    raise exception 'at most 100000 tenants, got %', cardinality(p_tenant_ids) using errcode = 'PRUSR';
  end if;
  if coalesce(cardinality(p_pending_ids), 0) <> coalesce(cardinality(p_pending_xids), 0)
     or coalesce(cardinality(p_pending_ids), 0) > 100000 then
    raise exception 'pending ids and xids must be arrays of one length, at most 100000, got % and %',
      coalesce(cardinality(p_pending_ids), 0), coalesce(cardinality(p_pending_xids), 0) using errcode = 'PRUSR';
  end if;

  -- 1. Every event id taken so far, committed, rolled back or still in flight, is at most v_last.
  v_last := coalesce(pg_sequence_last_value(pg_get_serial_sequence('presence.status_events', 'id')::regclass), 0);
  if p_after is null then
    -- A new reader starts from here: what happened before it is in the snapshot its streams read first.
    changes := '[]'::json;
    next_after := v_last;
    more := false;
    pending_ids := '{}';
    pending_xids := '{}';
    reasons := '{}';
    reason_counts := '{}';
    return;
  end if;
  -- 2. A transaction id above that of every writer that took one of those ids (apply_transitions takes its
  -- transaction id before its event ids). Once no transaction at or below it is running, an id it has not seen
  -- in the table never will be: rolled back.
  v_xid := pg_current_xact_id();
  v_end := least(v_last, p_after + p_limit);

  -- 3. One statement, so one snapshot: the ids after p_after (at most p_limit of them), the ids seen missing
  -- before and not yet known rolled back, and which of those are still missing.
  with snap as (
    select pg_snapshot_xmin(pg_current_snapshot()) as xmin
  ), pending as (
    select p.id, p.xid from unnest(p_pending_ids, p_pending_xids) p(id, xid) where p.id <= p_after
  ), found as (
    select e.* from presence.status_events e where e.id > p_after and e.id <= v_end
    union all
    select e.* from presence.status_events e where e.id in (select p.id from pending p)
  ), missing as (
    -- in the new range: taken, not visible now
    select g.id, v_xid::text::bigint as xid
      from generate_series(p_after + 1, v_end) g(id)
     where not exists (select 1 from found f where f.id = g.id)
    union all
    -- pending from earlier reads: still not visible, and the writer may still be running
    select p.id, p.xid from pending p, snap s
     where not exists (select 1 from found f where f.id = p.id)
       and s.xmin <= p.xid::text::xid8
  )
  select coalesce((select json_agg(json_build_object(
                     'id', f.id, 'tenant', f.tenant_id::text, 'agent', f.agent_id::text, 'from', f.from_status,
                     'to', f.to_status, 'chosen', f.chosen_status, 'reason', f.reason, 'at', f.at) order by f.id)
                     from found f where f.tenant_id = any(p_tenant_ids)), '[]'::json),
         array(select m.id from missing m order by m.id),
         array(select m.xid from missing m order by m.id),
         array(select r.reason from found r group by r.reason order by r.reason),
         array(select count(*)::integer from found r group by r.reason order by r.reason)
    into changes, pending_ids, pending_xids, reasons, reason_counts;
  next_after := v_end;
  more := v_end < v_last;
end
$$;
comment on function presence.status_changes_after(bigint, presence.tenant_key[], bigint[], bigint[], integer) is 'What a server reads when channel presence_status rings: the status events after event id p_after (at most p_limit ids on), of the tenants p_tenant_ids only, as a JSON array of {id, tenant, agent, from, to, chosen, reason, at}; plus how many events of every tenant there were by reason (for metrics), the id to pass next (next_after; more says whether more are waiting), and the ids not yet visible whose transaction may still commit (pending_ids, with pending_xids), which the caller passes back so that an event committed late is still read once. p_after null starts a reader at the newest id. No clock argument; reads only, though it takes a transaction id.';

create function presence.sign_ins_ended(p_tenant_ids presence.tenant_key[], p_sign_ins text[])
returns table(tenant_id text, sign_in text)
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if coalesce(cardinality(p_tenant_ids), 0) <> coalesce(cardinality(p_sign_ins), 0)
     or coalesce(cardinality(p_sign_ins), 0) > 100000 then
    raise exception 'tenant ids and sign-ins must be arrays of one length, at most 100000, got % and %',
      coalesce(cardinality(p_tenant_ids), 0), coalesce(cardinality(p_sign_ins), 0) using errcode = 'PRUSR';
  end if;
  return query
    select e.tenant_id::text, e.sign_in
      from unnest(p_tenant_ids, p_sign_ins) q(tenant_id, sign_in)
      join presence_private.ended_sign_ins e on e.tenant_id = q.tenant_id and e.sign_in = q.sign_in;
end
$$;
comment on function presence.sign_ins_ended(presence.tenant_key[], text[]) is 'Which of the given (tenant, sign-in) pairs presence.end_sign_in ended in the last day: what a server checks when channel presence_sign_in_ended rings, before it ends the live streams opened under them. Pairs are matched together, so a caller learns nothing about another tenant''s sign-ins.';

revoke all on function presence.status_changes_after(bigint, presence.tenant_key[], bigint[], bigint[], integer),
  presence.sign_ins_ended(presence.tenant_key[], text[]) from public;
grant execute on function presence.status_changes_after(bigint, presence.tenant_key[], bigint[], bigint[], integer),
  presence.sign_ins_ended(presence.tenant_key[], text[]) to presence_app;
