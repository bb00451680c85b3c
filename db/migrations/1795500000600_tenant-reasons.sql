-- Up Migration

-- Reasons, defined by each tenant: a reason belongs to one of the four statuses (away: Lunch, Meeting; dnd: Focus;
-- offline: End of shift), with a label, an order and an optional default duration. Managers add, rename, reorder
-- and retire them through the router (the router checks who manages; these functions check the tenant, the status,
-- the label and the limits). A retired reason stays, so history keeps naming it; it cannot be chosen again.
--
-- Project SQLSTATEs added here:
--   PRRIN  a reason's field out of range (blank or over-long label, duration, position)     400 invalid_input
--   PRRDU  a label already used by a live reason of the same status in the tenant          409 conflict
--   PRRLM  the tenant already has 50 reasons                                               409 conflict
--   PRRNF  no such reason in the tenant (the same for another tenant's reason)             404 not_found

create table presence_private.tenant_reasons (
  id uuid primary key default gen_random_uuid(),
  tenant_id presence.tenant_key not null references public.tenants (id) on delete cascade,
  status text not null check (status in ('available', 'away', 'dnd', 'offline')),
  label text not null,
  position integer not null,
  default_duration_s integer,
  retired_at timestamptz,
  created_at timestamptz not null default now(),
  constraint tenant_reasons_label_shape check (label = btrim(label) and length(label) between 1 and 40
                                               and label !~ '[[:cntrl:]]'),
  constraint tenant_reasons_default_duration check (default_duration_s between 60 and 604800),
  constraint tenant_reasons_position check (position >= 0)
);
comment on table presence_private.tenant_reasons is 'Reasons a tenant defined for its statuses, with their order (position within a status) and default duration. Retired reasons (retired_at set) stay for history. Written by presence.add_reason and presence.update_reason; read through presence.reasons.';
comment on column presence_private.tenant_reasons.default_duration_s is 'Seconds a status chosen with this reason lasts when the choice names no end; null: until changed.';

-- Labels are unique among a tenant's live reasons of one status, whatever their case; the index enforces it under
-- concurrent writers and serves the listing of a tenant's reasons.
create unique index tenant_reasons_live_label_key on presence_private.tenant_reasons (tenant_id, status, lower(label))
  where retired_at is null;
create index tenant_reasons_tenant_idx on presence_private.tenant_reasons (tenant_id, status, position);

create view presence.reasons as
select r.tenant_id, r.id, r.status, r.label, r.position, r.default_duration_s, r.retired_at is not null as retired
  from presence_private.tenant_reasons r;
comment on view presence.reasons is 'Every tenant''s reasons: status, label, position within the status (lowest first), default duration in seconds (null: none) and whether it is retired. Filter by tenant_id.';
grant select on presence.reasons to presence_app, presence_analyst;

create function presence_private.check_reason_label(p_label text)
returns text
language plpgsql immutable
set search_path = ''
as $$
declare
  v_label text := btrim(p_label);
begin
  if v_label is null or v_label = '' then
    raise exception 'label must not be blank' using errcode = 'PRRIN';
  end if;
  if length(v_label) > 40 then
    raise exception 'label must be at most 40 characters, got %', length(v_label) using errcode = 'PRRIN';
  end if;
  if v_label ~ '[[:cntrl:]]' then
    raise exception 'label must not contain control characters' using errcode = 'PRRIN';
  end if;
  return v_label;
end
$$;
comment on function presence_private.check_reason_label(text) is 'A reason''s label trimmed, or PRRIN naming what is wrong (blank, over 40 characters, control characters).';

create function presence_private.check_reason_duration(p_default_duration_s integer)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_default_duration_s not between 60 and 604800 then
    raise exception 'defaultDurationS must be between 60 and 604800 seconds (7 days), got %', p_default_duration_s
      using errcode = 'PRRIN';
  end if;
end
$$;
comment on function presence_private.check_reason_duration(integer) is 'Raises PRRIN unless a default duration is null or between 60 s and 7 days.';

create function presence.add_reason(p_tenant_id presence.tenant_key, p_status text, p_label text,
                                    p_default_duration_s integer default null)
returns setof presence.reasons
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_label text;
  v_count integer;
  v_id uuid;
begin
  perform presence_private.check_status(p_status);
  v_label := presence_private.check_reason_label(p_label);
  perform presence_private.check_reason_duration(p_default_duration_s);
  if not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    raise exception 'no tenant %', coalesce(p_tenant_id::text, 'null') using errcode = 'PRTEN';
  end if;

  -- One writer of a tenant's reasons at a time, so the count and the next position hold until commit.
  perform pg_advisory_xact_lock(hashtextextended('presence.tenant_reasons:' || p_tenant_id::text, 0));
  select count(*) into v_count from presence_private.tenant_reasons r where r.tenant_id = p_tenant_id;
  if v_count >= 50 then
    raise exception 'tenant % has % reasons: at most 50 (retire and rename one instead)', p_tenant_id, v_count
      using errcode = 'PRRLM';
  end if;

  begin
    insert into presence_private.tenant_reasons (tenant_id, status, label, position, default_duration_s)
    select p_tenant_id, p_status, v_label,
           coalesce((select max(r.position) + 1 from presence_private.tenant_reasons r
                      where r.tenant_id = p_tenant_id and r.status = p_status), 0),
           p_default_duration_s
    returning id into v_id;
  exception when unique_violation then
    raise exception 'a live % reason is already labelled "%"', p_status, v_label using errcode = 'PRRDU';
  end;
  return query select * from presence.reasons r where r.id = v_id;
end
$$;
comment on function presence.add_reason(presence.tenant_key, text, text, integer) is 'Adds a reason to a tenant''s status, last in its order, and returns it. Raises PRSTA for an unknown status, PRRIN for a blank or over-long label (40) or a default duration outside 60 s .. 7 days, PRTEN for an unknown tenant, PRRLM beyond 50 reasons per tenant, PRRDU for a label a live reason of that status has. Who may manage is the caller''s check.';

create function presence.update_reason(p_tenant_id presence.tenant_key, p_reason_id uuid, p_label text default null,
                                       p_position integer default null, p_default_duration_s integer default null,
                                       p_clear_default_duration boolean default false, p_retired boolean default null)
returns setof presence.reasons
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_reason presence_private.tenant_reasons;
  v_label text;
  v_count integer;
  v_position integer;
begin
  if p_label is not null then
    v_label := presence_private.check_reason_label(p_label);
  end if;
  perform presence_private.check_reason_duration(p_default_duration_s);
  if p_position < 0 then
    raise exception 'position must be 0 or more, got %', p_position using errcode = 'PRRIN';
  end if;

  perform pg_advisory_xact_lock(hashtextextended('presence.tenant_reasons:' || p_tenant_id::text, 0));
  select * into v_reason from presence_private.tenant_reasons r
   where r.id = p_reason_id and r.tenant_id = p_tenant_id
     for update;
  if not found then
    raise exception 'no reason % in tenant %', coalesce(p_reason_id::text, 'null'), coalesce(p_tenant_id::text, 'null')
      using errcode = 'PRRNF';
  end if;

  begin
    update presence_private.tenant_reasons r
       set label = coalesce(v_label, r.label),
           default_duration_s = case when p_clear_default_duration then null
                                     else coalesce(p_default_duration_s, r.default_duration_s) end,
           retired_at = case when p_retired is null then r.retired_at
                             when p_retired then coalesce(r.retired_at, now())
                             else null end
     where r.id = p_reason_id;
  exception when unique_violation then
    raise exception 'a live % reason is already labelled "%"', v_reason.status, coalesce(v_label, v_reason.label)
      using errcode = 'PRRDU';
  end;

  if p_position is not null then
    -- The reason moves to index p_position among its status's reasons (the last index at most); the others keep
    -- their order around it, numbered from 0.
    select count(*) into v_count from presence_private.tenant_reasons r
     where r.tenant_id = p_tenant_id and r.status = v_reason.status;
    v_position := least(p_position, v_count - 1);
    update presence_private.tenant_reasons r
       set position = case when r.id = p_reason_id then v_position
                           else o.rn + (o.rn >= v_position)::integer end
      from (select r2.id, (row_number() over (order by r2.position, r2.created_at, r2.id) - 1)::integer as rn
              from presence_private.tenant_reasons r2
             where r2.tenant_id = p_tenant_id and r2.status = v_reason.status and r2.id <> p_reason_id
            union all
            select p_reason_id, null) o
     where r.id = o.id;
  end if;
  return query select * from presence.reasons r where r.id = p_reason_id;
end
$$;
comment on function presence.update_reason(presence.tenant_key, uuid, text, integer, integer, boolean, boolean) is 'Renames, reorders (p_position: its index among its status''s reasons, from 0), changes the default duration of (p_clear_default_duration: none), retires or restores one reason of a tenant; a null argument keeps the value. Returns the reason. Raises PRRNF for a reason not of that tenant, PRRIN for a bad label, position or duration, PRRDU for a label a live reason of that status has. Who may manage is the caller''s check.';

grant execute on function presence.add_reason(presence.tenant_key, text, text, integer) to presence_app;
grant execute on function presence.update_reason(presence.tenant_key, uuid, text, integer, integer, boolean, boolean)
  to presence_app;
