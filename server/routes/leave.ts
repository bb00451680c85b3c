// POST /api/auth/leave: the goodbye of a closing tab, sent with navigator.sendBeacon on pagehide. A beacon
// carries a text/plain (or JSON) body and the cookie; the Origin check (installOriginCheck) refuses other sites.
import express, { type Express } from 'express';
import { z } from 'zod';
import { sessionTokenHash } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { leave } from '../db/leave.ts';
import { parseInput } from '../errors.ts';
import { sessionIdSchema } from '../validation.ts';
import { HttpError, unauthenticated } from '../http-error.ts';

const leaveBody = z.object({ sessionId: sessionIdSchema });

function parseTextBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    throw new HttpError(400, 'malformed_json', 'the request body is not valid JSON');
  }
}

export function installLeave(app: Express, { db }: AppContext): void {
  app.post('/api/auth/leave', express.text({ type: 'text/plain', limit: '4kb' }), async (req, res) => {
    const hash = sessionTokenHash(req);
    if (!hash) throw unauthenticated();
    const { sessionId } = parseInput(leaveBody, parseTextBody(req.body));
    await leave(db, hash, sessionId);
    res.status(204).end();
  });
}
