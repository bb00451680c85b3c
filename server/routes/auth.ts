// Sign-in, who am I, sign-out.
import argon2 from 'argon2';
import type { Express, Request } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import {
  clearSessionCookie,
  currentUser,
  newSessionToken,
  requireUser,
  sessionTokenHash,
  setSessionCookie,
} from '../auth.ts';
import type { AppContext } from '../context.ts';
import { loginCandidate, startSession } from '../db/login.ts';
import { logout } from '../db/logout.ts';
import type { SessionUser } from '../db/sessionUser.ts';
import { parseInput } from '../errors.ts';
import { sessionIdSchema } from '../validation.ts';
import { HttpError } from '../http-error.ts';

export interface Me {
  user: { id: string; email: string; name: string; role: SessionUser['role'] };
  tenant: { id: string; name: string };
  agent: { id: string; status: string; chosenStatus: string } | null;
  settings: { heartbeatIntervalMs: number; offlineAfterMs: number; awayAfterMs: number };
}

export function toMe(u: SessionUser): Me {
  return {
    user: { id: u.userId, email: u.email, name: u.name, role: u.role },
    tenant: { id: u.tenantId, name: u.tenantName },
    agent: u.agentId ? { id: u.agentId, status: u.agentStatus!, chosenStatus: u.agentChosenStatus! } : null,
    settings: {
      heartbeatIntervalMs: u.heartbeatIntervalS * 1000,
      offlineAfterMs: u.offlineAfterS * 1000,
      awayAfterMs: u.awayAfterS * 1000,
    },
  };
}

const loginBody = z.object({
  email: z.string().trim().min(1).max(320),
  password: z.string().min(1).max(1024),
});

const logoutBody = z.object({ sessionId: sessionIdSchema.optional() });

const invalidCredentials = () => new HttpError(401, 'invalid_credentials', 'invalid email or password');
const tooManyAttempts = () => new HttpError(429, 'rate_limited', 'too many sign-in attempts: try again later');

function accountKey(req: Request): string {
  const email: unknown = req.body?.email;
  return typeof email === 'string' ? email.trim().toLowerCase() : '';
}

export function installAuth(app: Express, ctx: AppContext): void {
  const { config, db } = ctx;
  const { perAddress, perAccount, windowMs } = config.loginLimits;
  const limitByAddress = rateLimit({
    windowMs,
    limit: perAddress,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next) => next(tooManyAttempts()),
  });
  // Per account, only failed attempts count: a guesser cannot lock the owner out by succeeding.
  const limitByAccount = rateLimit({
    windowMs,
    limit: perAccount,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    keyGenerator: accountKey,
    handler: (_req, _res, next) => next(tooManyAttempts()),
  });
  // Verifying against a throwaway hash when the e-mail is unknown keeps both answers equally slow.
  const decoyHash = argon2.hash(newSessionToken().token, { type: argon2.argon2id });

  app.post('/api/auth/login', limitByAddress, limitByAccount, async (req, res) => {
    const { email, password } = parseInput(loginBody, req.body);
    const candidate = await loginCandidate(db, email);
    const verified = await argon2.verify(candidate?.passwordHash ?? (await decoyHash), password);
    if (!candidate || !verified) throw invalidCredentials();
    const { token, hash } = newSessionToken();
    const user = await startSession(db, candidate.userId, hash, config.sessionTtlS);
    if (!user) throw invalidCredentials();
    setSessionCookie(res, config, token);
    res.json(toMe(user));
  });

  app.get('/api/auth/me', requireUser(db), (req, res) => {
    res.json(toMe(currentUser(req)));
  });

  app.post('/api/auth/logout', async (req, res) => {
    const { sessionId } = parseInput(logoutBody, req.body ?? {});
    const hash = sessionTokenHash(req);
    if (hash) await logout(db, hash, sessionId ?? null);
    clearSessionCookie(res, config);
    res.status(204).end();
  });
}
