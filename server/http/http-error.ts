// An error a handler means the client to see: an HTTP status, a stable machine code and a message (the browser's
// HttpError, client/src/presence/api.ts, takes the same three first).
import type { ErrorCode } from './contract.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers (Retry-After, say). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const unauthenticated = () => new HttpError(401, 'unauthenticated', 'sign in first: no valid session');
