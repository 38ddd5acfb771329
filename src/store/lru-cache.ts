/**
 * A bounded map with least-recently-used eviction and per-entry expiry, bounded both by entry count and
 * by total size (cached completions vary from a few hundred bytes to megabytes, so a count alone does
 * not bound memory). A Map keeps insertion order; re-inserting on read makes the first key the oldest.
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; size: number; expiresAt: number }>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly now: () => number;

  constructor(opts: { maxEntries: number; maxBytes: number; now: () => number }) {
    this.maxEntries = opts.maxEntries;
    this.maxBytes = opts.maxBytes;
    this.now = opts.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: V, size: number, ttlMs: number): void {
    this.delete(key);
    if (size > this.maxBytes) return;
    this.entries.set(key, { value, size, expiresAt: this.now() + ttlMs });
    this.bytes += size;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.size;
  }
}
