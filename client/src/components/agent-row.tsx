import type { LiveAgent, StatusChange } from '../presence/index.ts';
import { formatSince } from '../timeline.ts';
import { StatusBadge } from './status-badge.tsx';
import { Timeline } from './timeline.tsx';

export interface AgentRowProps {
  agent: LiveAgent;
  isMe: boolean;
  changes: readonly StatusChange[];
  /** Local time, ticking every second. */
  now: number;
  /** Local time, ticking every minute: the timeline's right edge. */
  minute: number;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function AgentRow({ agent, isMe, changes, now, minute }: AgentRowProps) {
  // A live agent has beaten within its tenant's offline_after_s, or the stream would have said otherwise: its
  // snapshot's last beat is old news. An offline agent: when the stream saw it go offline, else the server's figure
  // plus the time since it arrived (an offline agent does not beat). The database clock stays the only clock.
  const seen =
    agent.status !== 'offline'
      ? 'online now'
      : agent.offlineSince !== null
        ? `offline since ${timeOfDay.format(new Date(agent.offlineSince))}`
        : agent.secondsSinceSeen === null
          ? 'never seen'
          : `last seen ${formatSince(agent.secondsSinceSeen + Math.max(0, Math.floor((now - agent.receivedAt) / 1000)))} ago`;
  return (
    <li className="agent-row" data-testid="agent-row" data-email={agent.email} data-status={agent.status}>
      <div className="agent-facts">
        <StatusBadge status={agent.status} />
        <span className="agent-name">
          {agent.name}
          {isMe && <span className="you"> (you)</span>}
        </span>
        <span className="agent-chats">
          {agent.activeChats} of {agent.maxChats} chats
        </span>
        <span className="agent-seen">{seen}</span>
      </div>
      <Timeline agentId={agent.id} agentName={agent.name} changes={changes} now={minute} />
    </li>
  );
}
