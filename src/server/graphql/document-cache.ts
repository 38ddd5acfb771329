// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import type { DocumentNode } from 'graphql/index.js';

/** What the endpoint's parsed-document caches may hold in all, in estimated heap bytes. */
export const DEFAULT_DOCUMENT_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Heap bytes per lexical token of a parsed document: the token object (kept in a linked list through
 * `loc`), the AST node and Location built from it. Measured at ~350 on Node 24 for ordinary queries.
 */
const BYTES_PER_TOKEN = 360;

/**
 * Roughly what a parsed document keeps alive: its source text (UTF-16 at worst) and every token with its
 * AST. JSON size, which Apollo's default store counts, leaves out both: `loc` serializes to two numbers.
 */
export function retainedBytesOf(document: DocumentNode): number {
  const loc = document.loc;
  if (!loc) return Buffer.byteLength(JSON.stringify(document)) * 4;
  let tokens = 0;
  for (let t: typeof loc.startToken | null = loc.startToken; t !== null; t = t.next) tokens++;
  return 2 * loc.source.body.length + BYTES_PER_TOKEN * tokens;
}

/** A least-recently-used cache of parsed documents, bounded by their estimated heap bytes. */
export interface DocumentCache {
  get(key: string): DocumentNode | undefined;
  set(key: string, document: DocumentNode): void;
  delete(key: string): boolean;
  /** Documents held. */
  readonly size: number;
  /** Their estimated heap bytes (never above the cap). */
  readonly bytes: number;
}

export interface DocumentCacheOptions {
  /** Cap on the estimated bytes of everything held. */
  maxBytes: number;
  /** Documents estimated above this are not cached at all (default: a sixteenth of maxBytes). */
  maxEntryBytes?: number;
}

export function createDocumentCache(opts: DocumentCacheOptions): DocumentCache {
  const maxEntry = Math.min(opts.maxEntryBytes ?? Math.floor(opts.maxBytes / 16), opts.maxBytes);
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  const entries = new Map<string, { document: DocumentNode; bytes: number }>();
  let total = 0;
  // The most recently used key: a hit on it (a client repeating its query) leaves the order as it is.
  let newest: string | undefined;
  const remove = (key: string): boolean => {
    const e = entries.get(key);
    if (!e) return false;
    if (key === newest) newest = undefined;
    entries.delete(key);
    total -= e.bytes;
    return true;
  };
  return {
    get(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      if (key !== newest) {
        entries.delete(key);
        entries.set(key, e);
        newest = key;
      }
      return e.document;
    },
    set(key, document) {
      remove(key);
      const bytes = retainedBytesOf(document);
      if (bytes > maxEntry) return;
      for (const oldest of entries.keys()) {
        if (total + bytes <= opts.maxBytes) break;
        remove(oldest);
      }
      entries.set(key, { document, bytes });
      newest = key;
      total += bytes;
    },
    delete: remove,
    get size() {
      return entries.size;
    },
    get bytes() {
      return total;
    },
  };
}
