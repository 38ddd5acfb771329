import { GRANULARITY_MS, type Granularity, type LedgerArchive, type LedgerSink, type RollupDims, type RollupRow, type UsageEvent } from '../core/index.ts';
import { DIMENSION_OF, INTERVAL_MS, USAGE_GROUP_BY, type UsageArchive, type UsageQuery } from './query-usage.ts';

/**
 * The durable ledger (PostgreSQL) as the analytics read it, for what the store no longer keeps:
 * - `usage` over ranges older than the store's rollups: one aggregation in the ledger per query, with the
 *   query's filters and grouping, summed per point of its interval (not per minute: a month by the day is
 *   a few hundred rows, not tens of thousands), shaped so `report` (query-usage.ts) reads it as it reads
 *   rollups and the answer is the same for the same events;
 * - `completions` past the end of the store's bounded event stream.
 */

export interface UsageArchiveOptions {
  ledger: Pick<LedgerArchive, 'aggregate'>;
  /** Epoch ms from which the store's rollups of a granularity are complete (see UsageArchive). */
  hotSince: (granularity: Granularity) => number;
}

export function createUsageArchive(opts: UsageArchiveOptions): UsageArchive {
  return {
    hotSince: opts.hotSince,
    async rollups(q: UsageQuery, granularity: Granularity): Promise<RollupRow[]> {
      const g = GRANULARITY_MS[granularity];
      // The store answers with the buckets that start in [from, to): events from the first whole bucket on.
      const ceil = (t: number) => Math.ceil(t / g) * g;
      const from = ceil(q.filter.from.getTime());
      const to = ceil(q.filter.to.getTime());
      const where: Partial<RollupDims> = {};
      for (const f of USAGE_GROUP_BY) {
        const want = q.filter[f];
        if (want !== undefined) where[DIMENSION_OF[f]] = want;
      }
      const rows = await opts.ledger.aggregate({ from, to, bucketMs: INTERVAL_MS[q.interval], where, groupBy: q.groupBy.map((g) => DIMENSION_OF[g]) });
      // A point cut by the start of the range begins before `from`; its row is placed at `from`, which
      // report() counts under the same point (and inside the range, as it checks).
      return rows.map((r) => ({ granularity, bucketStart: Math.max(r.bucketStart, from), dims: r.dims, counters: r.counters }));
    },
  };
}

export interface ArchivedEventsOptions {
  /** Page-end ids recently served from the archive, so the next page skips the store's stream (default 1000). */
  rememberCursors?: number;
}

/**
 * The store's sink with its event stream continued by the archive: `readEvents` reads the store's
 * (newest first) and, once that runs out (the stream is bounded), goes on in the archive from the last
 * event read, in (time, id) order. Writes and rollups are the store's. Near the seam, an event the stream
 * holds out of time order may appear twice or be skipped (the stream is in write order, the archive in
 * time order; they differ by at most a flush interval).
 */
export function withArchivedEvents(hot: LedgerSink, archive: Pick<LedgerArchive, 'readEventsBefore' | 'eventTime'>, opts: ArchivedEventsOptions = {}): LedgerSink {
  const capacity = opts.rememberCursors ?? 1_000;
  const archivedCursors = new Set<string>();
  const remember = (id: string) => {
    archivedCursors.delete(id);
    archivedCursors.add(id);
    if (archivedCursors.size > capacity) archivedCursors.delete(archivedCursors.values().next().value!);
  };

  return {
    write: (batch) => hot.write(batch),
    readRollups: (q) => hot.readRollups(q),
    async readEvents(q: { limit: number; before?: string | undefined }): Promise<UsageEvent[]> {
      const limit = Math.max(0, Math.floor(q.limit));
      if (limit === 0) return [];
      // A cursor the archive served last time is not in the stream: skip scanning the stream for it.
      const recent = q.before !== undefined && archivedCursors.has(q.before) ? [] : await hot.readEvents({ limit, before: q.before });
      if (recent.length >= limit) return recent;
      let before: { time: number; id: string } | undefined;
      const last = recent.at(-1);
      if (last) before = { time: last.time, id: last.id };
      else if (q.before !== undefined) {
        // The cursor is not in the stream (trimmed, or an archive page's end): find its place in the archive.
        const time = await archive.eventTime(q.before);
        if (time === undefined) return [];
        before = { time, id: q.before };
      }
      // Ask for a full page: ids already read from the stream are left out, and a short page means "the end".
      const seen = new Set(recent.map((e) => e.id));
      const older = (await archive.readEventsBefore({ limit, before })).filter((e) => !seen.has(e.id));
      const page = [...recent, ...older.slice(0, limit - recent.length)];
      const end = page.at(-1);
      if (end && older.length > 0) remember(end.id);
      return page;
    },
  };
}
