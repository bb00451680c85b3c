// useAgentStream: the team as the server pushes it over SSE (GET {basePath}/stream): a `snapshot` of every agent on
// connect, then a `status` event on every transition, including a timeout the moment the database sees it, and a
// `summary` of the team's figures whenever they change. No polling, and no snapshot again while the stream stays
// open: an agent reading live has beaten within its tenant's offline_after_s (the database says so by not sending a
// timeout), so its snapshot's lastSeen is not refreshed and should not be shown as its last beat; an agent that goes
// offline carries the moment it did (`offlineSince`). Each agent carries the local time its figures arrived, so an
// offline agent's "last seen" can tick on from the server's secondsSinceSeen without trusting this clock. Every
// field comes from the server.
import { useEffect, useRef, useState } from 'react';
import type { Agent, Mechanism, StatusChange, Summary } from '../../../server/http/contract.ts';
import { resolvePaths, type PresenceClientOptions } from './api.ts';

export interface LiveAgent extends Agent {
  /** Date.now() when secondsSinceSeen was current. */
  receivedAt: number;
  /**
   * When the agent went offline, as the transition that said so dated it (database clock, ISO 8601); null while it
   * reads live, or when it was offline already in the snapshot (its lastSeen then is its last beat).
   */
  offlineSince: string | null;
}

export interface LiveSummary extends Summary {
  /** Date.now() when it arrived: with `at`, how far this clock is from the database's. */
  receivedAt: number;
}

export interface AgentStream {
  /** null until the first snapshot. */
  agents: LiveAgent[] | null;
  /**
   * Transitions received since this page connected, per agent, in the order they arrived. A transition's `at` may
   * lie in the past (an agent gone silent is recorded offline at last beat + offline_after_s): place it by `at`.
   */
  changes: ReadonlyMap<string, readonly StatusChange[]>;
  /** The newest `summary` event, null until one arrives (useSummary fetches the first). */
  summary: LiveSummary | null;
  connected: boolean;
  /** The stream was open and is down now (server restarting, unreachable, answering 503): reconnecting. */
  reconnecting: boolean;
}

export interface AgentStreamOptions extends PresenceClientOptions {
  /** false pauses: no stream is open. Default true. */
  enabled?: boolean;
  /** The server refused or closed the stream for good (signed out, say); the caller may re-check the session. */
  onClosed?: () => void;
  createEventSource?: (url: string) => EventSource;
  /** How long to wait before reconnecting after the server refused the stream. Default 3 s. */
  reconnectMs?: number;
}

const maxChangesPerAgent = 500;

// EventSource.readyState once the browser has given up on a stream (after an HTTP error answer).
const CLOSED = 2;

// Reasons that mean "the agent just beat", so its last beat is the event's own time.
const beatReasons = new Set<Mechanism>(['heartbeat', 'active', 'idle']);

// Mechanisms that set the chosen status, so its reason, end and author come with the transition.
const choosingMechanisms = new Set<Mechanism>(['manual', 'supervisor', 'admin', 'expiry']);

/** The agent after one transition: every field the event carries, the rest as the last snapshot said. */
export function applyChange(agent: LiveAgent, change: StatusChange, receivedAt: number): LiveAgent {
  let next: LiveAgent = {
    ...agent,
    status: change.to,
    chosenStatus: change.chosenStatus,
    mechanism: change.mechanism,
    since: change.at,
    offlineSince: change.to === 'offline' ? change.at : null,
  };
  if (choosingMechanisms.has(change.mechanism)) {
    next = { ...next, reason: change.reason, until: change.until, setBy: change.actor };
  }
  if (beatReasons.has(change.mechanism)) next = { ...next, lastSeen: change.at, secondsSinceSeen: 0, receivedAt };
  return next;
}

export function useAgentStream(options: AgentStreamOptions = {}): AgentStream {
  const [agents, setAgents] = useState<LiveAgent[] | null>(null);
  const [changes, setChanges] = useState<ReadonlyMap<string, readonly StatusChange[]>>(new Map());
  const [summary, setSummary] = useState<LiveSummary | null>(null);
  const [connected, setConnected] = useState(false);
  const [reconnecting, setReconnecting] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const latest = useRef(options);
  latest.current = options;
  const { enabled = true } = options;
  const url = resolvePaths(options).stream;

  useEffect(() => {
    if (!enabled) return;
    const create = latest.current.createEventSource ?? ((u: string) => new EventSource(u));
    const source = create(url);
    let reconnect: ReturnType<typeof setTimeout> | undefined;

    const onOpen = () => {
      setConnected(true);
      setReconnecting(false);
    };
    const onSnapshot = (event: MessageEvent<string>) => {
      const { agents: fresh } = JSON.parse(event.data) as { agents: Agent[] };
      const receivedAt = Date.now();
      onOpen();
      setAgents(fresh.map((agent) => ({ ...agent, receivedAt, offlineSince: null })));
    };
    const onStatus = (event: MessageEvent<string>) => {
      const change = JSON.parse(event.data) as StatusChange;
      const receivedAt = Date.now();
      setAgents(
        (current) => current?.map((agent) => (agent.id === change.agentId ? applyChange(agent, change, receivedAt) : agent)) ?? null,
      );
      setChanges((current) => {
        const next = new Map(current);
        // The picture covers 24 hours; a page left open for days keeps only the newest transitions.
        next.set(change.agentId, [...(current.get(change.agentId) ?? []), change].slice(-maxChangesPerAgent));
        return next;
      });
    };
    const onSummary = (event: MessageEvent<string>) => {
      setSummary({ ...(JSON.parse(event.data) as Summary), receivedAt: Date.now() });
    };
    const onError = () => {
      setConnected(false);
      setReconnecting(true);
      // EventSource reconnects by itself after a network error; after an HTTP error it gives up (CLOSED).
      if (source.readyState === CLOSED) {
        latest.current.onClosed?.();
        reconnect = setTimeout(() => setAttempt((n) => n + 1), latest.current.reconnectMs ?? 3_000);
      }
    };

    source.addEventListener('open', onOpen);
    source.addEventListener('snapshot', onSnapshot as EventListener);
    source.addEventListener('status', onStatus as EventListener);
    source.addEventListener('summary', onSummary as EventListener);
    source.addEventListener('error', onError);
    return () => {
      clearTimeout(reconnect);
      source.removeEventListener('open', onOpen);
      source.removeEventListener('snapshot', onSnapshot as EventListener);
      source.removeEventListener('status', onStatus as EventListener);
      source.removeEventListener('summary', onSummary as EventListener);
      source.removeEventListener('error', onError);
      source.close();
      setConnected(false);
    };
  }, [enabled, attempt, url]);

  return { agents, changes, summary, connected, reconnecting: enabled && reconnecting };
}
