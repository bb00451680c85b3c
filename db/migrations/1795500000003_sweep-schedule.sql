-- Up Migration

-- Schedule the sweep inside the database with pg_cron, as job `presence-sweep`. pg_cron can only be created in
-- the database named by cron.database_name; where it is missing (not installed, not preloaded, or another
-- database) nothing is scheduled here and the server runs the same call from graphile-worker's cron instead
-- (see presence.sweep_scheduler()). Never both.
do $$
declare
  v_version text;
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron')
     and current_setting('cron.database_name', true) = current_database() then
    create extension if not exists pg_cron;
    select extversion into v_version from pg_extension where extname = 'pg_cron';
    -- Sub-minute schedules arrived in pg_cron 1.5; Debian 12's postgresql-15-cron is 1.4.
    perform cron.schedule(
      'presence-sweep',
      case when string_to_array(split_part(v_version, '-', 1), '.')::int[] >= array[1, 5] then '10 seconds'
           else '* * * * *' end,
      'select presence.sweep_stale_agents()');
  end if;
end
$$;

create function presence.sweep_scheduler()
returns table (scheduler text, schedule text, active boolean)
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if to_regclass('cron.job') is not null then
    return query execute
      'select ''pg_cron''::text, j.schedule::text, j.active from cron.job j where j.jobname = ''presence-sweep''';
    if found then
      return;
    end if;
  end if;
  return query select 'graphile-worker'::text, '* * * * *'::text, true;
end
$$;
comment on function presence.sweep_scheduler() is 'Which scheduler runs presence.sweep_stale_agents(): pg_cron (job presence-sweep, with its schedule) or, where pg_cron is unavailable, the server''s graphile-worker cron (every minute).';
grant execute on function presence.sweep_scheduler() to presence_app, presence_analyst;
