-- Up Migration

-- Every transition on the record: besides what caused it (today's column reason, the mechanism), the tenant reason
-- of the chosen status when one was named, and who did it where a person did (the platform's own user id and the
-- name it gave). Null for the events before, and for transitions no person caused (timeouts, expiries, beats).
-- No foreign key to the reasons: the log is append-only, and a reason is never deleted but with its tenant.

alter table presence.status_events
  add column reason_id uuid,
  add column actor_id text,
  add column actor_name text;
comment on column presence.status_events.reason_id is 'The tenant reason (presence.reasons) of the chosen status after the transition, when one was named.';
comment on column presence.status_events.actor_id is 'Who caused the transition, as the platform knows them (its user id): the agent, a supervisor; null when no person did.';
comment on column presence.status_events.actor_name is 'The name the platform gave for actor_id when it was recorded.';
