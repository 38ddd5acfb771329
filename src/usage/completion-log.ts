/**
 * Recent completions kept in process, newest first, bounded. Serves `completion(id)` and
 * `completions(first, after)` until the usage ledger (store-backed) takes over.
 */
export class CompletionLog<T extends { id: string }> {
  private readonly items: T[] = [];
  private readonly byId = new Map<string, T>();
  private readonly capacity: number;

  constructor(capacity = 1000) {
    this.capacity = capacity;
  }

  add(item: T): void {
    this.items.push(item);
    this.byId.set(item.id, item);
    if (this.items.length > this.capacity) {
      const old = this.items.shift()!;
      this.byId.delete(old.id);
    }
  }

  /** Replaces the item with the same id (e.g. the same completion once its trace id is known), else adds it. */
  put(item: T): void {
    if (!this.byId.has(item.id)) return this.add(item);
    this.byId.set(item.id, item);
    // Usually one of the newest: search from the end.
    const i = this.items.findLastIndex((x) => x.id === item.id);
    if (i >= 0) this.items[i] = item;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  /** Newest first, optionally after the item with id `after`, filtered. */
  list(first: number, after?: string, filter?: (item: T) => boolean): { items: T[]; hasNextPage: boolean } {
    const out: T[] = [];
    let started = after === undefined;
    let hasNextPage = false;
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
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

/**
 * A page of recent requests from the usage ledger (shared by every instance), newest first: what
 * `completions` serves once the ledger is wired. With a filter (a client key sees only its own
 * requests) the stream is read in chunks until the page fills, at most `maxScan` events deep, so a
 * rare match far back cannot turn one query into an unbounded scan.
 */
export async function pageLedgerEvents<E extends { id: string }>(
  source: { readEvents(q: { limit: number; before?: string | undefined }): Promise<E[]> },
  opts: { first: number; after?: string | undefined; filter?: ((e: E) => boolean) | undefined; maxScan?: number },
): Promise<{ items: E[]; hasNextPage: boolean }> {
  const maxScan = opts.maxScan ?? 5_000;
  // Unfiltered, one read of first + 1 answers the page and hasNextPage; filtered, read in chunks.
  const limit = opts.filter ? Math.max(100, opts.first + 1) : opts.first + 1;
  const items: E[] = [];
  let before = opts.after;
  let scanned = 0;
  while (scanned < maxScan) {
    const chunk = await source.readEvents({ limit, before });
    for (const e of chunk) {
      if (opts.filter && !opts.filter(e)) continue;
      if (items.length === opts.first) return { items, hasNextPage: true };
      items.push(e);
    }
    scanned += chunk.length;
    if (chunk.length < limit) break;
    before = chunk[chunk.length - 1]!.id;
  }
  return { items, hasNextPage: false };
}
