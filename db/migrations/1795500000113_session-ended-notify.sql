-- Up Migration

-- A sign-in session that ends (sign-out, or revoked by an operator) is announced on channel
-- presence_session_ended with the session's id, so that the server closes the live streams
-- (GET /api/agents/stream) opened with it at once instead of when they next reconnect.

create or replace function presence.logout(p_token_hash bytea, p_session_id text default null, p_now timestamptz default now())
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_session record;
begin
  update presence_private.auth_sessions s set revoked_at = p_now
    from presence_private.users u
   where s.token_hash = p_token_hash and u.id = s.user_id and s.revoked_at is null and s.expires_at > p_now
  returning s.id, u.tenant_id, u.agent_id into v_session;
  if not found then
    return false;
  end if;
  -- Delivered on commit only.
  perform pg_notify('presence_session_ended', v_session.id::text);
  if v_session.agent_id is not null then
    -- Forget every tab this sign-in started (and the one the client names), then let end_session decide: with no
    -- other live tab of the agent (another browser, another sign-in) it goes offline now, reason logout.
    delete from presence_private.sessions ps
     where ps.agent_id = v_session.agent_id
       and (ps.session_id = p_session_id
            or ps.session_id in (select t.session_id from presence_private.auth_session_tabs t
                                  where t.auth_session_id = v_session.id));
    perform presence.end_session(v_session.tenant_id, v_session.agent_id,
                                 coalesce(nullif(btrim(p_session_id), ''), v_session.id::text), 'logout');
  end if;
  return true;
end
$$;
comment on function presence.logout(bytea, text, timestamptz) is 'Signs out: revokes the sign-in session (announced on channel presence_session_ended) and ends every presence session (browser tab) it started (reason logout); the agent is offline at once unless another live session of it remains. Returns false when the session was already invalid.';

create or replace function presence.revoke_sessions(p_user_id uuid, p_now timestamptz default now())
returns integer
language sql volatile security definer
set search_path = ''
as $$
  with revoked as (
    update presence_private.auth_sessions s set revoked_at = p_now
     where s.user_id = p_user_id and s.revoked_at is null and s.expires_at > p_now
    returning s.id
  )
  select count(pg_notify('presence_session_ended', r.id::text))::integer from revoked r
$$;
comment on function presence.revoke_sessions(uuid, timestamptz) is 'Signs a user out everywhere: revokes all of the user''s live sign-in sessions, each announced on channel presence_session_ended. Returns how many it revoked.';
