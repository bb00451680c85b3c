// useHeartbeat: tells the server, every interval it advises, that this tab of a signed-in agent is alive, and how
// the agent is using it. The server (the database, really) decides what that means for the agent's status; this hook
// only reports, and shows whether its reports are getting through.
//
// - Beats go to POST {basePath}/heartbeat, the goodbye beacon to POST {basePath}/leave (or to the `paths` given).
// - The beat's clock is a dedicated Web Worker (beat-timer.ts): hidden tabs are not throttled to a beat a minute.
// - One id per tab and page load (tab-id.ts); on pagehide a beacon ends this tab's presence only.
// - Beats at once when the tab becomes visible, the browser comes back online or the page returns from bfcache.
// - No pointer, key or focus input for awayAfterMs: beats `idle` at once; the next input beats `active` at once.
// - Failed beats retry with exponential backoff and jitter and set `reaching: false` (and `unavailable: true` when
//   the server could not be reached or answered 502/503/504); a 401 stops everything and calls onUnauthorized.
// - Every listener, the worker and every timer are released when the hook unmounts or `enabled` turns false.
import { useEffect, useRef, useState } from 'react';
import type { Activity, AgentStatus } from '../../../server/http/contract.ts';
import { createPresenceApi, HttpError, type PresenceClientOptions } from './api.ts';
import { createBeatTimer, type BeatTimerFactory } from './beat-timer.ts';
import { tabId } from './tab-id.ts';

export interface HeartbeatOptions extends PresenceClientOptions {
  /** false (signed out, or not an agent) pauses: nothing is sent and nothing is listened to. Default true. */
  enabled?: boolean;
  /** The interval until the server advises another one in its reply. Default 30 s, the tenants' default. */
  intervalMs?: number;
  /** The tenant's away_after_s, in ms: this long without input and the tab reports itself idle. Default 5 min. */
  awayAfterMs?: number;
  /** The server answered 401: the sign-in is gone (signed out elsewhere, expired). Beating has stopped. */
  onUnauthorized?: () => void;
  /** This tab's id (sent as the wire's `sessionId`); default one random id per page load (tabId()). */
  tabId?: string;
  /** The beat's clock; default the worker timer (createBeatTimer). createPageTimer uses the page's timers only. */
  createTimer?: BeatTimerFactory;
  /** For tests: the jitter's randomness. */
  random?: () => number;
}

export interface HeartbeatState {
  /** false from the first failed beat until one succeeds: the agent's presence is not reaching the server. */
  reaching: boolean;
  /** The effective status the server answered with; null before the first answer or for a non-agent. */
  status: AgentStatus | null;
  activity: Activity;
  /** Failed beats in a row. */
  failures: number;
  /** Delay before the next retry, while failing. */
  retryInMs: number | null;
  /**
   * true while the last beat failed because the server is down or out of reach: no answer at all, or 502, 503,
   * 504 (the server's answer while its database is unreachable). The page may say it is reconnecting.
   */
  unavailable: boolean;
}

const initialState: HeartbeatState = {
  reaching: true,
  status: null,
  activity: 'active',
  failures: 0,
  retryInMs: null,
  unavailable: false,
};

export const defaultIntervalMs = 30_000;
export const defaultAwayAfterMs = 300_000;
const unavailableStatuses = new Set([502, 503, 504]);

const firstRetryMs = 1_000;
const maxRetryMs = 30_000;

/** Exponential backoff with jitter: 1 s, 2 s, 4 s … up to 30 s, each scaled by a random 50–100 %. */
export function backoffDelay(failures: number, random: number): number {
  const ceiling = Math.min(maxRetryMs, firstRetryMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (0.5 + random / 2));
}

/** Input that proves someone is at the keyboard. Listened to in the capture phase, passively. */
const inputEvents = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus'] as const;

export function useHeartbeat(options: HeartbeatOptions = {}): HeartbeatState {
  const [state, setState] = useState<HeartbeatState>(initialState);
  // The latest options, read when needed, so new callbacks from each render never restart the heartbeat.
  const latest = useRef(options);
  latest.current = options;

  const { enabled = true, awayAfterMs = defaultAwayAfterMs } = options;
  const tab = options.tabId ?? tabId();

  useEffect(() => {
    if (!enabled) return;
    const { createTimer = createBeatTimer } = latest.current;
    // Paths are read at each use, so a caller's new options object each render never restarts the heartbeat.
    const presence = () => createPresenceApi(latest.current);
    const random = () => (latest.current.random ?? Math.random)();

    const aborter = new AbortController();
    let stopped = false;
    // Between pagehide and pageshow the tab has said goodbye: a late beat would bring its presence back.
    let leaving = false;
    let intervalMs = latest.current.intervalMs ?? defaultIntervalMs;
    let failures = 0;
    let inFlight = false;
    let beatAgain = false;
    let lastInput = Date.now();
    let idle = false;
    let idleCheck: ReturnType<typeof setTimeout> | undefined;

    const timer = createTimer(() => void beat());

    async function beat(): Promise<void> {
      if (stopped || leaving) return;
      if (inFlight) {
        // Something changed (visible again, input after idle) while a beat is on its way: send another after it.
        beatAgain = true;
        return;
      }
      timer.cancel();
      inFlight = true;
      // The idle check runs on the page's timers, which a hidden tab throttles; the beat looks for itself.
      if (Date.now() - lastInput >= awayAfterMs) idle = true;
      const activity: Activity = idle ? 'idle' : 'active';
      try {
        const reply = await presence().heartbeat({ sessionId: tab, activity }, aborter.signal);
        if (stopped) return;
        failures = 0;
        setState({ reaching: true, status: reply.status, activity, failures: 0, retryInMs: null, unavailable: false });
        if (reply.status === null) {
          // Signed in, but not as an agent: there is no presence to keep.
          stop();
          return;
        }
        if (reply.intervalMs && reply.intervalMs > 0) intervalMs = reply.intervalMs;
        timer.schedule(intervalMs);
      } catch (error) {
        if (stopped) return;
        if (error instanceof HttpError && error.status === 401) {
          stop();
          latest.current.onUnauthorized?.();
          return;
        }
        failures += 1;
        const retryInMs = backoffDelay(failures, random());
        const unavailable = !(error instanceof HttpError) || unavailableStatuses.has(error.status);
        setState((s) => ({ ...s, reaching: false, failures, retryInMs, unavailable }));
        timer.schedule(retryInMs);
      } finally {
        inFlight = false;
        if (beatAgain && !stopped) {
          beatAgain = false;
          void beat();
        }
      }
    }

    function armIdleCheck(): void {
      clearTimeout(idleCheck);
      idleCheck = setTimeout(checkIdle, Math.max(0, lastInput + awayAfterMs - Date.now()));
    }

    function checkIdle(): void {
      idleCheck = undefined;
      if (Date.now() - lastInput >= awayAfterMs) {
        if (!idle) {
          idle = true;
          void beat();
        }
      } else {
        armIdleCheck();
      }
    }

    // Called on every pointer move: only notes the time, except on the way back from idle.
    function onInput(): void {
      lastInput = Date.now();
      if (idle) {
        idle = false;
        armIdleCheck();
        void beat();
      } else if (idleCheck === undefined) {
        armIdleCheck();
      }
    }

    function onVisibilityChange(): void {
      if (document.visibilityState === 'visible') void beat();
    }

    function onOnline(): void {
      failures = 0;
      void beat();
    }

    function onOffline(): void {
      setState((s) => ({ ...s, reaching: false }));
    }

    function onPageShow(event: PageTransitionEvent): void {
      // Back from the back/forward cache: pagehide ended this tab's presence, the beat starts it again.
      if (event.persisted) {
        leaving = false;
        void beat();
      }
    }

    function onPageHide(): void {
      leaving = true;
      timer.cancel();
      presence().leave(tab);
    }

    const capture = { capture: true, passive: true } as const;
    for (const type of inputEvents) window.addEventListener(type, onInput, capture);
    document.addEventListener('visibilitychange', onVisibilityChange);
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    window.addEventListener('pageshow', onPageShow);
    window.addEventListener('pagehide', onPageHide);

    function stop(): void {
      if (stopped) return;
      stopped = true;
      aborter.abort();
      timer.dispose();
      clearTimeout(idleCheck);
      idleCheck = undefined;
      for (const type of inputEvents) window.removeEventListener(type, onInput, capture);
      document.removeEventListener('visibilitychange', onVisibilityChange);
      window.removeEventListener('online', onOnline);
      window.removeEventListener('offline', onOffline);
      window.removeEventListener('pageshow', onPageShow);
      window.removeEventListener('pagehide', onPageHide);
    }

    armIdleCheck();
    void beat();
    return stop;
  }, [enabled, tab, awayAfterMs]);

  return enabled ? state : initialState;
}
