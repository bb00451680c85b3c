// Input shapes of the presence routes (the shared ones, pgText and the tab id, are in server/http/input.ts).
import { z } from 'zod';
import { pgText } from '../http/input.ts';

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

/** A tenant reason's id in a path: what the reasons routes returned (a uuid). */
export const reasonIdSchema = z.uuid({ error: 'must be a reason id this API returned' });

/** A day in a query string: YYYY-MM-DD. */
export const daySchema = pgText().regex(/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/, 'must be a date as YYYY-MM-DD');
