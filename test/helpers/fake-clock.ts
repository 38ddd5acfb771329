/**
 * A deterministic clock for the router's executor (its `now` and `sleep` deps). Time only moves when a
 * test says so: `advance(ms)` (e.g. to simulate an attempt's latency) or `sleep(ms)`, which adds `ms`
 * to the clock at once and resolves on the next microtask — no real waiting, no timers.
 */
export interface FakeClock {
  now(): number;
  /** Advances the clock by `ms` and resolves; rejects with the signal's reason if it is (or gets) aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  advance(ms: number): void;
  /** Every sleep requested, in order, with the clock time when it started. */
  readonly sleeps: { at: number; ms: number }[];
  /** Called inside each sleep after time has moved (e.g. to abort a signal while the executor waits). */
  onSleep: ((ms: number) => void) | undefined;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

export function createFakeClock(start = 0): FakeClock {
  let t = start;
  const clock: FakeClock = {
    now: () => t,
    advance(ms: number) {
      if (!(ms >= 0)) throw new Error(`fake clock cannot go back (${ms})`);
      t += ms;
    },
    sleeps: [],
    onSleep: undefined,
    async sleep(ms: number, signal?: AbortSignal) {
      if (signal?.aborted) throw abortReason(signal);
      clock.sleeps.push({ at: t, ms });
      t += Math.max(0, ms);
      clock.onSleep?.(ms);
      if (signal?.aborted) throw abortReason(signal);
    },
  };
  return clock;
}
