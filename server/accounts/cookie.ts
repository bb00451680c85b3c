// Sign-ins on the HTTP side: an opaque random token in an HttpOnly cookie (named presence_session, as browsers
// already hold it); the database keeps only its SHA-256 (presence_accounts.auth_sessions), so sign-ins are
// server-side and revocable.
import { createHash, randomBytes } from 'node:crypto';
import { parse } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';

export const SIGN_IN_COOKIE = 'presence_session';

export function newSignInToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The SHA-256 of the request's sign-in cookie, or null without one. */
export function signInTokenHash(req: Request): Buffer | null {
  const header = req.headers.cookie;
  if (!header) return null;
  const token = parse(header)[SIGN_IN_COOKIE];
  return typeof token === 'string' && token.length > 0 && token.length <= 200 ? hashToken(token) : null;
}

export interface CookieSettings {
  secure: boolean;
  ttlS: number;
}

function cookieOptions({ secure }: CookieSettings): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure, path: '/' };
}

export function setSignInCookie(res: Response, settings: CookieSettings, token: string): void {
  res.cookie(SIGN_IN_COOKIE, token, { ...cookieOptions(settings), maxAge: settings.ttlS * 1000 });
}

export function clearSignInCookie(res: Response, settings: CookieSettings): void {
  res.clearCookie(SIGN_IN_COOKIE, cookieOptions(settings));
}
