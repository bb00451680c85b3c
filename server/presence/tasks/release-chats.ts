// graphile-worker task release_chats, enqueued by presence_private.apply_transitions when an agent with chats goes
// offline: after the tenant's grace, its chats go back to the queue unless it came back.
import type { Task } from 'graphile-worker';

export const releaseChats: Task = async (payload, helpers) => {
  const { agentId } = payload as { agentId: string | number };
  const { rows } = await helpers.query<{ released: number }>('select presence.release_chats($1) as released', [
    String(agentId),
  ]);
  if (rows[0]!.released > 0) helpers.logger.info(`returned ${rows[0]!.released} chats of agent ${agentId} to the queue`);
};
