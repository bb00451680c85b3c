-- Up Migration

-- Presence refers to the platform's keys through domains: presence.tenant_key over the type of public.tenants.id,
-- presence.agent_key over the type of public.human_agents.id (uuid, text, varchar, integer or bigint), and to the
-- platform's status column through presence.agent_status. Every table and function of presence uses them, so the
-- SQL API takes the platform's own ids ('42', '7d3f…') and its plans compare keys of the same type, on the
-- platform's own indexes. 1795500000000 makes the key domains since it adopts existing tables; an install made
-- before that rework has uuid columns here, which become the domains below (a domain over uuid without a
-- constraint is the same bytes: no table is rewritten and no index rebuilt).
do $$
begin
  if to_regtype('presence.tenant_key') is null then
    execute format('create domain presence.tenant_key as %s',
                   (select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                     where a.attrelid = 'public.tenants'::regclass and a.attname = 'id'));
  end if;
  if to_regtype('presence.agent_key') is null then
    execute format('create domain presence.agent_key as %s',
                   (select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                     where a.attrelid = 'public.human_agents'::regclass and a.attname = 'id'));
  end if;
  -- text on a standalone install; the platform's own type (varchar, or an enum) on an adopted one. The one writer
  -- of status casts to it, so a platform's enum keeps working; readers cast status to text.
  execute format('create domain presence.agent_status as %s',
                 (select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                   where a.attrelid = 'public.human_agents'::regclass and a.attname = 'status'));
end
$$;
comment on domain presence.tenant_key is 'The platform''s tenant key (the type of public.tenants.id). Every presence function takes tenant ids of this type; a literal such as ''42'' or ''7d3f…'' converts.';
comment on domain presence.agent_key is 'The platform''s agent key (the type of public.human_agents.id). Every presence function takes agent ids of this type.';
comment on domain presence.agent_status is 'The type of the platform''s public.human_agents.status column (text, varchar or an enum): presence writes status values as this type.';

-- The views over these columns are replaced by the next migration; they go first so the columns can change type.
drop view presence.agent_presence, presence.time_in_status, presence.settings;

alter table presence.tenant_settings alter column tenant_id type presence.tenant_key;
alter table presence.status_events
  alter column tenant_id type presence.tenant_key,
  alter column agent_id type presence.agent_key;
alter table presence_private.sessions
  alter column agent_id type presence.agent_key,
  alter column tenant_id type presence.tenant_key;
alter table presence_private.users
  alter column tenant_id type presence.tenant_key,
  alter column agent_id type presence.agent_key;
alter table presence_private.chats
  alter column tenant_id type presence.tenant_key,
  alter column agent_id type presence.agent_key;
