/**
 * A fixed-bucket latency histogram. The bounds are the same on every instance and never change, so
 * histograms from many instances and many minutes merge by adding counts — which a store can do with
 * plain counter increments — and percentiles of the merged counts stay within one bucket of the truth.
 * Changing these bounds invalidates stored rollups: add a new field family rather than edit them.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000,
  20_000, 30_000, 60_000, 120_000, 300_000,
];

/** Index of the bucket holding `ms`: the first bound ≥ ms; the last index is the overflow bucket. */
export function bucketIndex(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (LATENCY_BUCKETS_MS[mid]! >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Counts per bucket: length LATENCY_BUCKETS_MS.length + 1 (the last is the overflow bucket). */
export type BucketCounts = number[];

export const emptyBuckets = (): BucketCounts => new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);

/**
 * The q-quantile (0 < q ≤ 1) of a histogram, interpolated linearly inside the bucket that holds it
 * (so the answer lies in the same bucket as the true value). Null when there are no observations.
 * The overflow bucket has no upper bound; it answers with its lower bound.
 */
export function quantile(counts: BucketCounts, q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    if (seen + c >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1]!;
      const upper = LATENCY_BUCKETS_MS[i];
      if (upper === undefined) return lower;
      return lower + ((upper - lower) * (rank - seen)) / c;
    }
    seen += c;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}
