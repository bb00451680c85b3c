// Input parsing shared by every route: a zod schema, and a failure as a 400 whose message names each bad field.
// PostgreSQL text cannot hold a NUL byte: a string that has one is a 400 naming its field here, not a refused
// statement later.
import { z } from 'zod';
import { HttpError } from './http-error.ts';

/** Validates input with a zod schema; a failure is a 400 whose message names each bad field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  throw new HttpError(400, 'invalid_input', message);
}

/** A string PostgreSQL accepts as text. */
export const pgText = () => z.string().refine((s) => !s.includes('\u0000'), 'must not contain NUL bytes');

/** A browser tab's id (the wire's `sessionId`): what presence_private.check_session_id accepts, minus control characters. */
export const tabIdSchema = pgText()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
