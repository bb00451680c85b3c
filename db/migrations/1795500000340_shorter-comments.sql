-- Up Migration

-- The longest `comment on` texts, cut to a few sentences: a comment says what the object is for and what it
-- answers; the mechanism behind it is in the function's body and in db/README.md. Comments only: nothing else changes.

comment on function presence.status_changes_after(bigint, presence.tenant_key[], bigint[], bigint[], integer) is 'What a server reads when channel presence_status rings: the status events after event id p_after for the tenants named, with counts by reason over all tenants for metrics. Returns the id to pass next and the ids whose transaction may still commit, which the caller passes back so that a late commit is read once. Reads only; no clock argument.';

comment on function presence_accounts.sign_in(text, text, text, bytea, integer, text) is 'Signs a user in: verifies the password here (bcrypt, a decoy for an unknown e-mail) and on success stores a sign-in under the SHA-256 of the cookie token. Limits are counted before the password is verified, under a lock on the address then the account, so parallel attempts cannot overshoot them. Outcome ok, invalid, rate_limited (with retry_after_s) or legacy (an argon2 account: call again with p_legacy_digest).';

comment on function presence.agent_history(presence.tenant_key, presence.agent_key, timestamptz, timestamptz, integer, text) is 'One agent''s status timeline in a range of at most 31 days (default the last 24 hours): the status at its start and a page of at most p_limit transitions (default 500, at most 2000), including a timeout readers see that no sweep recorded yet. Pass next_cursor back with the same range for the next page; it is null on the last one. PRAGT for an agent of another tenant, PRUSR for a bad range, limit or cursor.';

comment on function presence.heartbeat(presence.tenant_key, presence.agent_key, text, text, text) is 'Records a beat of one browser tab (upsert) and refreshes human_agents.last_seen; an agent silent past offline_after_s is first recorded offline at the moment it went offline, and an offline agent comes back to its chosen status, which beats never override. p_activity idle or active turns an available agent away and back; p_sign_in names the sign-in the tab beats under. Returns the effective status, the beat time and the heartbeat interval.';

comment on function presence.sweep_stale_agents(timestamptz) is 'Marks offline (reason timeout), each at the moment it went offline, every agent not offline whose newest beat is older than its tenant''s offline_after_s at p_now, and returns to the queue the chats of agents offline longer than release_chats_after_s. Set-based, idempotent, safe beside concurrent beats; returns how many agents it took offline. Owner only: p_now moves the clock for tests and DBAs.';

comment on function presence_private.apply_transitions(presence_private.transition[]) is 'The only writer of human_agents.status: applies the transitions, appends them to presence.status_events and rings channel presence_status on commit with an empty payload. For each agent going offline with chats it enqueues graphile-worker job release_chats. Returns how many transitions happened.';

comment on function presence.end_sign_in(presence.tenant_key, presence.agent_key, text) is 'Sign-out: ends every tab that beat under sign-in p_sign_in (reason logout), so the agent is offline at once unless another live tab remains; p_agent_id is null for a user who is not an agent. Records the ended sign-in for a day and rings channel presence_sign_in_ended, so servers end the live streams opened under it. Returns the agent''s status.';

comment on function presence.heartbeats(presence.tenant_key[], presence.agent_key[], text[], text[], text[]) is 'Many beats in one call, each recorded as presence.heartbeat would, one row per beat in order; agents are locked in key order. A beat that only moves last_seen is applied set-based for the whole batch. One bad beat fails the call: retry its beats one by one.';
