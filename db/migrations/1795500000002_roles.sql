-- Up Migration

-- Least privilege. Both roles are NOLOGIN: a deployment grants them to its own login roles
-- (create role presence_server login password '…' in role presence_app).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'presence_app') then
    create role presence_app nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'presence_analyst') then
    create role presence_analyst nologin;
  end if;
end
$$;
comment on role presence_app is 'The application: executes the presence functions and reads the presence views; writes no table directly.';
comment on role presence_analyst is 'Analysts: read-only on human_agents, tenants, the presence views and the status events.';

-- Functions are executable by PUBLIC by default: take that back, here and for functions to come.
revoke all on all functions in schema presence, presence_private from public;
alter default privileges in schema presence, presence_private revoke execute on functions from public;
revoke all on schema presence_private from public;

grant usage on schema presence to presence_app, presence_analyst;
grant execute on function
  presence.heartbeat(uuid, uuid, text, text),
  presence.end_session(uuid, uuid, text, text),
  presence.set_status(uuid, uuid, text),
  presence.sweep_stale_agents(timestamptz),
  presence.is_stale(timestamptz, integer, timestamptz),
  presence.effective_status(text, timestamptz, integer, timestamptz)
  to presence_app;
grant select on presence.agent_presence, presence.time_in_status, presence.settings to presence_app;

grant execute on function
  presence.is_stale(timestamptz, integer, timestamptz),
  presence.effective_status(text, timestamptz, integer, timestamptz)
  to presence_analyst;
grant select on public.human_agents, public.tenants, presence.status_events, presence.tenant_settings,
  presence.agent_presence, presence.time_in_status, presence.settings
  to presence_analyst;
