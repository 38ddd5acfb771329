/**
 * Open-loop load at a fixed rate, bounded in time and in requests in flight: a request that cannot start
 * because too many are still open is counted as skipped (a sign the gateway is holding requests up).
 */
import { sleep } from './http.ts';

export interface LoadResult {
  started: number;
  skipped: number;
}

export async function fixedRate(opts: { rps: number; durationMs: number; maxInFlight: number; signal: AbortSignal; fire: (i: number) => Promise<void> }, offset = 0): Promise<LoadResult> {
  const interval = 1_000 / opts.rps;
  const t0 = performance.now();
  const running = new Set<Promise<void>>();
  let started = 0;
  let skipped = 0;
  for (let i = 0; ; i++) {
    const due = t0 + i * interval;
    if (due - t0 >= opts.durationMs || opts.signal.aborted) break;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (running.size >= opts.maxInFlight) {
      skipped++;
      continue;
    }
    const p = opts.fire(offset + started++).finally(() => running.delete(p));
    running.add(p);
  }
  await Promise.all(running);
  return { started, skipped };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
