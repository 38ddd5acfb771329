/**
 * Rolling latency per target (a provider deployment × model, keyed `provider/model`) over the last
 * `windowMs` of injected-clock time, for the least-latency strategy, latency budgets and Provider.health.
 *
 * Reads are synchronous because they sit on the routing hot path (a decision over 20 targets must take
 * a few microseconds). A shared (Redis) implementation keeps the same contract by answering reads from a
 * local copy refreshed in the background (e.g. every second) and sending writes asynchronously: routing
 * then sees other instances' samples up to that refresh interval late, which is fine for a p95.
 */
export interface LatencyStats {
  /** Samples in the window. */
  count: number;
  p50: number | undefined;
  p95: number | undefined;
}

export interface LatencyWindow {
  /** Records one successful attempt's latency (ms) at clock time `at`. */
  record(key: string, latencyMs: number, at: number): void | Promise<void>;
  /** The rolling p95 of `key`, undefined with no samples in the window. */
  p95(key: string, now: number): number | undefined;
  /** Merged figures over several keys (a provider's models, for Provider.health). */
  stats(keys: readonly string[], now: number): LatencyStats;
}

/** Samples go to log-spaced bins (each 10% wider than the last): p95 to within ~5%, O(bins) to read. */
const RATIO = 1.1;
const BINS = 140; // 1.1^140 ms ≈ 6e5 ms: anything slower lands in the last bin
const LOG_RATIO = Math.log(RATIO);
const SLICES = 30;

function binOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(BINS - 1, Math.ceil(Math.log(ms) / LOG_RATIO));
}

/** The bin's upper bound: a percentile never reads lower than the samples in it. */
const upperOf = (bin: number): number => RATIO ** bin;

interface Series {
  /** One histogram per time slice (windowMs / SLICES long), a ring indexed by slice number. */
  slices: Uint32Array[];
  sliceIds: number[];
  /** Cached read, valid while `cachedAt` is the current slice and nothing was recorded since. */
  cached: LatencyStats | undefined;
  cachedSlice: number;
}

export function createInMemoryLatencyWindow(windowMs = 300_000): LatencyWindow {
  const sliceMs = windowMs / SLICES;
  const series = new Map<string, Series>();

  const seriesOf = (key: string): Series => {
    let s = series.get(key);
    if (!s) {
      s = { slices: Array.from({ length: SLICES }, () => new Uint32Array(BINS)), sliceIds: new Array<number>(SLICES).fill(-1), cached: undefined, cachedSlice: -1 };
      series.set(key, s);
    }
    return s;
  };

  function merged(list: readonly Series[], now: number): LatencyStats {
    const current = Math.floor(now / sliceMs);
    const bins = new Float64Array(BINS);
    let count = 0;
    for (const s of list) {
      for (let i = 0; i < SLICES; i++) {
        const id = s.sliceIds[i]!;
        // Slices older than the window (the ring has not reused them yet) are skipped, not counted.
        if (id < 0 || id <= current - SLICES || id > current) continue;
        const h = s.slices[i]!;
        for (let b = 0; b < BINS; b++) {
          const n = h[b]!;
          if (n !== 0) {
            bins[b]! += n;
            count += n;
          }
        }
      }
    }
    if (count === 0) return { count: 0, p50: undefined, p95: undefined };
    const at = (p: number): number => {
      const rank = Math.ceil(p * count);
      let seen = 0;
      for (let b = 0; b < BINS; b++) {
        seen += bins[b]!;
        if (seen >= rank) return upperOf(b);
      }
      return upperOf(BINS - 1);
    };
    return { count, p50: at(0.5), p95: at(0.95) };
  }

  return {
    record(key, latencyMs, at) {
      const s = seriesOf(key);
      const id = Math.floor(at / sliceMs);
      const i = id % SLICES;
      if (s.sliceIds[i] !== id) {
        s.slices[i]!.fill(0);
        s.sliceIds[i] = id;
      }
      s.slices[i]![binOf(latencyMs)]!++;
      s.cached = undefined;
    },
    p95(key, now) {
      const s = series.get(key);
      if (!s) return undefined;
      const current = Math.floor(now / sliceMs);
      if (!s.cached || s.cachedSlice !== current) {
        s.cached = merged([s], now);
        s.cachedSlice = current;
      }
      return s.cached.p95;
    },
    stats(keys, now) {
      const list = keys.map((k) => series.get(k)).filter((s): s is Series => s !== undefined);
      return merged(list, now);
    },
  };
}
