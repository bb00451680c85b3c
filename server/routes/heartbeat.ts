// POST /api/auth/heartbeat: one beat of one browser tab. Authentication and the beat are one SQL call, shared
// with the other beats in flight (HeartbeatBatcher): at most one database round trip per request.
import type { Express } from 'express';
import { z } from 'zod';
import { sessionTokenHash } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { parseInput } from '../errors.ts';
import { sessionIdSchema } from '../validation.ts';
import { unauthenticated } from '../http-error.ts';

const heartbeatBody = z.object({
  sessionId: sessionIdSchema,
  activity: z.enum(['active', 'idle']).default('active'),
});

export function installHeartbeat(app: Express, { heartbeats, metrics }: AppContext): void {
  app.post('/api/auth/heartbeat', async (req, res) => {
    const stopTimer = metrics.heartbeatSeconds.startTimer();
    try {
      const hash = sessionTokenHash(req);
      if (!hash) throw unauthenticated();
      const { sessionId, activity } = parseInput(heartbeatBody, req.body);
      const result = await heartbeats.beat(hash, sessionId, activity);
      metrics.heartbeats.inc({ outcome: result.outcome });
      switch (result.outcome) {
        case 'unauthenticated':
          throw unauthenticated();
        case 'not_agent':
          res.json({ status: null, lastSeen: null, intervalMs: null });
          return;
        case 'beat':
          res.json({
            status: result.status,
            lastSeen: result.lastSeen.toISOString(),
            intervalMs: result.heartbeatIntervalS * 1000,
          });
      }
    } finally {
      stopTimer();
    }
  });
}
