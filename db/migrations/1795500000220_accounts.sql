-- Up Migration

-- This project's own accounts and sign-in, for the standalone server (npm start), apart from presence: schema
-- presence_accounts. Presence itself (schema presence) knows nothing of users, passwords or sign-in sessions; a
-- platform that adopts it signs its users in itself and never uses this schema.
--
-- The request path cannot mint a sign-in: the password is verified here, in SQL (pgcrypto's bcrypt over the
-- password's SHA-256, so passwords longer than bcrypt's 72 bytes count whole), against a decoy hash for an unknown
-- e-mail so that both answers cost the same; sign-in limits are counted here, so every server process and a
-- restart share them; a session's lifetime is capped here. Hashes made by earlier versions (argon2id, which SQL
-- cannot compute) are kept as bcrypt of their argon2 digest: the server computes that digest from the password at
-- the next sign-in, and the hash is then upgraded. The alternative, a separate role that alone may create sessions,
-- would still leave that role in the server process that answers sign-ins.

drop function presence.create_tenant(text);
drop function presence.create_account(uuid, text, text, text, text, integer);
drop function presence.revoke_sessions(uuid, timestamptz);
drop function presence.login_candidate(text);
drop function presence.session_user(bytea, timestamptz);
drop function presence.start_session(uuid, bytea, integer, timestamptz);
drop function presence.heartbeat_for_session(bytea[], text[], text[], timestamptz);
drop function presence.leave_for_session(bytea, text, timestamptz);
drop function presence.logout(bytea, text, timestamptz);
drop type presence.session_user_row;
drop type presence_private.authed_beat;
-- The tabs of a sign-in are now presence_private.sessions.sign_in, pruned with the tabs themselves.
drop table presence_private.auth_session_tabs;

create schema presence_accounts;
comment on schema presence_accounts is 'The standalone server''s own accounts and sign-in (users, sign-in sessions, sign-in limits). Not used by a platform that signs its users in itself.';
alter table presence_private.users set schema presence_accounts;
alter table presence_private.auth_sessions set schema presence_accounts;
-- sign_in prunes sessions expired for a day, a hundred at a time.
create index auth_sessions_expires_at_idx on presence_accounts.auth_sessions (expires_at);

-- pgcrypto in a schema of its own, which no role but the owner may use (where the database has it already, that
-- installation is used: see the search_path set on the two functions below).
create schema if not exists presence_crypto;
comment on schema presence_crypto is 'pgcrypto, for presence_accounts'' password hashing. Not a public interface.';
create extension if not exists pgcrypto with schema presence_crypto;

create function presence_accounts.bcrypt(p_secret text, p_cost integer)
returns text
language plpgsql volatile
set search_path = ''
as $$
begin
  return crypt(p_secret, gen_salt('bf', p_cost));
end
$$;
comment on function presence_accounts.bcrypt(text, integer) is 'bcrypt of a secret with a fresh salt (pgcrypto).';

create function presence_accounts.bcrypt_matches(p_secret text, p_hash text)
returns boolean
language plpgsql volatile
set search_path = ''
as $$
begin
  return crypt(p_secret, p_hash) = p_hash;
end
$$;
comment on function presence_accounts.bcrypt_matches(text, text) is 'Whether a secret matches a bcrypt hash (pgcrypto).';

do $$
declare
  v_schema text := (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace
                     where e.extname = 'pgcrypto');
begin
  execute format('alter function presence_accounts.bcrypt(text, integer) set search_path = %I', v_schema);
  execute format('alter function presence_accounts.bcrypt_matches(text, text) set search_path = %I', v_schema);
end
$$;

create function presence_accounts.password_secret(p_password text)
returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select encode(sha256(convert_to(p_password, 'UTF8')), 'base64')
$$;
comment on function presence_accounts.password_secret(text) is 'What bcrypt hashes for a password: its SHA-256 in base64 (44 characters), so that every byte of a long password counts.';

-- Policy ---------------------------------------------------------------------------------------------------------

create table presence_accounts.sign_in_policy (
  id boolean primary key default true constraint sign_in_policy_one_row check (id),
  -- Failures of one account from one address: the tight limit. The right password from that address is refused
  -- too until the window passes; other addresses are not concerned.
  failures_per_account_address integer not null default 10
    constraint sign_in_policy_failures_per_account_address_check check (failures_per_account_address between 1 and 1000),
  -- Failures from one address, any account: a looser limit against one source trying many accounts. Successful
  -- sign-ins never count, so an office behind one address signs in freely.
  failures_per_address integer not null default 100
    constraint sign_in_policy_failures_per_address_check check (failures_per_address between 1 and 100000),
  -- Failures of one account from all addresses: once reached, an address that has failed for this account is
  -- refused; an address that has not failed still signs in with the right password.
  failures_per_account integer not null default 20
    constraint sign_in_policy_failures_per_account_check check (failures_per_account between 1 and 100000),
  window_s integer not null default 900 constraint sign_in_policy_window_s_check check (window_s between 1 and 86400),
  max_session_ttl_s integer not null default 2592000
    constraint sign_in_policy_max_session_ttl_s_check check (max_session_ttl_s between 60 and 31536000),
  -- NIST SP 800-63B: at least 8 characters.
  min_password_length integer not null default 8
    constraint sign_in_policy_min_password_length_check check (min_password_length between 8 and 256),
  bcrypt_cost integer not null default 10 constraint sign_in_policy_bcrypt_cost_check check (bcrypt_cost between 4 and 15),
  -- Verified against when the e-mail is unknown, so that both answers take as long.
  decoy_hash text not null
);
insert into presence_accounts.sign_in_policy (decoy_hash)
values (presence_accounts.bcrypt(gen_random_uuid()::text, 10));
comment on table presence_accounts.sign_in_policy is 'One row: sign-in limits, the cap on a sign-in session''s lifetime, the minimum password length and the bcrypt cost of new hashes. Change it with presence_accounts.configure_sign_in.';

create table presence_accounts.sign_in_failures (
  account text not null,
  address text not null,
  failures integer not null,
  last_at timestamptz not null,
  primary key (account, address)
);
create index sign_in_failures_address_idx on presence_accounts.sign_in_failures (address);
create index sign_in_failures_last_at_idx on presence_accounts.sign_in_failures (last_at);
comment on table presence_accounts.sign_in_failures is 'Failed sign-ins per account (the e-mail as typed, lower-cased, known or not) and client address, within the policy window.';

-- Hashes: bcrypt from now on; argon2id hashes of earlier versions wrapped until their next sign-in.
alter table presence_accounts.users drop constraint users_password_hash_argon2;
alter table presence_accounts.users add column legacy_argon2 text
  constraint users_legacy_argon2_shape check (legacy_argon2 ~ '^\$argon2id\$v=\d+\$[mtp]=\d+,[mtp]=\d+,[mtp]=\d+\$[A-Za-z0-9+/]+$');
comment on column presence_accounts.users.legacy_argon2 is 'For an account whose password was hashed with argon2id by an earlier version: the argon2 parameters and salt; password_hash is then bcrypt of the argon2 digest, and the next sign-in replaces both.';
update presence_accounts.users u
   set legacy_argon2 = array_to_string((string_to_array(u.password_hash, '$'))[1:5], '$'),
       password_hash = presence_accounts.bcrypt((string_to_array(u.password_hash, '$'))[6], 10)
 where u.password_hash like '$argon2id$%';
alter table presence_accounts.users add constraint users_password_hash_bcrypt
  check (password_hash ~ '^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$');
comment on table presence_accounts.users is 'People who sign in to the standalone server: a tenant, a role (support_staff and client_admin are agents, linked to their human_agents row; supervisor is not) and a bcrypt password hash made in SQL.';

create function presence_accounts.configure_sign_in(
  p_failures_per_account_address integer default null,
  p_failures_per_address integer default null,
  p_failures_per_account integer default null,
  p_window_s integer default null,
  p_max_session_ttl_s integer default null,
  p_bcrypt_cost integer default null
)
returns presence_accounts.sign_in_policy
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_policy presence_accounts.sign_in_policy;
begin
  update presence_accounts.sign_in_policy p
     set failures_per_account_address = coalesce(p_failures_per_account_address, p.failures_per_account_address),
         failures_per_address = coalesce(p_failures_per_address, p.failures_per_address),
         failures_per_account = coalesce(p_failures_per_account, p.failures_per_account),
         window_s = coalesce(p_window_s, p.window_s),
         max_session_ttl_s = coalesce(p_max_session_ttl_s, p.max_session_ttl_s),
         bcrypt_cost = coalesce(p_bcrypt_cost, p.bcrypt_cost),
         -- The decoy costs what a real hash costs.
         decoy_hash = case when p_bcrypt_cost is distinct from null and p_bcrypt_cost <> p.bcrypt_cost
                           then presence_accounts.bcrypt(gen_random_uuid()::text, p_bcrypt_cost)
                           else p.decoy_hash end
  returning p.* into v_policy;
  return v_policy;
exception
  when check_violation then
    raise exception 'sign-in policy out of range: %', sqlerrm using errcode = 'PRSET';
end
$$;
comment on function presence_accounts.configure_sign_in(integer, integer, integer, integer, integer, integer) is 'Sets the sign-in policy; a null argument keeps the current value. Raises PRSET for a value out of range. Owner only.';

-- Administration (owner: the CLI, the demo seed, tests) ----------------------------------------------------------

create function presence_accounts.create_tenant(p_name text)
returns presence.tenant_key
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_id presence.tenant_key;
begin
  if p_name is null or btrim(p_name) = '' then
    raise exception 'tenant name must be a non-empty string, got %', coalesce(quote_literal(p_name), 'null')
      using errcode = 'PRUSR';
  end if;
  insert into public.tenants (name) values (btrim(p_name)) returning id into v_id;
  return v_id;
end
$$;
comment on function presence_accounts.create_tenant(text) is 'Creates a tenant with the default presence settings; returns its id. Raises PRUSR for a blank name. Owner only.';

create function presence_accounts.create_account(
  p_tenant_id presence.tenant_key,
  p_email text,
  p_name text,
  p_role text,
  p_password text,
  p_max_chats integer default 5
)
returns table (user_id uuid, agent_id presence.agent_key)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_policy presence_accounts.sign_in_policy;
  v_agent_id presence.agent_key;
  v_user_id uuid;
begin
  select * into v_policy from presence_accounts.sign_in_policy;
  if not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;
  if p_role is null or p_role not in ('support_staff', 'client_admin', 'supervisor') then
    raise exception 'unknown role %: expected one of support_staff, client_admin, supervisor',
      coalesce(quote_literal(p_role), 'null') using errcode = 'PRUSR';
  end if;
  if p_email is null or p_email !~ '^[^@\s]+@[^@\s]+$' or length(p_email) > 320 then
    raise exception 'not an e-mail address: %', coalesce(quote_literal(left(p_email, 320)), 'null') using errcode = 'PRUSR';
  end if;
  if p_name is null or btrim(p_name) = '' then
    raise exception 'name must be a non-empty string, got %', coalesce(quote_literal(p_name), 'null')
      using errcode = 'PRUSR';
  end if;
  if p_password is null or length(p_password) < v_policy.min_password_length or length(p_password) > 1024 then
    raise exception 'a password must have between % and 1024 characters, got %', v_policy.min_password_length,
      coalesce(length(p_password)::text, 'null')
      using errcode = 'PRUSR';
  end if;
  if p_max_chats is null or p_max_chats not between 0 and 1000 then
    raise exception 'max_chats must be between 0 and 1000, got %', coalesce(p_max_chats::text, 'null')
      using errcode = 'PRUSR';
  end if;
  if exists (select 1 from presence_accounts.users u where lower(u.email) = lower(p_email)) then
    raise exception 'an account with e-mail % already exists', p_email using errcode = 'PRUSR';
  end if;

  if p_role <> 'supervisor' then
    insert into public.human_agents (tenant_id, name, email, max_chats)
    values (p_tenant_id, btrim(p_name), p_email, p_max_chats)
    returning id into v_agent_id;
  end if;
  insert into presence_accounts.users (tenant_id, email, name, role, agent_id, password_hash)
  values (p_tenant_id, p_email, btrim(p_name), p_role, v_agent_id,
          presence_accounts.bcrypt(presence_accounts.password_secret(p_password), v_policy.bcrypt_cost))
  returning id into v_user_id;
  return query select v_user_id, v_agent_id;
end
$$;
comment on function presence_accounts.create_account(presence.tenant_key, text, text, text, text, integer) is 'Creates a user of a tenant with a password (at least min_password_length characters), hashed here with bcrypt. Roles support_staff and client_admin also create the user''s agent (human_agents row, with max_chats); supervisor does not. Raises PRTEN for an unknown tenant, PRUSR naming a bad or taken e-mail, name, role, password or max_chats. Owner only.';

create function presence_accounts.revoke_sessions(p_user_id uuid)
returns integer
language sql volatile security definer
set search_path = ''
as $$
  with revoked as (
    update presence_accounts.auth_sessions s set revoked_at = now()
     where s.user_id = p_user_id and s.revoked_at is null and s.expires_at > now()
    returning s.id, s.user_id
  )
  select count(presence.end_sign_in(u.tenant_id, u.agent_id, r.id::text))::integer
    from revoked r join presence_accounts.users u on u.id = r.user_id
$$;
comment on function presence_accounts.revoke_sessions(uuid) is 'Signs a user out everywhere: revokes all of the user''s live sign-in sessions and ends the tabs each started (presence.end_sign_in, which also ends their live streams). Returns how many it revoked. Owner only.';

-- The standalone server's calls (role presence_app) ---------------------------------------------------------------

create function presence_accounts.sign_in(
  p_email text,
  p_password text,
  p_address text,
  p_token_hash bytea,
  p_ttl_s integer,
  p_legacy_digest text default null
)
returns table (outcome text, retry_after_s integer, legacy_params text)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_policy presence_accounts.sign_in_policy;
  v_account constant text := lower(btrim(p_email));
  v_user presence_accounts.users;
  v_pair integer;
  v_address integer;
  v_by_account integer;
  v_last timestamptz;
  v_ok boolean;
begin
  if p_email is null or length(p_email) > 320 or p_password is null or length(p_password) > 1024 then
    raise exception 'e-mail and password must be strings of at most 320 and 1024 characters' using errcode = 'PRUSR';
  end if;
  if p_address is null or length(p_address) > 100 then
    raise exception 'client address must be a string of at most 100 characters, got %', coalesce(quote_literal(left(p_address, 100)), 'null')
      using errcode = 'PRUSR';
  end if;
  if p_token_hash is null or length(p_token_hash) <> 32 then
    raise exception 'token hash must be a SHA-256 (32 bytes)' using errcode = 'PRUSR';
  end if;
  select * into v_policy from presence_accounts.sign_in_policy;
  if p_ttl_s is null or p_ttl_s not between 60 and v_policy.max_session_ttl_s then
    raise exception 'session lifetime must be between 60 and % seconds, got %', v_policy.max_session_ttl_s,
      coalesce(p_ttl_s::text, 'null')
      using errcode = 'PRUSR';
  end if;

  -- Limits first: a refused attempt verifies nothing.
  delete from presence_accounts.sign_in_failures f where f.last_at <= now() - v_policy.window_s * interval '1 second';
  select coalesce(sum(f.failures) filter (where f.account = v_account and f.address = p_address), 0),
         coalesce(sum(f.failures) filter (where f.address = p_address), 0),
         coalesce(sum(f.failures) filter (where f.account = v_account), 0),
         max(f.last_at)
    into v_pair, v_address, v_by_account, v_last
    from presence_accounts.sign_in_failures f
   where f.account = v_account or f.address = p_address;
  if v_pair >= v_policy.failures_per_account_address
     or v_address >= v_policy.failures_per_address
     or (v_by_account >= v_policy.failures_per_account and v_pair > 0) then
    return query select 'rate_limited'::text,
      greatest(1, ceil(v_policy.window_s - extract(epoch from now() - v_last)))::integer, null::text;
    return;
  end if;

  select * into v_user from presence_accounts.users u where lower(u.email) = v_account;
  if v_user.legacy_argon2 is not null then
    if p_legacy_digest is null then
      -- The server computes the argon2 digest of the password with these parameters and calls again.
      return query select 'legacy'::text, null::integer, v_user.legacy_argon2;
      return;
    end if;
    v_ok := presence_accounts.bcrypt_matches(p_legacy_digest, v_user.password_hash);
  else
    v_ok := presence_accounts.bcrypt_matches(presence_accounts.password_secret(p_password),
                                             coalesce(v_user.password_hash, v_policy.decoy_hash))
            and v_user.id is not null;
  end if;

  if not v_ok then
    insert into presence_accounts.sign_in_failures as f (account, address, failures, last_at)
    values (v_account, p_address, 1, now())
    on conflict (account, address) do update set failures = f.failures + 1, last_at = now();
    return query select 'invalid'::text, null::integer, null::text;
    return;
  end if;

  delete from presence_accounts.sign_in_failures f where f.account = v_account and f.address = p_address;
  if v_user.legacy_argon2 is not null then
    update presence_accounts.users u
       set password_hash = presence_accounts.bcrypt(presence_accounts.password_secret(p_password), v_policy.bcrypt_cost),
           legacy_argon2 = null
     where u.id = v_user.id;
  end if;
  -- Sessions expired for a day go, this user's and, a hundred at a time, anyone's: the table holds live sessions and
  -- recent ones, also of people who never sign in again.
  delete from presence_accounts.auth_sessions s
   where s.expires_at < now() - interval '1 day'
     and (s.user_id = v_user.id
          or s.token_hash in (select o.token_hash from presence_accounts.auth_sessions o
                               where o.expires_at < now() - interval '1 day' limit 100));
  insert into presence_accounts.auth_sessions (token_hash, user_id, created_at, expires_at)
  values (p_token_hash, v_user.id, now(), now() + p_ttl_s * interval '1 second');
  return query select 'ok'::text, null::integer, null::text;
end
$$;
comment on function presence_accounts.sign_in(text, text, text, bytea, integer, text) is 'Signs a user in: verifies the password here (bcrypt; a decoy for an unknown e-mail), counts failures per account and address, per address and per account (sign_in_policy), and on success stores a sign-in session under the SHA-256 of the cookie token, valid for p_ttl_s seconds (at most max_session_ttl_s). Outcome ok, invalid (any bad pair), rate_limited (with retry_after_s) or legacy (an argon2 account: call again with p_legacy_digest, the argon2 digest of the password under legacy_params).';

create type presence_accounts.session_user_row as (
  ord integer,
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
  -- Seconds rather than a timestamp: the server ends a live stream when its session runs out without its own clock
  -- entering into it.
  expires_in_s double precision
);
comment on type presence_accounts.session_user_row is 'Who holds a sign-in session: user, tenant, agent (null for a supervisor) with its effective and chosen status, the tenant''s timing, and the seconds until the session expires; ord is the position of its token hash in the request.';

create function presence_accounts.session_users(p_token_hashes bytea[])
returns setof presence_accounts.session_user_row
language plpgsql stable security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
  return query
  select r.ord::integer, s.id, u.id, u.email, u.name, u.role, t.id::presence.tenant_key, t.name::text,
         a.id::presence.agent_key,
         presence.effective_status(a.status::text, a.last_seen, st.offline_after_s), a.chosen_status::text,
         st.heartbeat_interval_s, st.offline_after_s, st.away_after_s,
         extract(epoch from s.expires_at - now())::double precision
    from unnest(p_token_hashes) with ordinality as r(token_hash, ord)
    join presence_accounts.auth_sessions s on s.token_hash = r.token_hash and s.revoked_at is null and s.expires_at > now()
    join presence_accounts.users u on u.id = s.user_id
    join public.tenants t on t.id = u.tenant_id
    join presence.settings st on st.tenant_id = u.tenant_id
    left join public.human_agents a on a.id = u.agent_id
   order by r.ord;
end
$$;
comment on function presence_accounts.session_users(bytea[]) is 'Who holds each of these sign-in sessions (by SHA-256 of the cookie token): one row per live session, with ord its position in p_token_hashes; none for an unknown, expired or revoked one. Many requests share one call.';

create function presence_accounts.logout(p_token_hash bytea)
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_session record;
begin
  update presence_accounts.auth_sessions s set revoked_at = now()
    from presence_accounts.users u
   where s.token_hash = p_token_hash and u.id = s.user_id and s.revoked_at is null and s.expires_at > now()
  returning s.id, u.tenant_id, u.agent_id into v_session;
  if not found then
    return false;
  end if;
  -- Every tab this sign-in started ends (reason logout), and so do its live streams (on commit).
  perform presence.end_sign_in(v_session.tenant_id, v_session.agent_id, v_session.id::text);
  return true;
end
$$;
comment on function presence_accounts.logout(bytea) is 'Signs out: revokes the sign-in session and ends, through presence.end_sign_in, every tab it started (reason logout) and its live streams; the agent is offline at once unless another live tab of it remains. Returns false when the session was already invalid.';
