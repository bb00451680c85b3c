// GET /api/agents/stream: Server-Sent Events of the user's tenant (see StreamHub for the format).
import type { Express } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import type { AppContext } from '../context.ts';

export function installStream(app: Express, { db, streams }: AppContext): void {
  app.get('/api/agents/stream', requireUser(db), async (req, res) => {
    await streams.open(res, currentUser(req));
  });
}
