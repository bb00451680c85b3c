// Input shapes shared by several routes. PostgreSQL text cannot hold a NUL byte: a string that has one is a 400
// naming its field here, not a refused statement later.
import { z } from 'zod';

/** A string PostgreSQL accepts as text. */
export const pgText = () => z.string().refine((s) => !s.includes('\u0000'), 'must not contain NUL bytes');

/** A browser tab's id: what presence_private.check_session_id accepts, minus control characters. */
export const sessionIdSchema = pgText()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

/** An agent id in a path: the platform's own key (uuid, text or a number), as a string. */
export const agentIdSchema = pgText()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

/** A history cursor: what presence.agent_history handed out (base64url); the function itself refuses any other. */
export const historyCursorSchema = pgText()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a nextCursor this API returned');

/** A history page size, as a query string: an integer; presence.agent_history says what range it accepts. */
export const historyLimitSchema = pgText()
  .regex(/^[0-9]{1,9}$/, 'must be a whole number of events')
  .transform(Number);
