import { randomUUID } from 'node:crypto';
import type { LedgerBatch, LedgerSink, UsageEvent } from '../core/index.ts';
import { incrementsOf } from './rollups.ts';

export interface UsageLedgerDeps {
  sink: LedgerSink;
  /** Flush at least this often (default 1000 ms). */
  flushIntervalMs?: number;
  /** Flush as soon as this many events wait, and write at most this many per batch (default 500). */
  maxBatch?: number;
  /**
   * Events held in memory while the sink fails (default 10 000). Past it, new events are dropped and
   * counted: a long outage costs analytics, never the gateway's memory.
   */
  bufferCap?: number;
  /** Starts the periodic flush; tests pass a fake that never fires and call flush() themselves. */
  schedule?: (fn: () => void, ms: number) => { cancel(): void };
  /** Called with the number of events dropped (for the dropped-events metric). */
  onDrop?: (count: number) => void;
  /** Called when a write fails (for a log line); the batch is kept and retried. */
  onError?: (error: unknown) => void;
  newBatchId?: () => string;
}

export interface LedgerStats {
  /** Waiting to be written, including a failed batch awaiting retry. */
  buffered: number;
  written: number;
  dropped: number;
  writeFailures: number;
  /** False from a failed write until the next successful one. */
  sinkHealthy: boolean;
}

const defaultSchedule = (fn: () => void, ms: number) => {
  const t = setInterval(fn, ms);
  t.unref();
  return { cancel: () => clearInterval(t) };
};

/**
 * The usage ledger's writer. `record` only appends to an array (O(1), no I/O, never throws), so the
 * request path does not wait for the store; batches go to the sink on an interval or when `maxBatch`
 * events wait. A failed batch is kept (with its id, so a sink can ignore a duplicate) and retried
 * before anything newer.
 */
export function createUsageLedger(deps: UsageLedgerDeps) {
  const { sink } = deps;
  const maxBatch = deps.maxBatch ?? 500;
  const bufferCap = deps.bufferCap ?? 10_000;
  const newBatchId = deps.newBatchId ?? (() => randomUUID());
  let queue: UsageEvent[] = [];
  let retry: LedgerBatch | undefined;
  let inFlight: Promise<void> | undefined;
  const stats: LedgerStats = { buffered: 0, written: 0, dropped: 0, writeFailures: 0, sinkHealthy: true };
  const timer = (deps.schedule ?? defaultSchedule)(() => void flush(), deps.flushIntervalMs ?? 1_000);
  let closed = false;

  const buffered = () => queue.length + (retry?.events.length ?? 0);

  function drop(count: number): void {
    stats.dropped += count;
    try {
      deps.onDrop?.(count);
    } catch {
      // a metrics callback must not break recording
    }
  }

  function record(event: UsageEvent): void {
    if (closed || buffered() >= bufferCap) {
      drop(1);
      return;
    }
    queue.push(event);
    if (queue.length >= maxBatch && !inFlight && stats.sinkHealthy) void flush();
  }

  async function drain(): Promise<void> {
    while (retry || queue.length > 0) {
      let batch = retry;
      if (!batch) {
        const events = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
        queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
        batch = { id: newBatchId(), events, increments: incrementsOf(events) };
      }
      try {
        await sink.write(batch);
      } catch (e) {
        retry = batch;
        stats.writeFailures++;
        stats.sinkHealthy = false;
        // Events accepted while the write was in flight may push the buffer past its cap: shed the newest.
        const excess = buffered() - bufferCap;
        if (excess > 0) {
          queue.splice(queue.length - excess, excess);
          drop(excess);
        }
        try {
          deps.onError?.(e);
        } catch {
          // logging must not break the writer
        }
        return;
      }
      retry = undefined;
      stats.written += batch.events.length;
      stats.sinkHealthy = true;
    }
  }

  /** Writes everything waiting; resolves when done or when a write fails (the rest is kept for later). */
  function flush(): Promise<void> {
    if (!inFlight) inFlight = drain().finally(() => (inFlight = undefined));
    return inFlight;
  }

  return {
    record,
    flush,
    stats: (): LedgerStats => ({ ...stats, buffered: buffered() }),
    sink,
    /** Stops the timer and writes what is left; what still cannot be written is reported in `buffered`. */
    async close(): Promise<LedgerStats> {
      closed = true;
      timer.cancel();
      await flush();
      return { ...stats, buffered: buffered() };
    },
  };
}

export type UsageLedger = ReturnType<typeof createUsageLedger>;
