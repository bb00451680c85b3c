-- Up Migration

-- Least privilege, for real. Functions are executable by PUBLIC by default, and
-- `alter default privileges in schema …` (1795500000002) cannot take back that global default: every function made
-- after it was executable by anyone with USAGE on its schema. The global form below can, for the functions the
-- migrating role makes from now on; the revokes take it back from every function that exists.
alter default privileges revoke execute on functions from public;
revoke all on all functions in schema presence, presence_private, presence_accounts, presence_crypto from public;
revoke all on schema presence_private, presence_accounts, presence_crypto from public;

-- presence_app: an app that calls the SQL API, the platform's own server (which authenticates its users and names
-- the tenant and agent) or ours. The documented API, the views, and the calls our server makes; nothing else: no
-- table, no account creation, no password hash, no sweep, and no function that takes the time as an argument.
grant usage on schema presence to presence_app;
grant execute on function
  presence.heartbeat(presence.tenant_key, presence.agent_key, text, text, text),
  presence.heartbeats(presence.tenant_key[], presence.agent_key[], text[], text[], text[]),
  presence.end_session(presence.tenant_key, presence.agent_key, text, text),
  presence.end_sign_in(presence.tenant_key, presence.agent_key, text),
  presence.set_status(presence.tenant_key, presence.agent_key, text),
  presence.open_chat(presence.tenant_key),
  presence.assign_chat(presence.tenant_key),
  presence.close_chat(presence.tenant_key, uuid),
  presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz),
  presence.sweep_scheduler(),
  presence.sweep_runs(),
  -- the views call these as their reader
  presence.offline_at(timestamptz, integer),
  presence.timeout_at(timestamptz, integer, timestamptz),
  presence.effective_status(text, timestamptz, integer)
  to presence_app;
grant select on presence.agent_presence, presence.time_in_status, presence.settings to presence_app;

-- The standalone server's own sign-in (presence_accounts), also as presence_app: it cannot create accounts, read
-- password hashes or make a session without the password.
grant usage on schema presence_accounts to presence_app;
grant execute on function
  presence_accounts.sign_in(text, text, text, bytea, integer, text),
  presence_accounts.session_users(bytea[]),
  presence_accounts.logout(bytea)
  to presence_app;

-- presence_analyst: reads; executes only the pure functions the views call and the read-only scheduler facts.
grant execute on function
  presence.offline_at(timestamptz, integer),
  presence.timeout_at(timestamptz, integer, timestamptz),
  presence.effective_status(text, timestamptz, integer),
  presence.sweep_scheduler(),
  presence.sweep_runs()
  to presence_analyst;
grant select on presence.agent_presence, presence.time_in_status, presence.settings to presence_analyst;

-- The login role the standalone server creates for its request path when it is given only the owner's URL
-- (DATABASE_URL): every replica reads the same password from here, over the owner connection.
create table presence_private.server_login (
  role_name text primary key,
  password text not null,
  created_at timestamptz not null default now()
);
comment on table presence_private.server_login is 'The password of the login role (a member of presence_app only) that the standalone server made for its request path, shared by every replica; readable by the owner only.';
