import { dimsKey, ROLLUP_RETENTION_MS, type Granularity, type LedgerBatch, type LedgerSink, type RollupRow, type UsageEvent } from '../core/index.ts';
import { addCounters } from './rollups.ts';

export interface MemoryLedgerSinkOptions {
  /** Events kept for `readEvents`; the oldest are trimmed first (the Redis stream's MAXLEN). */
  maxEvents?: number;
  /** How long rollups are kept, behind the newest bucket written (the Redis keys' TTLs). */
  retentionMs?: Partial<Record<Granularity, number>>;
  /** Batch ids remembered to ignore a retried write that had in fact been applied. */
  rememberBatches?: number;
}

/**
 * The in-process LedgerSink: the same contract the Redis store implements, for a single instance
 * and for tests. `reads` counts read calls, so tests can assert "one store round trip".
 */
export class MemoryLedgerSink implements LedgerSink {
  reads = 0;
  writes = 0;
  private readonly events: UsageEvent[] = [];
  private readonly buckets = new Map<string, Map<string, RollupRow>>();
  private readonly applied = new Set<string>();
  private readonly maxEvents: number;
  private readonly retention: Record<Granularity, number>;
  private readonly rememberBatches: number;
  private newest = 0;

  constructor(opts: MemoryLedgerSinkOptions = {}) {
    this.maxEvents = opts.maxEvents ?? 10_000;
    this.retention = { ...ROLLUP_RETENTION_MS, ...opts.retentionMs };
    this.rememberBatches = opts.rememberBatches ?? 1_000;
  }

  async write(batch: LedgerBatch): Promise<void> {
    this.writes++;
    if (this.applied.has(batch.id)) return;
    this.applied.add(batch.id);
    if (this.applied.size > this.rememberBatches) this.applied.delete(this.applied.values().next().value!);
    let advanced = false;
    this.events.push(...batch.events);
    if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
    for (const inc of batch.increments) {
      const bk = `${inc.granularity}:${inc.bucketStart}`;
      let rows = this.buckets.get(bk);
      if (!rows) this.buckets.set(bk, (rows = new Map()));
      const dk = dimsKey(inc.dims);
      let row = rows.get(dk);
      if (!row) rows.set(dk, (row = { granularity: inc.granularity, bucketStart: inc.bucketStart, dims: { ...inc.dims }, counters: {} }));
      addCounters(row.counters, inc.counters);
      if (inc.bucketStart > this.newest) {
        this.newest = inc.bucketStart;
        advanced = true;
      }
    }
    if (advanced) this.expire();
  }

  async readRollups(q: { granularity: Granularity; from: number; to: number }): Promise<RollupRow[]> {
    this.reads++;
    const out: RollupRow[] = [];
    // Buckets are bounded by retention, so scanning them beats stepping through a long range.
    for (const rows of this.buckets.values()) {
      for (const r of rows.values()) {
        if (r.granularity !== q.granularity || r.bucketStart < q.from || r.bucketStart >= q.to) break;
        out.push({ ...r, dims: { ...r.dims }, counters: { ...r.counters } });
      }
    }
    return out;
  }

  async readEvents(q: { limit: number; before?: string | undefined }): Promise<UsageEvent[]> {
    this.reads++;
    let end = this.events.length;
    if (q.before !== undefined) {
      const i = this.events.findLastIndex((e) => e.id === q.before);
      end = i < 0 ? 0 : i;
    }
    return this.events.slice(Math.max(0, end - q.limit), end).reverse();
  }

  private expire(): void {
    for (const bk of this.buckets.keys()) {
      const [granularity, start] = bk.split(':') as [Granularity, string];
      if (Number(start) < this.newest - this.retention[granularity]) this.buckets.delete(bk);
    }
  }
}
