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
