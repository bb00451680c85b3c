// Sign-in sessions on the HTTP side: an opaque random token in an HttpOnly cookie; the database keeps only its
// SHA-256 (presence_accounts.auth_sessions), so sessions are server-side and revocable.
import { createHash, randomBytes } from 'node:crypto';
import { parse } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';

export const SESSION_COOKIE = 'presence_session';

export function newSessionToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** The SHA-256 of the request's session cookie, or null without one. */
export function sessionTokenHash(req: Request): Buffer | null {
  const header = req.headers.cookie;
  if (!header) return null;
  const token = parse(header)[SESSION_COOKIE];
  return typeof token === 'string' && token.length > 0 && token.length <= 200 ? hashToken(token) : null;
}

export interface CookieSettings {
  secure: boolean;
  ttlS: number;
}

function cookieOptions({ secure }: CookieSettings): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure, path: '/' };
}

export function setSessionCookie(res: Response, settings: CookieSettings, token: string): void {
  res.cookie(SESSION_COOKIE, token, { ...cookieOptions(settings), maxAge: settings.ttlS * 1000 });
}

export function clearSessionCookie(res: Response, settings: CookieSettings): void {
  res.clearCookie(SESSION_COOKIE, cookieOptions(settings));
}
