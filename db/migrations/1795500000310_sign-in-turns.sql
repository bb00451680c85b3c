-- Up Migration

-- Sign-in limits that parallel requests cannot overshoot (issue 14, finding 3). sign_in used to read the failures,
-- verify the password, and only then count the failure: 60 parallel wrong passwords for one account from one address
-- all read "9 failures so far" and 18 were verified against a limit of 10; a flood from one address had 108 verified
-- against 100. Now a sign-in first locks the row of its client address and then the row of its account in
-- sign_in_verifications (always in that order, so two sign-ins never wait on each other in a circle), counts the
-- failures under those locks, records its own failure before bcrypt runs and takes it back on success. Sign-ins that
-- share an address or an account take turns (one bcrypt each, 60-80 ms at cost 10); others do not wait on each other.
-- A sign-in already refused is answered from the counts alone, without waiting for a turn.

create table presence_accounts.sign_in_verifications (
  kind text not null constraint sign_in_verifications_kind_check check (kind in ('address', 'account')),
  -- The client address, or the e-mail as typed, lower-cased (known or not).
  key text not null,
  -- Passwords verified (bcrypt run) for this address or account since the row was last idle for a whole window.
  verifications integer not null default 0,
  last_at timestamptz not null,
  primary key (kind, key)
);
create index sign_in_verifications_last_at_idx on presence_accounts.sign_in_verifications (last_at);
comment on table presence_accounts.sign_in_verifications is 'One row per client address and per account that tried to sign in within the policy window: the row a sign-in locks to take its turn (address first, then account), and how many passwords were verified for it. Written by presence_accounts.sign_in only.';

create function presence_accounts.sign_in_wait(p_account text, p_address text)
returns integer
language sql stable
set search_path = ''
as $$
  with policy as (select * from presence_accounts.sign_in_policy),
  recent as (
    select f.account, f.address, f.failures, f.last_at
      from presence_accounts.sign_in_failures f, policy p
     where (f.account = p_account or f.address = p_address)
       and f.last_at > now() - p.window_s * interval '1 second'
  ),
  counts as (
    select coalesce(sum(r.failures) filter (where r.account = p_account and r.address = p_address), 0) as pair,
           coalesce(sum(r.failures) filter (where r.address = p_address), 0) as by_address,
           coalesce(sum(r.failures) filter (where r.account = p_account), 0) as by_account,
           max(r.last_at) as last_at
      from recent r
  )
  select greatest(1, ceil(p.window_s - extract(epoch from now() - c.last_at)))::integer
    from counts c, policy p
   where c.pair >= p.failures_per_account_address
      or c.by_address >= p.failures_per_address
      or (c.by_account >= p.failures_per_account and c.pair > 0)
$$;
comment on function presence_accounts.sign_in_wait(text, text) is 'Seconds until an account (the e-mail lower-cased) may try to sign in again from a client address under sign_in_policy: null when it may now. Counts the failures within the window per account and address, per address and per account. Owner only; sign_in calls it.';

create or replace function presence_accounts.sign_in(
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
  v_wait integer;
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

  -- Rows idle for a window go, a hundred at a time; rows another sign-in holds are skipped, never waited for.
  delete from presence_accounts.sign_in_failures f
   where (f.account, f.address) in (
     select o.account, o.address from presence_accounts.sign_in_failures o
      where o.last_at <= now() - v_policy.window_s * interval '1 second'
      limit 100 for update skip locked);
  delete from presence_accounts.sign_in_verifications v
   where (v.kind, v.key) in (
     select o.kind, o.key from presence_accounts.sign_in_verifications o
      where o.last_at <= now() - v_policy.window_s * interval '1 second'
      limit 100 for update skip locked);

  -- Refused already: answered without waiting for a turn.
  v_wait := presence_accounts.sign_in_wait(v_account, p_address);
  if v_wait is not null then
    return query select 'rate_limited'::text, v_wait, null::text;
    return;
  end if;

  -- The turn: the address's row, then the account's, locked until this call ends. A sign-in that shares either waits
  -- here for the one before it to commit, then counts its failures below.
  insert into presence_accounts.sign_in_verifications as v (kind, key, last_at)
  values ('address', p_address, now())
  on conflict (kind, key) do update
    set verifications = case when v.last_at <= now() - v_policy.window_s * interval '1 second' then 0 else v.verifications end,
        last_at = now();
  insert into presence_accounts.sign_in_verifications as v (kind, key, last_at)
  values ('account', v_account, now())
  on conflict (kind, key) do update
    set verifications = case when v.last_at <= now() - v_policy.window_s * interval '1 second' then 0 else v.verifications end,
        last_at = now();
  v_wait := presence_accounts.sign_in_wait(v_account, p_address);
  if v_wait is not null then
    return query select 'rate_limited'::text, v_wait, null::text;
    return;
  end if;

  select * into v_user from presence_accounts.users u where lower(u.email) = v_account;
  if v_user.legacy_argon2 is not null and p_legacy_digest is null then
    -- The server computes the argon2 digest of the password with these parameters and calls again.
    return query select 'legacy'::text, null::integer, v_user.legacy_argon2;
    return;
  end if;

  -- Counted before verifying: the failure is recorded now and taken back below if the password is right.
  insert into presence_accounts.sign_in_failures as f (account, address, failures, last_at)
  values (v_account, p_address, 1, now())
  on conflict (account, address) do update
    set failures = case when f.last_at <= now() - v_policy.window_s * interval '1 second' then 1 else f.failures + 1 end,
        last_at = now();
  update presence_accounts.sign_in_verifications v set verifications = v.verifications + 1
   where (v.kind, v.key) in (('address', p_address), ('account', v_account));

  if v_user.legacy_argon2 is not null then
    v_ok := presence_accounts.bcrypt_matches(p_legacy_digest, v_user.password_hash);
  else
    v_ok := presence_accounts.bcrypt_matches(presence_accounts.password_secret(p_password),
                                             coalesce(v_user.password_hash, v_policy.decoy_hash))
            and v_user.id is not null;
  end if;
  if not v_ok then
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
comment on function presence_accounts.sign_in(text, text, text, bytea, integer, text) is 'Signs a user in: verifies the password here (bcrypt; a decoy for an unknown e-mail) and on success stores a sign-in session under the SHA-256 of the cookie token, valid for p_ttl_s seconds (at most max_session_ttl_s). Limits (sign_in_policy: failures per account and address, per address, per account) are counted before the password is verified, under a lock on the address and then the account (sign_in_verifications), so parallel attempts take turns and cannot overshoot them; the failure is recorded before bcrypt runs and taken back on success. Outcome ok, invalid (any bad pair), rate_limited (with retry_after_s) or legacy (an argon2 account: call again with p_legacy_digest, the argon2 digest of the password under legacy_params).';

create function presence_accounts.lift_sign_in_lock(p_email text, p_address text default null)
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_cleared integer;
begin
  if p_email is null and p_address is null then
    raise exception 'name an e-mail, a client address or both' using errcode = 'PRUSR';
  end if;
  if length(p_email) > 320 or length(p_address) > 100 then
    raise exception 'e-mail and client address must be strings of at most 320 and 100 characters' using errcode = 'PRUSR';
  end if;
  with cleared as (
    delete from presence_accounts.sign_in_failures f
     where (p_email is null or f.account = lower(btrim(p_email)))
       and (p_address is null or f.address = p_address)
    returning f.failures
  )
  select coalesce(sum(c.failures), 0)::integer into v_cleared from cleared c;
  return v_cleared;
end
$$;
comment on function presence_accounts.lift_sign_in_lock(text, text) is 'Lifts sign-in limits before their window passes: forgets the failed sign-ins of an account (the e-mail, any case) from every address, or from one address only, or (e-mail null) every failure from one address. Returns how many failures it cleared (0: nothing was locked or counted). Raises PRUSR when neither is given. Owner only: npx presence unlock.';

revoke all on function presence_accounts.sign_in_wait(text, text) from public;
revoke all on function presence_accounts.lift_sign_in_lock(text, text) from public;
