import type { LedgerConfig } from './config/index.ts';
import { GRANULARITY_MS, ROLLUP_RETENTION_MS, sleep, type Granularity, type LedgerSink } from './core/index.ts';
import { createPostgresPool, redactPostgresUrl } from './store/postgres-connection.ts';
import { createPostgresLedger, type PostgresLedger } from './store/postgres-ledger-sink.ts';
import type { Logger } from './telemetry/logger.ts';
import { LATENCY_BUCKETS_MS } from './usage/latency-histogram.ts';
import type { UsageArchive } from './usage/query-usage.ts';
import { createUsageArchive, withArchivedEvents } from './usage/usage-archive.ts';
import { createUsageLedger, type LedgerStats } from './usage/usage-ledger.ts';

/**
 * The durable usage ledger (config `ledger`), wired. Loaded by wire-observability with a dynamic import
 * only when configured, so a gateway without it never loads `pg`.
 *
 * The seam: the request recorder feeds two ledgers. Each is a `createUsageLedger` (usage-ledger.ts) with
 * its own buffer, batches, retries and cap: the store's (memory or Redis: the hot rollups, unchanged) and
 * this one over PostgreSQL. One fan-out sink under a single ledger would have tied them together: a
 * PostgreSQL outage would have stalled the store's rollups, and a batch would have been retried on both.
 */

export interface DurableLedgerOptions {
  config: LedgerConfig;
  logger: Logger;
  /**
   * From when the store's rollups hold everything (epoch ms): 0 for Redis (they outlive the process),
   * the process start for the memory store. Usage ranges reaching back before it (or before the
   * rollups' retention) are read from PostgreSQL.
   */
  storeSince: number;
  /** Dropped events, for the metric. */
  onDrop?: ((count: number) => void) | undefined;
  /** Epoch ms for partitions and the hot/archive split; tests inject a clock. */
  now?: () => number;
  /** How long close() keeps retrying a failing write before giving up and logging what is lost (default 5 s). */
  closeTimeoutMs?: number;
}

/** How long a read waits for this instance's buffered events to be written before reading without them. */
const FLUSH_FOR_READ_MS = 2_000;

/** At most one log line per kind of trouble per this long; the change back to healthy is always logged. */
const LOG_EVERY_MS = 10_000;

export async function wireDurableLedger(opts: DurableLedgerOptions) {
  const { config, logger } = opts;
  const now = opts.now ?? Date.now;
  const where = redactPostgresUrl(config.url);
  const pool = createPostgresPool({
    url: config.url,
    onIdleError: (err) => logger.warn({ ledger: where, err }, 'durable ledger: connection lost'),
  });
  const postgres: PostgresLedger = createPostgresLedger({
    pool,
    url: config.url,
    retentionDays: config.retentionDays,
    latencyBucketsMs: LATENCY_BUCKETS_MS,
    now,
    onMaintenanceError: (err) => logger.warn({ ledger: where, err }, 'durable ledger: partition maintenance failed; retrying in a minute'),
  });

  // Failures and drops are logged when they start and then at most every LOG_EVERY_MS, with counts.
  let failing = false;
  let lastFailureLog = -Infinity;
  let failuresSinceLog = 0;
  let droppedSinceLog = 0;
  let lastDropLog = -Infinity;
  const sink: LedgerSink = {
    ...postgres,
    write: async (batch) => {
      await postgres.write(batch);
      if (failing) {
        failing = false;
        logger.info({ ledger: where }, 'durable ledger: writing again; buffered events are being written');
      }
    },
  };
  const ledger = createUsageLedger({
    sink,
    flushIntervalMs: config.flushIntervalMs,
    maxBatch: config.batchSize,
    bufferCap: config.bufferCap,
    onError: (e) => {
      failing = true;
      failuresSinceLog++;
      const t = Date.now();
      if (t - lastFailureLog < LOG_EVERY_MS) return;
      lastFailureLog = t;
      // Messages come redacted from the store module (the URL's password masked).
      logger.warn(
        { ledger: where, err: e instanceof Error ? e.message : String(e), failedWrites: failuresSinceLog, buffered: ledger.stats().buffered },
        'durable ledger: write failed; events kept for retry',
      );
      failuresSinceLog = 0;
    },
    onDrop: (count) => {
      opts.onDrop?.(count);
      droppedSinceLog += count;
      const t = Date.now();
      if (t - lastDropLog < LOG_EVERY_MS) return;
      lastDropLog = t;
      logger.error(
        { ledger: where, dropped: droppedSinceLog, droppedTotal: ledger.stats().dropped, bufferCap: config.bufferCap },
        'durable ledger: buffer full while PostgreSQL is unreachable; usage events dropped',
      );
      droppedSinceLog = 0;
    },
  });

  // Migrations and partitions now; if PostgreSQL is down the gateway starts anyway, buffers, and the
  // first write that gets through migrates.
  try {
    await postgres.ready();
    logger.info({ ledger: where, flushIntervalMs: config.flushIntervalMs, retentionDays: config.retentionDays }, 'durable ledger ready');
  } catch (e) {
    failing = true;
    logger.warn({ ledger: where, err: e instanceof Error ? e.message : String(e) }, 'durable ledger: PostgreSQL unreachable at start; buffering events');
  }

  const hotSince = (g: Granularity) => Math.max(now() - ROLLUP_RETENTION_MS[g] + GRANULARITY_MS[g], opts.storeSince);
  const archive: UsageArchive = createUsageArchive({ ledger: postgres, hotSince });
  const closeTimeoutMs = opts.closeTimeoutMs ?? 5_000;

  return {
    /** Feed it every usage event (its `record` only appends to a buffer). */
    ledger,
    postgres,
    archive,
    /**
     * Makes this instance's buffered events visible to reads (GraphQL calls it before a usage query).
     * Bounded: while PostgreSQL is unreachable a read does not wait for a write that cannot succeed.
     */
    flushForRead(): Promise<void> {
      if (!ledger.stats().sinkHealthy) return Promise.resolve();
      return Promise.race([ledger.flush(), sleep(FLUSH_FOR_READ_MS)]);
    },
    /** The store's sink with its event stream continued by PostgreSQL (for `completions`). */
    events: (hot: LedgerSink): LedgerSink => withArchivedEvents(hot, postgres),
    /**
     * Writes everything buffered (a SIGTERM loses no event). A write that fails is retried until
     * `closeTimeoutMs`; what is still unwritten then is logged as lost, with its count.
     */
    async close(): Promise<LedgerStats> {
      const deadline = Date.now() + closeTimeoutMs;
      // Bounded even when a write hangs (a network that drops packets rather than refusing).
      const untilDeadline = () => sleep(Math.max(0, deadline - Date.now()));
      await Promise.race([ledger.close(), untilDeadline()]);
      let stats = ledger.stats();
      while (stats.buffered > 0 && Date.now() < deadline) {
        await sleep(200);
        await Promise.race([ledger.flush(), untilDeadline()]);
        stats = ledger.stats();
      }
      if (stats.buffered > 0) logger.error({ ledger: where, lost: stats.buffered }, 'durable ledger: events not written at shutdown');
      if (stats.dropped > 0) logger.error({ ledger: where, dropped: stats.dropped }, 'durable ledger: events dropped while running (buffer full)');
      await Promise.race([pool.end().catch(() => undefined), sleep(2_000)]);
      return stats;
    },
  };
}

export type DurableLedger = Awaited<ReturnType<typeof wireDurableLedger>>;
