// The tenant's agents, and an agent's own status choice.
import type { Express } from 'express';
import { z } from 'zod';
import { currentAgent, currentUser, requireUser } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { agentsOfTenant } from '../db/agents.ts';
import { setStatus } from '../db/setStatus.ts';
import { parseInput } from '../errors.ts';

const STATUSES = ['available', 'away', 'dnd', 'offline'] as const;

const statusBody = z.object({
  status: z.enum(STATUSES, { error: `status must be one of ${STATUSES.join(', ')}` }),
});

export function installAgents(app: Express, { db }: AppContext): void {
  app.get('/api/agents', requireUser(db), async (req, res) => {
    res.json({ agents: await agentsOfTenant(db, currentUser(req).tenantId) });
  });

  app.put('/api/agents/me/status', requireUser(db), async (req, res) => {
    const { tenantId, agentId } = currentAgent(req);
    const { status } = parseInput(statusBody, req.body);
    res.json({ status: await setStatus(db, tenantId, agentId, status) });
  });
}
