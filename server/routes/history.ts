// GET /api/agents/:id/history?from=&to=: one agent's status timeline (default: the last 24 hours).
import type { Express } from 'express';
import { z } from 'zod';
import { currentUser, requireUser } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { agentHistory } from '../db/history.ts';
import { parseInput } from '../errors.ts';

const historyParams = z.object({ id: z.uuid() });
const historyQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

export function installHistory(app: Express, { db }: AppContext): void {
  app.get('/api/agents/:id/history', requireUser(db), async (req, res) => {
    const { id } = parseInput(historyParams, req.params);
    const { from, to } = parseInput(historyQuery, req.query);
    const history = await agentHistory(
      db,
      currentUser(req).tenantId,
      id,
      from ? new Date(from) : null,
      to ? new Date(to) : null,
    );
    res.json({ agentId: id, ...history });
  });
}
