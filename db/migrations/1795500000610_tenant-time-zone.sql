-- Up Migration

-- A tenant's time zone: its day (the console's "today", the agent's day, the analysts' daily views) runs from
-- midnight to midnight there. An IANA name PostgreSQL knows (pg_timezone_names), default UTC; configure_tenant
-- checks it (PRSET), since a check constraint cannot read the catalog.

alter table presence.tenant_settings add column time_zone text not null default 'UTC';
comment on column presence.tenant_settings.time_zone is 'The tenant''s time zone (an IANA name, e.g. Europe/Paris): its days begin at midnight there.';

create or replace view presence.settings as
select t.id as tenant_id,
       coalesce(s.heartbeat_interval_s, 30) as heartbeat_interval_s,
       coalesce(s.offline_after_s, 90) as offline_after_s,
       coalesce(s.away_after_s, 300) as away_after_s,
       coalesce(s.release_chats_after_s, 60) as release_chats_after_s,
       coalesce(s.time_zone, 'UTC') as time_zone
  from public.tenants t
  left join presence.tenant_settings s on s.tenant_id = t.id;
comment on view presence.settings is 'Effective presence settings of every tenant: its tenant_settings row, or the defaults (30 s beat, offline after 90 s, away after 300 s idle, chats released 60 s after going offline, days in UTC).';

drop function presence.configure_tenant(presence.tenant_key, integer, integer, integer, integer);

create function presence.configure_tenant(p_tenant_id presence.tenant_key, p_heartbeat_interval_s integer default null,
                                          p_offline_after_s integer default null, p_away_after_s integer default null,
                                          p_release_chats_after_s integer default null, p_time_zone text default null)
returns presence.tenant_settings
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_current presence.settings;
  v_result presence.tenant_settings;
begin
  select s.* into v_current from presence.settings s where s.tenant_id = p_tenant_id;
  if not found then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;
  v_current.heartbeat_interval_s := coalesce(p_heartbeat_interval_s, v_current.heartbeat_interval_s);
  v_current.offline_after_s := coalesce(p_offline_after_s, v_current.offline_after_s);
  v_current.away_after_s := coalesce(p_away_after_s, v_current.away_after_s);
  v_current.release_chats_after_s := coalesce(p_release_chats_after_s, v_current.release_chats_after_s);
  v_current.time_zone := coalesce(p_time_zone, v_current.time_zone);

  if v_current.heartbeat_interval_s not between 1 and 3600 then
    raise exception 'heartbeat_interval_s must be between 1 and 3600 seconds, got %', v_current.heartbeat_interval_s
      using errcode = 'PRSET';
  end if;
  if v_current.offline_after_s < 2 * v_current.heartbeat_interval_s or v_current.offline_after_s > 86400 then
    raise exception 'offline_after_s must be at least twice heartbeat_interval_s (%) and at most 86400 seconds, got %',
      v_current.heartbeat_interval_s, v_current.offline_after_s
      using errcode = 'PRSET';
  end if;
  if v_current.away_after_s not between 1 and 86400 then
    raise exception 'away_after_s must be between 1 and 86400 seconds, got %', v_current.away_after_s
      using errcode = 'PRSET';
  end if;
  if v_current.release_chats_after_s not between 0 and 86400 then
    raise exception 'release_chats_after_s must be between 0 and 86400 seconds, got %', v_current.release_chats_after_s
      using errcode = 'PRSET';
  end if;
  -- Names only, as pg_timezone_names lists them: an abbreviation or a POSIX offset ('+02') would be accepted by
  -- AT TIME ZONE with other meanings.
  if not exists (select 1 from pg_catalog.pg_timezone_names z where z.name = v_current.time_zone) then
    raise exception 'time_zone must be an IANA time zone name such as Europe/Paris, got %', v_current.time_zone
      using errcode = 'PRSET';
  end if;

  insert into presence.tenant_settings as t
    (tenant_id, heartbeat_interval_s, offline_after_s, away_after_s, release_chats_after_s, time_zone)
  values (p_tenant_id, v_current.heartbeat_interval_s, v_current.offline_after_s, v_current.away_after_s,
          v_current.release_chats_after_s, v_current.time_zone)
  on conflict (tenant_id) do update
     set heartbeat_interval_s = excluded.heartbeat_interval_s,
         offline_after_s = excluded.offline_after_s,
         away_after_s = excluded.away_after_s,
         release_chats_after_s = excluded.release_chats_after_s,
         time_zone = excluded.time_zone
  returning t.* into v_result;
  return v_result;
end
$$;
comment on function presence.configure_tenant(presence.tenant_key, integer, integer, integer, integer, text) is 'Sets a tenant''s presence timing and time zone; a null argument keeps the current value. Raises PRTEN for an unknown tenant and PRSET, naming the value, for timing that breaks the rules (offline_after_s >= 2 * heartbeat_interval_s, ...) or a time zone that is not an IANA name. Owner only.';
