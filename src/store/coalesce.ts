import type { InflightStore } from './store.ts';

export interface CoalesceOptions {
  /** How long a leader's claim lasts: a crashed leader blocks nobody for longer than this. */
  lockTtlMs: number;
  /** How long a follower waits for the leader in one round before calling upstream itself. */
  waitMs: number;
  /**
   * How long a shared result stays readable: long enough for followers that were waiting to read it
   * (a poll interval or two), short enough not to act as a cache for answers that are not cached.
   */
  resultTtlMs: number;
  /** Rounds of "leader gone without a result → try to lead" before giving up on coalescing. */
  maxRounds?: number;
  signal?: AbortSignal | undefined;
}

export type Claim =
  | { role: 'leader'; share(value: string): Promise<void>; abandon(): Promise<void> }
  | { role: 'follower'; value: string }
  /** Coalescing gave up (timeout, or the store is down): call upstream and share nothing. */
  | { role: 'solo'; reason: 'timeout' | 'store' | 'rounds' };

/**
 * One upstream call for many identical in-flight requests, across instances: the first to take the lock
 * leads; the others wait for its result (pub/sub plus polling). If the leader finishes without a result
 * or its lock expires (it crashed), a waiting follower takes over; if waiting times out, each follower
 * goes upstream on its own rather than wait longer than a normal request would.
 */
export async function claim(inflight: InflightStore, key: string, opts: CoalesceOptions): Promise<Claim> {
  const rounds = opts.maxRounds ?? 3;
  try {
    for (let round = 0; round < rounds; round++) {
      const token = await inflight.lead(key, opts.lockTtlMs);
      if (token !== null) {
        let settled = false;
        return {
          role: 'leader',
          async share(value) {
            if (settled) return;
            settled = true;
            await inflight.resolve(key, token, value, opts.resultTtlMs);
          },
          async abandon() {
            if (settled) return;
            settled = true;
            await inflight.abandon(key, token);
          },
        };
      }
      const outcome = await inflight.wait(key, opts.waitMs, opts.signal);
      if (outcome.kind === 'value') return { role: 'follower', value: outcome.value };
      if (outcome.kind === 'timeout') return { role: 'solo', reason: 'timeout' };
    }
    return { role: 'solo', reason: 'rounds' };
  } catch {
    return { role: 'solo', reason: 'store' };
  }
}
