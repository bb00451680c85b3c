-- Up Migration

create function presence.sweep_runs()
returns bigint
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_runs bigint;
begin
  if to_regclass('cron.job_run_details') is null then
    return null;
  end if;
  execute 'select count(*) from cron.job_run_details d join cron.job j on j.jobid = d.jobid
            where j.jobname = ''presence-sweep'' and d.status = ''succeeded'''
    into v_runs;
  return v_runs;
end
$$;
comment on function presence.sweep_runs() is 'How many runs of pg_cron job presence-sweep succeeded (as long as cron.job_run_details keeps them); null where pg_cron is not installed. For the server''s /metrics.';

grant execute on function presence.sweep_runs() to presence_app;
