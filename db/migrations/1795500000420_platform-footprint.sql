-- Up Migration

-- Presence takes its own things off the platform's public.human_agents: the columns chosen_status, status_reason
-- and status_since (their values are in presence_private.agent_state since 1795500000400), the (tenant_id, id) key
-- its foreign keys used (they refer to agent_state now), and the partial indexes of the sweep (agent_state has its
-- own). The platform's schema tools then see only the platform's own columns: drizzle-kit push and prisma migrate
-- plan nothing of presence's. What stays is the platform's: status, last_seen and active_chats, whose values
-- presence writes, and the fillfactor of 70 that 1795500000000 set: every beat still writes the platform's last_seen,
-- and room on each page keeps that a HOT update; a storage parameter is no column, constraint or index, and no schema
-- tool compares it.
--
-- last_seen gets back the type the platform declared. 1795500000000 made a `timestamp` last_seen timestamptz; the
-- type it had is known when db/migrate.ts adopted the platform in this same run (it reads the column before the
-- first migration and passes it in setting presence.adopted_last_seen). A platform adopted by an earlier release
-- keeps timestamptz, with a NOTICE that names the one statement to run if its schema says `timestamp`.
do $$
declare
  v_agents constant regclass := 'public.human_agents'::regclass;
  v_adopted constant text := nullif(current_setting('presence.adopted_last_seen', true), '');
  v_type regtype;
  v_standalone boolean;
begin
  alter table public.human_agents
    drop column if exists chosen_status,
    drop column if exists status_reason,
    drop column if exists status_since;
  alter table public.human_agents drop constraint if exists human_agents_tenant_id_id_key;
  drop index if exists public.human_agents_online_idx;
  drop index if exists public.human_agents_offline_holding_idx;

  select a.atttypid::regtype into v_type
    from pg_attribute a where a.attrelid = v_agents and a.attname = 'last_seen' and not a.attisdropped;
  -- A standalone install made the table itself (1795500000000's comment on it): timestamptz is its own type.
  v_standalone := coalesce(obj_description(v_agents, 'pg_class') like 'Human support agents.%', false);
  if v_type = 'timestamptz'::regtype and v_adopted = 'timestamp without time zone' then
    alter table public.human_agents alter column last_seen type timestamp using last_seen at time zone 'UTC';
  elsif v_type = 'timestamptz'::regtype and v_adopted is null and not v_standalone then
    raise notice '%', 'public.human_agents.last_seen is timestamptz: presence made it so when it adopted this '
      || 'database, and works with either type. If the platform declares it timestamp (without time zone; Drizzle''s '
      || 'timestamp(''last_seen'')), give it back its type with: alter table public.human_agents alter column '
      || 'last_seen type timestamp using last_seen at time zone ''UTC'';';
  end if;
end
$$;

