import type { BreakerConfig } from '../config/index.ts';

/**
 * Circuit breakers, one per target (`provider/model`), shared by every route and request of the process.
 *
 * - closed: calls flow; failures are counted (in a row, and as a rate over `windowMs`);
 * - open: the target is skipped (planning excludes it with the reason) until the cooldown ends;
 * - half-open: up to `halfOpenProbes` requests are let through at a time; the first success closes the
 *   circuit, a failure reopens it for another cooldown.
 * An `auth` failure (a bad key) opens the circuit for `authBrokenMs` at once: a broken deployment is
 * not retried by every request until someone fixes its key.
 *
 * `peek` is synchronous because planning reads it for every target of every request. A shared (Redis)
 * implementation answers `peek` from a local copy it refreshes in the background (and on its own
 * writes), and makes `acquire` (the half-open probe slot, which must be shared) and `report` async; the
 * executor awaits both. Until the copy refreshes, an instance may plan with a state a moment old; the
 * executor's `acquire` is the authoritative check.
 */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** What an attempt's result means for its target's circuit. */
export type BreakerOutcome =
  /** The target answered. */
  | 'success'
  /** The target failed in a way that says it is unhealthy (5xx, overload, timeout, broken stream). */
  | 'failure'
  /** Says nothing about the target's health (caller's fault, rate limit, cancellation); frees a probe slot. */
  | 'neutral'
  /** The deployment cannot work as configured (bad key): open for `authBrokenMs`. */
  | 'broken';

export interface BreakerSnapshot {
  state: CircuitState;
  /** While open: when probes will be let through. */
  openUntil?: number | undefined;
  /** Why it opened ("5 consecutive failures", "error rate 60% over 20 calls", "auth: …"). */
  reason?: string | undefined;
  /** Calls and failures in the rate window (closed state). */
  calls: number;
  failures: number;
}

export interface BreakerState {
  peek(key: string, now: number): BreakerSnapshot;
  /** Before an attempt: false when it must not be made (open, or half-open with every probe slot taken). */
  acquire(key: string, now: number): boolean | Promise<boolean>;
  report(key: string, outcome: BreakerOutcome, now: number, info?: ReportInfo): void | Promise<void>;
}

export interface ReportInfo {
  /** Why (for the circuit's reason when it opens). */
  reason?: string | undefined;
  /**
   * A rate limit's retry-after: the target is skipped by every request until it passes (the circuit opens
   * for that long without counting a failure), so one 429 is not rediscovered by each request in turn.
   */
  retryAfterMs?: number | undefined;
}

const SLICES = 10;

interface Circuit {
  state: CircuitState;
  openUntil: number;
  reason: string | undefined;
  consecutive: number;
  probes: number;
  /** calls/failures per time slice of the rate window, a ring indexed by slice number. */
  sliceIds: number[];
  calls: number[];
  failures: number[];
}

export function createInMemoryBreakerState(config: BreakerConfig): BreakerState {
  const circuits = new Map<string, Circuit>();
  const sliceMs = config.windowMs / SLICES;

  const circuitOf = (key: string): Circuit => {
    let c = circuits.get(key);
    if (!c) {
      c = {
        state: 'closed',
        openUntil: 0,
        reason: undefined,
        consecutive: 0,
        probes: 0,
        sliceIds: new Array<number>(SLICES).fill(-1),
        calls: new Array<number>(SLICES).fill(0),
        failures: new Array<number>(SLICES).fill(0),
      };
      circuits.set(key, c);
    }
    return c;
  };

  /** An open circuit whose cooldown is over is half-open; the transition happens on read. */
  const settle = (c: Circuit, now: number): void => {
    if (c.state === 'open' && now >= c.openUntil) {
      c.state = 'half-open';
      c.probes = 0;
    }
  };

  const windowTotals = (c: Circuit, now: number): { calls: number; failures: number } => {
    const current = Math.floor(now / sliceMs);
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < SLICES; i++) {
      const id = c.sliceIds[i]!;
      if (id > current - SLICES && id <= current) {
        calls += c.calls[i]!;
        failures += c.failures[i]!;
      }
    }
    return { calls, failures };
  };

  const count = (c: Circuit, now: number, failed: boolean): void => {
    const id = Math.floor(now / sliceMs);
    const i = id % SLICES;
    if (c.sliceIds[i] !== id) {
      c.sliceIds[i] = id;
      c.calls[i] = 0;
      c.failures[i] = 0;
    }
    c.calls[i]!++;
    if (failed) c.failures[i]!++;
  };

  const open = (c: Circuit, now: number, forMs: number, reason: string): void => {
    c.state = 'open';
    c.openUntil = now + forMs;
    c.reason = reason;
    c.consecutive = 0;
    c.probes = 0;
    c.sliceIds.fill(-1);
  };

  const close = (c: Circuit): void => {
    c.state = 'closed';
    c.reason = undefined;
    c.consecutive = 0;
    c.probes = 0;
  };

  return {
    peek(key, now) {
      const c = circuits.get(key);
      if (!c) return { state: 'closed', calls: 0, failures: 0 };
      settle(c, now);
      // Literals rather than spreads: every request peeks each of its targets when planning and when recording.
      if (c.state === 'closed') {
        const { calls, failures } = windowTotals(c, now);
        return { state: 'closed', calls, failures };
      }
      if (c.state === 'open') return { state: 'open', openUntil: c.openUntil, reason: c.reason, calls: 0, failures: 0 };
      return { state: 'half-open', reason: c.reason, calls: 0, failures: 0 };
    },

    acquire(key, now) {
      const c = circuits.get(key);
      if (!c) return true;
      settle(c, now);
      if (c.state === 'closed') return true;
      if (c.state === 'open') return false;
      if (c.probes >= config.halfOpenProbes) return false;
      c.probes++;
      return true;
    },

    report(key, outcome, now, info = {}) {
      const c = circuitOf(key);
      settle(c, now);
      switch (outcome) {
        case 'broken':
          open(c, now, config.authBrokenMs, `deployment broken: ${info.reason ?? 'authentication failed'}`);
          return;
        case 'neutral':
          if (info.retryAfterMs !== undefined && info.retryAfterMs > 0 && !(c.state === 'open' && c.openUntil >= now + info.retryAfterMs)) {
            const { consecutive } = c;
            open(c, now, info.retryAfterMs, `rate limited (retry-after ${Math.ceil(info.retryAfterMs / 1000)} s)`);
            c.consecutive = consecutive;
            return;
          }
          if (c.state === 'half-open' && c.probes > 0) c.probes--;
          return;
        case 'success':
          // A late answer from before the circuit opened says nothing about now.
          if (c.state === 'open') return;
          if (c.state === 'half-open') close(c);
          else c.consecutive = 0;
          count(c, now, false);
          return;
        case 'failure': {
          if (c.state === 'open') return;
          if (c.state === 'half-open') {
            open(c, now, config.cooldownMs, `probe failed${info.reason ? `: ${info.reason}` : ''}`);
            return;
          }
          c.consecutive++;
          count(c, now, true);
          if (c.consecutive >= config.consecutiveFailures) {
            open(c, now, config.cooldownMs, `${c.consecutive} consecutive failures`);
            return;
          }
          const { calls, failures } = windowTotals(c, now);
          if (calls >= config.minCalls && failures / calls >= config.errorRate) {
            open(c, now, config.cooldownMs, `error rate ${Math.round((failures / calls) * 100)}% over ${calls} calls`);
          }
          return;
        }
      }
    },
  };
}
