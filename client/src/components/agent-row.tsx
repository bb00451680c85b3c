import type { LiveAgent, StatusChange } from '../presence/index.ts';
import { clockTime, endTime, formatFor, setByOther } from '../console.ts';
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
  /** How far the database's clock is ahead of this one (ms), for "for 12 min". */
  skewMs: number;
  timeZone: string;
  /** Opens the agent's panel; none: the row is not a button. */
  onOpen?: (agentId: string) => void;
  selected?: boolean;
  /** A manager's one-click offline, for an agent who does not read offline (a ghost, say). */
  onTakeOffline?: (agentId: string) => void;
}

export function AgentRow({ agent, isMe, changes, now, minute, skewMs, timeZone, onOpen, selected, onTakeOffline }: AgentRowProps) {
  // A live agent has beaten within its tenant's offline_after_s, or the stream would have said otherwise: its
  // snapshot's last beat is old news. An offline agent: when the stream saw it go offline, else the server's figure
  // plus the time since it arrived (an offline agent does not beat). The database clock stays the only clock.
  const seen =
    agent.status !== 'offline'
      ? 'online now'
      : agent.offlineSince !== null
        ? `offline since ${clockTime(agent.offlineSince, timeZone)}`
        : agent.secondsSinceSeen === null
          ? 'never seen'
          : `last seen ${formatSince(agent.secondsSinceSeen + Math.max(0, Math.floor((now - agent.receivedAt) / 1000)))} ago`;
  const by = setByOther(agent);
  const forHow = agent.since === null ? null : formatFor((now + skewMs - Date.parse(agent.since)) / 1000);
  const name = (
    <>
      {agent.name}
      {isMe && <span className="you"> (you)</span>}
    </>
  );
  return (
    <li
      className={selected ? 'agent-row agent-row-selected' : 'agent-row'}
      data-testid="agent-row"
      data-email={agent.email}
      data-status={agent.status}
    >
      <div className="agent-facts">
        <StatusBadge status={agent.status} />
        <span className="agent-name">
          {onOpen ? (
            <button type="button" className="link" aria-expanded={selected ?? false} onClick={() => onOpen(agent.id)}>
              {name}
            </button>
          ) : (
            name
          )}
        </span>
        <span className="agent-chats">
          {agent.activeChats} of {agent.maxChats} chats
        </span>
        <span className="agent-seen">{seen}</span>
        <span className="agent-state" data-testid="agent-state">
          {agent.reason && <span className="agent-reason">{agent.reason.label}</span>}
          {forHow && <span>for {forHow}</span>}
          {agent.until && <span>until {endTime(agent.until, now + skewMs, timeZone)}</span>}
          {by && <span className="agent-set-by">set by {by}</span>}
        </span>
        {onTakeOffline && agent.status !== 'offline' && (
          <button type="button" className="secondary small" onClick={() => onTakeOffline(agent.id)}>
            Take offline
          </button>
        )}
      </div>
      <Timeline agentId={agent.id} agentName={agent.name} changes={changes} now={minute} timeZone={timeZone} />
    </li>
  );
}
