-- Up Migration

-- presence.session_user also answers how long the sign-in session has left, by the database clock, so that the
-- server can end a live stream (GET /api/agents/stream) when its session runs out, as it already does when the
-- session is signed out. Seconds left rather than a timestamp: the server's own clock never enters into it.

alter type presence.session_user_row add attribute expires_in_s double precision;
comment on type presence.session_user_row is 'Who holds a sign-in session: user, tenant, agent (null for a supervisor) with its effective and chosen status, the tenant''s timing, and the seconds until the session expires.';

create or replace function presence.session_user(p_token_hash bytea, p_now timestamptz default now())
returns setof presence.session_user_row
language sql stable security definer
set search_path = ''
as $$
  select s.id, u.id, u.email, u.name, u.role, t.id, t.name, a.id,
         presence.effective_status(a.status, a.last_seen, st.offline_after_s, p_now), a.chosen_status,
         st.heartbeat_interval_s, st.offline_after_s, st.away_after_s,
         extract(epoch from s.expires_at - p_now)::double precision
    from presence_private.auth_sessions s
    join presence_private.users u on u.id = s.user_id
    join public.tenants t on t.id = u.tenant_id
    join presence.settings st on st.tenant_id = u.tenant_id
    left join public.human_agents a on a.id = u.agent_id
   where s.token_hash = p_token_hash and s.revoked_at is null and s.expires_at > p_now
$$;
comment on function presence.session_user(bytea, timestamptz) is 'Who holds this sign-in session (by SHA-256 of the cookie token): user, tenant, agent with its effective and chosen status (null for a supervisor), the tenant''s timing and the seconds until the session expires. No row when the session is unknown, expired or revoked.';
