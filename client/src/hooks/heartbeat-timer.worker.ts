// The heartbeat's clock, in a dedicated worker: Chrome throttles chained timers of a tab hidden for 5 minutes to
// one wake-up a minute, which is slower than the beat; timers in a dedicated worker are not throttled that way.
// One pending wake-up at a time: `schedule` replaces it, `cancel` drops it; each tick names the schedule it answers.
import type { TimerCommand, TimerTick } from './beat-timer.ts';

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<TimerCommand>) => void) | null;
  postMessage(message: TimerTick): void;
};

let pending: ReturnType<typeof setTimeout> | undefined;

scope.onmessage = (event) => {
  const command = event.data;
  clearTimeout(pending);
  pending = undefined;
  if (command.type === 'schedule') {
    pending = setTimeout(() => {
      pending = undefined;
      scope.postMessage({ type: 'tick', id: command.id });
    }, command.delayMs);
  }
};
