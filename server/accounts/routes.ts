// This project's own sign-in: POST /api/auth/login, GET /api/auth/me, POST /api/auth/logout.
import type { Express } from 'express';
import express from 'express';
import { z } from 'zod';
import type { Database } from '../database/handle.ts';
import { AUTH_PATHS, type AgentStatus, type LoginRequest, type LogoutRequest, type Me, type RateLimitedSignIn } from '../http/contract.ts';
import { HttpError, unauthenticated } from '../http/http-error.ts';
import { parseInput, pgText, tabIdSchema } from '../http/input.ts';
import { originCheck } from '../http/origin.ts';
import { clearSignInCookie, newSignInToken, signInTokenHash, setSignInCookie, type CookieSettings } from './cookie.ts';
import { canManage, type SignedInUsers } from './signed-in.ts';
import type { SignInGate } from './sign-in-gate.ts';
import { logout } from './sql/logout.ts';
import { signIn } from './sql/sign-in.ts';
import { signedInUsers, type SignedInUser } from './sql/signed-in-users.ts';

export function toMe(u: SignedInUser): Me {
  return {
    user: { id: u.userId, email: u.email, name: u.name, role: u.role },
    tenant: { id: u.tenantId, name: u.tenantName },
    agent: u.agentId
      ? { id: u.agentId, status: u.agentStatus as AgentStatus, chosenStatus: u.agentChosenStatus as AgentStatus }
      : null,
    settings: {
      heartbeatIntervalMs: u.heartbeatIntervalS * 1000,
      offlineAfterMs: u.offlineAfterS * 1000,
      awayAfterMs: u.awayAfterS * 1000,
      timeZone: u.timeZone,
    },
    canManage: canManage(u.role),
  };
}

const loginBody = z.object({
  email: pgText().trim().min(1).max(320),
  password: pgText().min(1).max(1024),
}) satisfies z.ZodType<LoginRequest>;

// Kept for clients that name their tab; every tab of the sign-in ends anyway.
const logoutBody = z.object({ sessionId: tabIdSchema.optional() }) satisfies z.ZodType<LogoutRequest>;

/** How long a lock lasts, as the sign-in page says it: "15 minutes", "1 minute", "40 seconds". */
function humanWait(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

export function installAccounts(
  app: Express,
  {
    db,
    signIns,
    signedIn,
    cookies,
  }: { db: Database; signIns: { db: Database; gate: SignInGate }; signedIn: SignedInUsers; cookies: CookieSettings },
): void {
  const json = express.json({ limit: '16kb' });

  app.post(AUTH_PATHS.login, originCheck, json, async (req, res) => {
    const { email, password } = parseInput(loginBody, req.body);
    const { token, hash } = newSignInToken();
    const result = await signIns.gate.run(() =>
      signIn(signIns.db, { email, password, address: req.ip ?? 'unknown', tokenHash: hash, ttlS: cookies.ttlS }),
    );
    if (result.outcome === 'rate_limited') {
      // The wait in the body too, for a page that cannot read Retry-After through its API client.
      res.status(429).set('Retry-After', String(result.retryAfterS)).json({
        error: `too many failed sign-in attempts: try again in ${humanWait(result.retryAfterS)}`,
        code: 'rate_limited',
        retryAfterS: result.retryAfterS,
      } satisfies RateLimitedSignIn);
      return;
    }
    if (result.outcome !== 'ok') throw new HttpError(401, 'invalid_credentials', 'invalid email or password');
    const [user] = await signedInUsers(db, [hash]);
    if (!user) throw new HttpError(401, 'invalid_credentials', 'invalid email or password');
    setSignInCookie(res, cookies, token);
    res.json(toMe(user) satisfies Me);
  });

  app.get(AUTH_PATHS.me, async (req, res) => {
    const user = await signedIn.user(req);
    if (!user) throw unauthenticated();
    res.json(toMe(user));
  });

  app.post(AUTH_PATHS.logout, originCheck, json, async (req, res) => {
    parseInput(logoutBody, req.body ?? {});
    const hash = signInTokenHash(req);
    if (hash) await logout(db, hash);
    clearSignInCookie(res, cookies);
    res.status(204).end();
  });
}
