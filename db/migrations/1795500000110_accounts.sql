-- Up Migration

-- Accounts and server-side sign-in sessions for the HTTP layer. The tables are private: the server (role
-- presence_app) reaches them only through the functions below. Project SQLSTATEs added here: PRAUT (no valid
-- sign-in session: 401), PRROL (the user's role does not allow it: 403), PRUSR (bad account input: 400).

create table presence_private.users (
  id uuid primary key default gen_random_uuid(),
  tenant_id presence.tenant_key not null references public.tenants on delete cascade,
  email text not null constraint users_email_shape check (email ~ '^[^@\s]+@[^@\s]+$'),
  name text not null constraint users_name_not_blank check (btrim(name) <> ''),
  role text not null constraint users_role_check check (role in ('support_staff', 'client_admin', 'supervisor')),
  agent_id presence.agent_key,
  password_hash text not null constraint users_password_hash_argon2 check (password_hash like '$argon2id$%'),
  created_at timestamptz not null default now(),
  foreign key (tenant_id, agent_id) references public.human_agents (tenant_id, id) on delete cascade,
  -- support_staff and client_admin users take chats: they are agents. A supervisor only watches.
  constraint users_agent_matches_role check ((agent_id is not null) = (role in ('support_staff', 'client_admin')))
);
-- Sign-in is by e-mail alone, so an address belongs to one user across all tenants.
create unique index users_email_key on presence_private.users (lower(email));
create unique index users_agent_id_key on presence_private.users (agent_id);
comment on table presence_private.users is 'People who sign in: a tenant, a role (support_staff and client_admin are agents, linked to their human_agents row; supervisor is not) and an argon2id password hash made by the server.';

-- Only a SHA-256 of the cookie token is stored: a leaked table does not sign anyone in.
create table presence_private.auth_sessions (
  token_hash bytea primary key constraint auth_sessions_token_hash_length check (length(token_hash) = 32),
  id uuid not null unique default gen_random_uuid(),
  user_id uuid not null references presence_private.users on delete cascade,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index auth_sessions_user_id_idx on presence_private.auth_sessions (user_id);
comment on table presence_private.auth_sessions is 'Server-side sign-in sessions, keyed by the SHA-256 of the cookie token; valid until expires_at unless revoked_at is set.';

-- Which browser tabs (presence session ids) each sign-in session started, so sign-out ends exactly those.
create table presence_private.auth_session_tabs (
  auth_session_id uuid not null references presence_private.auth_sessions (id) on delete cascade,
  session_id text not null,
  primary key (auth_session_id, session_id)
);
comment on table presence_private.auth_session_tabs is 'The presence session ids (browser tabs) that beat under each sign-in session.';

-- Administration (owner connection: the CLI, the seed, tests) -----------------------------------------------------

create function presence.create_tenant(p_name text)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_id uuid;
begin
  if p_name is null or btrim(p_name) = '' then
    raise exception 'tenant name must be a non-empty string, got %', coalesce(quote_literal(p_name), 'null')
      using errcode = 'PRUSR';
  end if;
  insert into public.tenants (name) values (btrim(p_name)) returning id into v_id;
  return v_id;
end
$$;
comment on function presence.create_tenant(text) is 'Creates a tenant with the default presence settings; returns its id. Raises PRUSR for a blank name.';

create function presence.create_account(
  p_tenant_id uuid,
  p_email text,
  p_name text,
  p_role text,
  p_password_hash text,
  p_max_chats integer default 5
)
returns table (user_id uuid, agent_id uuid)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_agent_id uuid;
  v_user_id uuid;
begin
  if not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;
  if p_role is null or p_role not in ('support_staff', 'client_admin', 'supervisor') then
    raise exception 'unknown role %: expected one of support_staff, client_admin, supervisor',
      coalesce(quote_literal(p_role), 'null') using errcode = 'PRUSR';
  end if;
  if p_email is null or p_email !~ '^[^@\s]+@[^@\s]+$' then
    raise exception 'not an e-mail address: %', coalesce(quote_literal(p_email), 'null') using errcode = 'PRUSR';
  end if;
  if p_name is null or btrim(p_name) = '' then
    raise exception 'name must be a non-empty string, got %', coalesce(quote_literal(p_name), 'null')
      using errcode = 'PRUSR';
  end if;
  if p_max_chats is null or p_max_chats not between 0 and 1000 then
    raise exception 'max_chats must be between 0 and 1000, got %', coalesce(p_max_chats::text, 'null')
      using errcode = 'PRUSR';
  end if;
  if exists (select 1 from presence_private.users u where lower(u.email) = lower(p_email)) then
    raise exception 'an account with e-mail % already exists', p_email using errcode = 'PRUSR';
  end if;

  if p_role <> 'supervisor' then
    insert into public.human_agents (tenant_id, name, email, max_chats)
    values (p_tenant_id, btrim(p_name), p_email, p_max_chats)
    returning id into v_agent_id;
  end if;
  insert into presence_private.users (tenant_id, email, name, role, agent_id, password_hash)
  values (p_tenant_id, p_email, btrim(p_name), p_role, v_agent_id, p_password_hash)
  returning id into v_user_id;
  return query select v_user_id, v_agent_id;
end
$$;
comment on function presence.create_account(uuid, text, text, text, text, integer) is 'Creates a user of a tenant with an argon2id password hash made by the caller. Roles support_staff and client_admin also create the user''s agent (human_agents row, with max_chats); supervisor does not. Raises PRTEN for an unknown tenant, PRUSR naming a bad or taken e-mail, name, role or max_chats.';

create function presence.revoke_sessions(p_user_id uuid, p_now timestamptz default now())
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

-- The server's API (role presence_app) ----------------------------------------------------------------------------

create function presence.login_candidate(p_email text)
returns table (user_id uuid, password_hash text)
language sql stable security definer
set search_path = ''
as $$
  select u.id, u.password_hash from presence_private.users u where lower(u.email) = lower(btrim(p_email))
$$;
comment on function presence.login_candidate(text) is 'The user with this e-mail (case-insensitive) and its password hash, for the server to verify a sign-in with argon2; no row for an unknown address.';

create type presence.session_user_row as (
  auth_session_id uuid,
  user_id uuid,
  email text,
  name text,
  role text,
  tenant_id presence.tenant_key,
  tenant_name text,
  agent_id presence.agent_key,
  agent_status text,
  agent_chosen_status text,
  heartbeat_interval_s integer,
  offline_after_s integer,
  away_after_s integer,
  -- Seconds rather than a timestamp: the server ends a live stream when its session runs out without its own
  -- clock entering into it.
  expires_in_s double precision
);
comment on type presence.session_user_row is 'Who holds a sign-in session: user, tenant, agent (null for a supervisor) with its effective and chosen status, the tenant''s timing, and the seconds until the session expires.';

create function presence.session_user(p_token_hash bytea, p_now timestamptz default now())
returns setof presence.session_user_row
language sql stable security definer
set search_path = ''
as $$
  select s.id, u.id, u.email, u.name, u.role, t.id, t.name, a.id,
         presence.effective_status(a.status::text, a.last_seen, st.offline_after_s, p_now), a.chosen_status,
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

create function presence.start_session(
  p_user_id uuid,
  p_token_hash bytea,
  p_ttl_s integer,
  p_now timestamptz default now()
)
returns setof presence.session_user_row
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_ttl_s is null or p_ttl_s < 1 then
    raise exception 'session lifetime must be at least 1 second, got %', coalesce(p_ttl_s::text, 'null')
      using errcode = 'PRUSR';
  end if;
  -- Expired sessions of this user go when it signs in again: the table holds live sessions and recent ones.
  delete from presence_private.auth_sessions s
   where s.user_id = p_user_id and s.expires_at < p_now - interval '1 day';
  insert into presence_private.auth_sessions (token_hash, user_id, created_at, expires_at)
  select p_token_hash, u.id, p_now, p_now + p_ttl_s * interval '1 second'
    from presence_private.users u where u.id = p_user_id;
  return query select * from presence.session_user(p_token_hash, p_now);
end
$$;
comment on function presence.start_session(uuid, bytea, integer, timestamptz) is 'Starts a sign-in session for a user whose password the server verified: stores the SHA-256 of the cookie token, valid for p_ttl_s seconds. Returns the session''s user as presence.session_user does (no row for an unknown user).';

-- The common beat, set-based. Nearly every beat is an active beat of a tab the agent already has, by an agent
-- whose status is already what that beat would make it: it only moves last_seen (agent and tab).
-- presence.heartbeat_for_session applies those in two statements for the whole batch; every other beat (new tab,
-- idle, a status to change, bad input) goes through presence.heartbeat one by one. Measured on one connection,
-- batches of 50 signed-in agents (npm run bench, 2 cores): 82 us per beat with presence.heartbeat for all, 46 us
-- with the set-based path; through the HTTP stack (50 connections) heartbeat went from 0.80 x to 1.0 x the no-op
-- ceiling.

create type presence_private.authed_beat as (
  ord integer,
  auth_session_id uuid,
  tenant_id uuid,
  agent_id uuid,
  session_id text,
  activity text
);
comment on type presence_private.authed_beat is 'One authenticated request of a heartbeat batch (presence.heartbeat_for_session): its position, sign-in session, tenant, agent (null for a supervisor), tab and activity.';

-- Generic plans (plan_cache_mode below) for the statements of the batched heartbeat. Their plans do not depend
-- on the batch (index lookups by agent and tab, whatever the array length), but with array parameters
-- PostgreSQL kept planning each statement afresh on every call. Measured on one connection (npm run bench
-- machine, 2 cores): a call with one beat 441 -> 327-351 us (best of ~5000 calls); about 5 us per beat at the
-- ~20 beats per call seen at 50 connections.
create function presence.heartbeat_for_session(
  p_token_hashes bytea[],
  p_session_ids text[],
  p_activities text[],
  p_now timestamptz default now()
)
returns table (ord integer, outcome text, status text, last_seen timestamptz, heartbeat_interval_s integer)
language plpgsql volatile security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
  v_authed presence_private.authed_beat[];
  v_fast_ords integer[];
  v_fast_statuses text[];
begin
  -- Authentication for the whole batch (element i of each array is request i), in agent id order: agents are
  -- beaten in that order so that two batches touching the same agents take their row locks in the same order.
  select coalesce(array_agg((r.ord, s.id, u.tenant_id, u.agent_id, r.session_id, r.activity)::presence_private.authed_beat
                            order by u.agent_id, r.ord), '{}')
    into v_authed
    from unnest(p_token_hashes, p_session_ids, p_activities) with ordinality as r(token_hash, session_id, activity, ord)
    join presence_private.auth_sessions s on s.token_hash = r.token_hash and s.revoked_at is null and s.expires_at > p_now
    join presence_private.users u on u.id = s.user_id;

  insert into presence_private.auth_session_tabs (auth_session_id, session_id)
  select distinct a.auth_session_id, a.session_id from unnest(v_authed) a where a.agent_id is not null
  on conflict do nothing;

  -- The fast path. The status condition is in the UPDATE's WHERE, so it is re-checked on the newest row version
  -- under the row lock: an agent that a sweep, a sign-out or a status change got to first falls through to
  -- presence.heartbeat below. A tab row that exists was validated by the beat that created it.
  with fast as (
    select distinct on (a.agent_id) a.agent_id, a.tenant_id
      from unnest(v_authed) a
      join presence_private.sessions s on s.agent_id = a.agent_id and s.session_id = a.session_id
     where a.activity = 'active'
     order by a.agent_id
  ), agents as (
    update public.human_agents h
       set last_seen = now()
      from fast f
     where h.id = f.agent_id and h.tenant_id = f.tenant_id
       -- presence.heartbeat takes an active beat to the chosen status; an agent already there only moves last_seen.
       and h.status = h.chosen_status
    returning h.id, h.status
  ), tabs as (
    update presence_private.sessions s
       set last_seen = now(), activity = 'active'
      from unnest(v_authed) a
      join agents g on g.id = a.agent_id
     where s.agent_id = a.agent_id and s.session_id = a.session_id and a.activity = 'active'
    returning s.agent_id, s.session_id
  )
  select coalesce(array_agg(a.ord), '{}'), coalesce(array_agg(g.status), '{}')
    into v_fast_ords, v_fast_statuses
    from unnest(v_authed) a
    join agents g on g.id = a.agent_id
    join tabs t on t.agent_id = a.agent_id and t.session_id = a.session_id;

  -- Asynchronous commit when the batch only moved last_seen (every beat took the fast path): no new tab, no
  -- transition, no event, no notification in this transaction. A crash then loses at most the last ~0.6 s
  -- (3 x wal_writer_delay) of last_seen moves, which the next beat (one interval later) writes again; an agent
  -- is only ever offline after two missed beats (offline_after_s >= 2 x heartbeat_interval_s). Everything else
  -- stays durable. Measured on one connection: a call with one beat 671 -> 491 us, with 50 beats 2.30 -> 2.16 ms
  -- (the WAL flush, ~150 us on this disk, leaves the request's path).
  if cardinality(v_fast_ords) > 0
     and cardinality(v_fast_ords) = (select count(*) from unnest(v_authed) a where a.agent_id is not null) then
    perform set_config('synchronous_commit', 'off', true);
  end if;

  return query
  with fast as (
    select f.ord, f.status from unnest(v_fast_ords, v_fast_statuses) f(ord, status)
  ), slow as (
    select a.ord, h.status, h.last_seen, h.heartbeat_interval_s
      from (select x.*
              from unnest(v_authed) x
              left join fast f on f.ord = x.ord
             where x.agent_id is not null and f.ord is null
             order by x.agent_id, x.ord) a
     cross join lateral presence.heartbeat(a.tenant_id, a.agent_id, a.session_id, a.activity) h
  )
  select r.ord::integer,
         case when a.ord is null then 'unauthenticated' when a.agent_id is null then 'not_agent' else 'beat' end,
         coalesce(f.status, sl.status),
         case when f.ord is not null then now() else sl.last_seen end,
         case when f.ord is not null then st.heartbeat_interval_s else sl.heartbeat_interval_s end
    from unnest(p_token_hashes) with ordinality as r(token_hash, ord)
    left join unnest(v_authed) a on a.ord = r.ord
    left join fast f on f.ord = r.ord
    left join slow sl on sl.ord = r.ord
    left join presence.settings st on f.ord is not null and st.tenant_id = a.tenant_id
   order by r.ord;
end
$$;
comment on function presence.heartbeat_for_session(bytea[], text[], text[], timestamptz) is 'Heartbeats of signed-in browsers, batched: request i is (p_token_hashes[i], p_session_ids[i], p_activities[i]). Validates each sign-in session and beats each agent exactly as presence.heartbeat does (a beat that only moves last_seen is applied set-based for the whole batch, with asynchronous commit when the whole batch is such beats); one row per request with outcome beat, not_agent (no write) or unauthenticated.';

create function presence.leave_for_session(p_token_hash bytea, p_session_id text, p_now timestamptz default now())
returns text
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_user record;
begin
  select u.tenant_id, u.agent_id into v_user
    from presence_private.auth_sessions s
    join presence_private.users u on u.id = s.user_id
   where s.token_hash = p_token_hash and s.revoked_at is null and s.expires_at > p_now;
  if not found then
    raise exception 'no valid sign-in session' using errcode = 'PRAUT';
  end if;
  if v_user.agent_id is null then
    return null;
  end if;
  return presence.end_session(v_user.tenant_id, v_user.agent_id, p_session_id, 'left');
end
$$;
comment on function presence.leave_for_session(bytea, text, timestamptz) is 'A browser tab said goodbye (pagehide beacon): ends that one presence session of the signed-in agent (reason left). Returns the agent''s status, null for a supervisor. Raises PRAUT without a valid sign-in session.';

-- A sign-in session that ends (sign-out, or revoked by an operator) is announced on channel
-- presence_session_ended with the session's id, so that the server closes the live streams
-- (GET /api/agents/stream) opened with it at once instead of when they next reconnect.
create function presence.logout(p_token_hash bytea, p_session_id text default null, p_now timestamptz default now())
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

create function presence.agent_history(
  p_tenant_id uuid,
  p_agent_id uuid,
  p_from timestamptz default null,
  p_to timestamptz default null
)
returns table (range_from timestamptz, range_to timestamptz, status_at_start text, events json)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_to constant timestamptz := coalesce(p_to, now());
  v_from constant timestamptz := coalesce(p_from, v_to - interval '24 hours');
begin
  if not exists (select 1 from public.human_agents a where a.id = p_agent_id and a.tenant_id = p_tenant_id) then
    perform presence_private.unknown_agent(p_tenant_id, p_agent_id);
  end if;
  if v_from >= v_to then
    raise exception 'history range must have from before to, got % to %', v_from, v_to using errcode = 'PRUSR';
  end if;
  return query
  select v_from, v_to,
         coalesce((select e.to_status from presence.status_events e
                    where e.agent_id = p_agent_id and e.tenant_id = p_tenant_id and e.at < v_from
                    order by e.at desc, e.id desc limit 1), 'offline'),
         coalesce((select json_agg(json_build_object('from', e.from_status, 'to', e.to_status, 'reason', e.reason,
                                                     'at', e.at) order by e.at, e.id)
                     from presence.status_events e
                    where e.agent_id = p_agent_id and e.tenant_id = p_tenant_id and e.at >= v_from and e.at < v_to),
                  '[]'::json);
end
$$;
comment on function presence.agent_history(uuid, uuid, timestamptz, timestamptz) is 'Status timeline of one agent of a tenant from p_from (inclusive; default 24 hours before p_to) to p_to (exclusive; default now): the range, the status the agent had at its start and the transitions in it. Raises PRAGT for an agent of another tenant, PRUSR for an empty range.';

grant execute on function
  presence.login_candidate(text),
  presence.session_user(bytea, timestamptz),
  presence.start_session(uuid, bytea, integer, timestamptz),
  presence.heartbeat_for_session(bytea[], text[], text[], timestamptz),
  presence.leave_for_session(bytea, text, timestamptz),
  presence.logout(bytea, text, timestamptz),
  presence.agent_history(uuid, uuid, timestamptz, timestamptz)
  to presence_app;
