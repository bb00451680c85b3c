// Sign-in sessions on the HTTP side: an opaque random token in an HttpOnly cookie; the database keeps only its
// SHA-256 (presence_private.auth_sessions), so sessions are server-side and revocable.
import { createHash, randomBytes } from 'node:crypto';
import type { CookieOptions, NextFunction, Request, RequestHandler, Response } from 'express';
import type pg from 'pg';
import type { Config } from './config.ts';
import { sessionUser, type SessionUser } from './db/sessionUser.ts';
import { HttpError, unauthenticated } from './http-error.ts';

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
  const token: unknown = req.cookies?.[SESSION_COOKIE];
  return typeof token === 'string' && token.length > 0 && token.length <= 200 ? hashToken(token) : null;
}

export function cookieOptions(config: Config): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, path: '/' };
}

export function setSessionCookie(res: Response, config: Config, token: string): void {
  res.cookie(SESSION_COOKIE, token, { ...cookieOptions(config), maxAge: config.sessionTtlS * 1000 });
}

export function clearSessionCookie(res: Response, config: Config): void {
  res.clearCookie(SESSION_COOKIE, cookieOptions(config));
}

const users = new WeakMap<Request, SessionUser>();

/** Middleware: 401 unless the cookie names a live sign-in session; the user is then `currentUser(req)`. */
export function requireUser(db: pg.Pool): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const hash = sessionTokenHash(req);
    const user = hash && (await sessionUser(db, hash));
    if (!user) throw unauthenticated();
    users.set(req, user);
    next();
  };
}

export function currentUser(req: Request): SessionUser {
  const user = users.get(req);
  if (!user) throw new Error('currentUser() outside requireUser()');
  return user;
}

/** The signed-in user's agent, or 403 for a user who is not an agent (a supervisor). */
export function currentAgent(req: Request): { tenantId: string; agentId: string } {
  const user = currentUser(req);
  if (!user.agentId) throw new HttpError(403, 'not_an_agent', `a ${user.role} is not an agent and has no status`);
  return { tenantId: user.tenantId, agentId: user.agentId };
}
