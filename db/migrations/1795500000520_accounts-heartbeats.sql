-- Up Migration

-- One database call per beat in the standalone server. A beat was two calls: presence_accounts.session_users (who
-- holds the cookie's sign-in), then presence.heartbeats. presence_accounts.heartbeats verifies the sign-ins and beats
-- for the valid ones in one call. The accounts wrap the core: presence.heartbeats is called as it is and knows
-- nothing of accounts. PostgreSQL still decides on every beat whether its sign-in is valid, by the rule of
-- session_users (not revoked, not expired by the database clock).

create function presence_accounts.heartbeats(p_token_hashes bytea[], p_session_ids text[], p_activities text[])
returns table (ord integer, outcome text, status text, last_seen timestamptz, heartbeat_interval_s integer)
language plpgsql volatile security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
  v_ords integer[];
  v_tenants presence.tenant_key[];
  v_agents presence.agent_key[];
  v_tabs text[];
  v_activities text[];
  v_sign_ins text[];
  v_watchers integer[];
  v_statuses text[] := '{}';
  v_last_seens timestamptz[] := '{}';
  v_intervals integer[] := '{}';
begin
  if cardinality(p_session_ids) is distinct from cardinality(p_token_hashes)
     or cardinality(p_activities) is distinct from cardinality(p_token_hashes) then
    raise exception 'the arrays of a heartbeat batch must have one element per beat, got % token hashes, % tabs, % activities',
      cardinality(p_token_hashes), cardinality(p_session_ids), cardinality(p_activities)
      using errcode = 'PRUSR';
  end if;

  -- Lock order: the sign-ins first, then presence.heartbeats takes the agents (in key order) and their tabs, as
  -- logout and revoke_sessions take the sign-in before presence.end_sign_in takes the agent. FOR SHARE holds each
  -- valid sign-in until commit, so a beat and a sign-out of the same sign-in never interleave: a sign-out that
  -- revoked first makes this beat wait and find it revoked (unauthenticated); a beat that locked first lands, and the
  -- sign-out then waits for it and ends the tab it wrote. Without the lock, a beat that read the sign-in before a
  -- sign-out committed could write its tab after the sign-out ended the others: a tab alive after sign-out.
  -- A beat without a tab id is the sign-in's unnamed tab ('unnamed:' and the sign-in's id, as the router names it).
  select coalesce(array_agg(x.ord order by x.ord) filter (where x.agent_id is not null), '{}'),
         coalesce(array_agg(x.tenant_id order by x.ord) filter (where x.agent_id is not null), '{}'),
         coalesce(array_agg(x.agent_id order by x.ord) filter (where x.agent_id is not null), '{}'),
         coalesce(array_agg(x.tab order by x.ord) filter (where x.agent_id is not null), '{}'),
         coalesce(array_agg(x.activity order by x.ord) filter (where x.agent_id is not null), '{}'),
         coalesce(array_agg(x.sign_in order by x.ord) filter (where x.agent_id is not null), '{}'),
         coalesce(array_agg(x.ord) filter (where x.agent_id is null), '{}')
    into v_ords, v_tenants, v_agents, v_tabs, v_activities, v_sign_ins, v_watchers
    from (select b.ord::integer as ord, u.tenant_id, u.agent_id,
                 coalesce(b.session_id, 'unnamed:' || s.id::text) as tab, b.activity, s.id::text as sign_in
            from unnest(p_token_hashes, p_session_ids, p_activities) with ordinality as b(token_hash, session_id, activity, ord)
            join presence_accounts.auth_sessions s
              on s.token_hash = b.token_hash and s.revoked_at is null and s.expires_at > now()
            join presence_accounts.users u on u.id = s.user_id
           order by s.token_hash
             for share of s) x;

  if cardinality(v_agents) > 0 then
    select array_agg(h.status order by h.ord), array_agg(h.last_seen order by h.ord),
           array_agg(h.heartbeat_interval_s order by h.ord)
      into v_statuses, v_last_seens, v_intervals
      from presence.heartbeats(v_tenants, v_agents, v_tabs, v_activities, v_sign_ins) h;
  end if;

  return query
  select r.ord::integer,
         case when bt.ord is not null then 'beat' when r.ord = any (v_watchers) then 'not_agent' else 'unauthenticated' end,
         bt.status, bt.last_seen, bt.heartbeat_interval_s
    from generate_series(1, cardinality(p_token_hashes)) as r(ord)
    left join unnest(v_ords, v_statuses, v_last_seens, v_intervals) as bt(ord, status, last_seen, heartbeat_interval_s)
      on bt.ord = r.ord
   order by r.ord;
end
$$;
comment on function presence_accounts.heartbeats(bytea[], text[], text[]) is 'The standalone server''s beats in one call: for each cookie token''s SHA-256, the sign-in is verified as session_users does (not revoked, not expired) and held until commit, and the valid ones beat through presence.heartbeats as their user''s agent, tab p_session_ids (null: the sign-in''s unnamed tab) with p_activities. One row per beat in order: outcome beat (with status, last_seen, heartbeat_interval_s), not_agent (a user without an agent; nothing written) or unauthenticated (unknown, expired or revoked sign-in). PRUSR for arrays of different lengths; presence.heartbeats'' errors otherwise.';

grant execute on function presence_accounts.heartbeats(bytea[], text[], text[]) to presence_app;
