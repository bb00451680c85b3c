// The Origin check of every cookie-authenticated write.
import type { RequestHandler } from 'express';
import { HttpError } from './http-error.ts';

/**
 * Cookie-authenticated writes must come from the platform's own pages: a request that states a foreign Origin is
 * refused. (SameSite=Lax keeps most cross-site requests from carrying the cookie; a text/plain beacon is the case it
 * misses.) Host against host, not scheme: behind a proxy that ends TLS the server itself sees plain http.
 */
export const originCheck: RequestHandler = (req, _res, next) => {
  const origin = req.get('origin');
  if (origin !== undefined && originHost(origin) !== req.get('host')) {
    throw new HttpError(403, 'forbidden_origin', `requests from origin ${origin} are not allowed`);
  }
  next();
};

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null; // `null` (sandboxed pages, file:) or garbage: never our own
  }
}
