import type { Completion } from '../core/index.ts';

export interface CompletionLogOptions<T> {
  /**
   * Bytes the kept items may hold together (`sizeOf` each): past it the oldest are forgotten, and an item
   * alone over it is not kept. A count bound alone let a few long answers (10 MB each) pin hundreds of MB.
   */
  maxBytes?: number;
  /**
   * An item alone over this (`sizeOf`) is not kept at all, even while the log has room: reads of it fall
   * back to the ledger. Without it one pathological answer (the chaos suite's 10 MB one) stays pinned in
   * the heap until 2,000 newer completions or 32 MiB of them push it out.
   */
  maxItemBytes?: number;
  sizeOf?: (item: T) => number;
}

/** About the heap a completion's variable-size parts take: text at 2 bytes a character, vectors at 8 a number. */
export function completionBytes(c: Completion): number {
  const m = c.message;
  let chars = (m.content?.length ?? 0) + (m.reasoning?.length ?? 0);
  for (const t of m.toolCalls) chars += t.name.length + t.arguments.length;
  for (const p of m.reasoningParts ?? []) chars += p.text.length + (p.signature?.length ?? 0);
  let numbers = 0;
  for (const v of c.embeddings ?? []) numbers += v.length;
  return 1_024 + chars * 2 + numbers * 8;
}

/**
 * Recent completions kept in process, newest first, bounded by count and (optionally) bytes. Serves
 * `completion(id)` and `completions(first, after)` until the usage ledger (store-backed) takes over.
 * A ring buffer: adding is O(1) at any capacity (an array with shift() moved every entry per request).
 */
export class CompletionLog<T extends { id: string }> {
  private readonly slots: Array<T | undefined>;
  private readonly slotBytes: number[];
  /** Where the next item goes; the oldest item sits here once the ring is full. */
  private head = 0;
  private size = 0;
  private bytes = 0;
  private readonly byId = new Map<string, T>();
  private readonly capacity: number;
  private readonly maxBytes: number;
  private readonly maxItemBytes: number;
  private readonly sizeOf: ((item: T) => number) | undefined;

  constructor(capacity = 1000, opts: CompletionLogOptions<T> = {}) {
    this.capacity = Math.max(1, capacity);
    this.slots = new Array<T | undefined>(this.capacity);
    this.slotBytes = new Array<number>(this.capacity).fill(0);
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    this.maxItemBytes = Math.min(opts.maxItemBytes ?? Number.POSITIVE_INFINITY, this.maxBytes);
    this.sizeOf = opts.sizeOf;
  }

  /** Empties a slot (it stays in the ring as a hole until it is the oldest: see dropOldest and list). */
  private clear(slot: number): void {
    const old = this.slots[slot];
    // The same id may have been added again since: only forget the mapping if it still points here.
    if (old !== undefined && this.byId.get(old.id) === old) this.byId.delete(old.id);
    this.slots[slot] = undefined;
    this.bytes -= this.slotBytes[slot]!;
    this.slotBytes[slot] = 0;
  }

  /** Forgets the oldest item (or hole). */
  private dropOldest(): void {
    this.clear((this.head - this.size + this.capacity) % this.capacity);
    this.size--;
  }

  add(item: T): void {
    const bytes = this.sizeOf?.(item) ?? 0;
    // Too big to keep at all: reads of it fall back to the ledger, and it evicts nothing.
    if (bytes > this.maxItemBytes) return;
    if (this.size === this.capacity) this.dropOldest();
    this.slots[this.head] = item;
    this.slotBytes[this.head] = bytes;
    this.bytes += bytes;
    this.head = (this.head + 1) % this.capacity;
    this.size++;
    this.byId.set(item.id, item);
    while (this.bytes > this.maxBytes) this.dropOldest();
  }

  /** Slot index of the i-th newest item (0 = newest). */
  private at(i: number): number {
    return (this.head - 1 - i + 2 * this.capacity) % this.capacity;
  }

  /** Replaces the item with the same id (e.g. the same completion once its trace id is known), else adds it. */
  put(item: T): void {
    const current = this.byId.get(item.id);
    if (current === undefined) return this.add(item);
    if (current === item) return;
    // Usually one of the newest: search from the newest end.
    for (let i = 0; i < this.size; i++) {
      const slot = this.at(i);
      if (this.slots[slot] === current) {
        const bytes = this.sizeOf?.(item) ?? 0;
        // Grown too big to keep: the older version goes too, so reads fall back to the ledger, not to a stale copy.
        if (bytes > this.maxItemBytes) return this.clear(slot);
        this.byId.set(item.id, item);
        this.slots[slot] = item;
        this.bytes += bytes - this.slotBytes[slot]!;
        this.slotBytes[slot] = bytes;
        // Grown past the budget: the oldest go (the replaced item too, should it be the oldest).
        while (this.bytes > this.maxBytes && this.size > 0) this.dropOldest();
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
      const item = this.slots[this.at(i)];
      if (item === undefined) continue;
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
 * The gateway's log of GraphQL completions: the last 2,000, at most 32 MiB together, and none estimated over
 * 4 MiB (about 2 million characters, far past any model's output limit). Such an answer is read from the
 * ledger (usage, cost and timing, no message) instead of pinning its text in the heap: one 10 MB answer
 * kept would be 10% of an idle gateway's RSS.
 */
export function createCompletionLog(): CompletionLog<Completion> {
  return new CompletionLog<Completion>(2_000, { maxBytes: 32 * 1024 * 1024, maxItemBytes: 4 * 1024 * 1024, sizeOf: completionBytes });
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
