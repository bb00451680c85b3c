-- Up Migration

-- Generic plans for the statements of the batched heartbeat. Their plans do not depend on the batch (index
-- lookups by agent and tab, whatever the array length), but with array parameters PostgreSQL kept planning
-- each statement afresh on every call. Measured on one connection (npm run bench machine, 2 cores): a call
-- with one beat 441 -> 327-351 us (best of ~5000 calls); about 5 us per beat at the ~20 beats per call seen
-- at 50 connections.
alter function presence.heartbeat_for_session(bytea[], text[], text[], timestamptz)
  set plan_cache_mode = force_generic_plan;
