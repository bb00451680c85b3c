// Input shapes shared by several routes.
import { z } from 'zod';

/** A browser tab's id: what presence_private.check_session_id accepts, minus control characters (PostgreSQL text
 * cannot hold a NUL byte, and none belongs in an id). */
export const sessionIdSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
