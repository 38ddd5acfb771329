/**
 * Recent completions kept in process, newest first, bounded. Serves `completion(id)` and
 * `completions(first, after)` until the usage ledger (store-backed) takes over.
 * A ring buffer: adding is O(1) at any capacity (an array with shift() moved every entry per request).
 */
export class CompletionLog<T extends { id: string }> {
  private readonly slots: Array<T | undefined>;
  /** Where the next item goes; the oldest item sits here once the ring is full. */
  private head = 0;
  private size = 0;
  private readonly byId = new Map<string, T>();
  private readonly capacity: number;

  constructor(capacity = 1000) {
    this.capacity = Math.max(1, capacity);
    this.slots = new Array<T | undefined>(this.capacity);
  }

  add(item: T): void {
    if (this.size === this.capacity) {
      const old = this.slots[this.head]!;
      // The same id may have been added again since: only forget the mapping if it still points here.
      if (this.byId.get(old.id) === old) this.byId.delete(old.id);
    } else this.size++;
    this.slots[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    this.byId.set(item.id, item);
  }

  /** Slot index of the i-th newest item (0 = newest). */
  private at(i: number): number {
    return (this.head - 1 - i + 2 * this.capacity) % this.capacity;
  }

  /** Replaces the item with the same id (e.g. the same completion once its trace id is known), else adds it. */
  put(item: T): void {
    const current = this.byId.get(item.id);
    if (current === undefined) return this.add(item);
    this.byId.set(item.id, item);
    if (current === item) return;
    // Usually one of the newest: search from the newest end.
    for (let i = 0; i < this.size; i++) {
      const slot = this.at(i);
      if (this.slots[slot] === current) {
        this.slots[slot] = item;
        return;
      }
    }
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  /** Newest first, optionally after the item with id `after`, filtered. */
  list(first: number, after?: string, filter?: (item: T) => boolean): { items: T[]; hasNextPage: boolean } {
    const out: T[] = [];
    let started = after === undefined;
    let hasNextPage = false;
    for (let i = 0; i < this.size; i++) {
      const item = this.slots[this.at(i)]!;
      if (!started) {
        if (item.id === after) started = true;
        continue;
      }
      if (filter && !filter(item)) continue;
      if (out.length === first) {
        hasNextPage = true;
        break;
      }
      out.push(item);
    }
    return { items: out, hasNextPage };
  }
}

type LedgerSource<E> = { readEvents(q: { limit: number; before?: string | undefined }): Promise<E[]> };

/**
 * The ledger's events newest first, read `chunk` at a time from before `after` (exclusive), at most
 * `maxScan` deep: a caller that stops iterating stops reading, so a rare match far back cannot turn one
 * query into an unbounded scan.
 */
export async function* ledgerEventsNewestFirst<E extends { id: string }>(
  source: LedgerSource<E>,
  opts: { chunk: number; after?: string | undefined; maxScan: number },
): AsyncGenerator<E> {
  let before = opts.after;
  for (let scanned = 0; scanned < opts.maxScan; ) {
    const chunk = await source.readEvents({ limit: opts.chunk, before });
    yield* chunk;
    scanned += chunk.length;
    if (chunk.length < opts.chunk) return;
    before = chunk[chunk.length - 1]!.id;
  }
}

/**
 * A page of recent requests from the usage ledger (shared by every instance), newest first: what
 * `completions` serves once the ledger is wired. With a filter (a client key sees only its own
 * requests) the stream is read in chunks until the page fills, at most `maxScan` events deep.
 */
export async function pageLedgerEvents<E extends { id: string }>(
  source: LedgerSource<E>,
  opts: { first: number; after?: string | undefined; filter?: ((e: E) => boolean) | undefined; maxScan?: number },
): Promise<{ items: E[]; hasNextPage: boolean }> {
  // Unfiltered, one read of first + 1 answers the page and hasNextPage; filtered, read in chunks.
  const chunk = opts.filter ? Math.max(100, opts.first + 1) : opts.first + 1;
  const items: E[] = [];
  for await (const e of ledgerEventsNewestFirst(source, { chunk, after: opts.after, maxScan: opts.maxScan ?? 5_000 })) {
    if (opts.filter && !opts.filter(e)) continue;
    if (items.length === opts.first) return { items, hasNextPage: true };
    items.push(e);
  }
  return { items, hasNextPage: false };
}
