/**
 * The store contract's harness over a Redis URL (Sentinel or Cluster), built the way the gateway builds its
 * store: config `store:` → resolveStoreConfig → createStore, which parses the URL.
 */
import { randomBytes } from 'node:crypto';
import { resolveStoreConfig } from '../../src/config/index.ts';
import { createStore } from '../../src/store/create-store.ts';
import type { Store } from '../../src/store/store.ts';
import { command, until } from '../helpers/redis-topologies.ts';
import type { StoreHarness } from './store-contract.ts';

export interface UrlHarnessOptions {
  url: () => string;
  password?: string;
  /** The data nodes to ask for PUBSUB NUMSUB (classic pub/sub reaches every node of a cluster). */
  dataPorts: () => number[];
}

export function storeFromUrl(url: string, prefix: string, extra: Record<string, unknown> = {}): Store {
  return createStore(resolveStoreConfig({ kind: 'redis', url, prefix, compressAboveBytes: 1024, ...extra }, {}));
}

export function uniqueTopologyPrefix(label: string): string {
  return `sbtest:${label}:${randomBytes(4).toString('hex')}:`;
}

/**
 * Commands fail fast until the connection is up (no offline queue); tests start once it is. A cluster
 * client's first connect can fail its ready check (ioredis' CLUSTER INFO meets a connection its own pool
 * reset just closed) and retry with our backoff (100 ms doubling to 2 s); on a loaded CI machine (two
 * cores, several topologies starting and failing over at once) that once took over 10 s. A failure names
 * the last state seen, since readiness reports rather than throws.
 */
export async function waitReady(s: Store, timeoutMs = 20_000): Promise<void> {
  let last = 'no answer yet';
  try {
    await until('the store to be ready', timeoutMs, async () => {
      const r = await s.readiness();
      if (r.status === 'ready') return true;
      last = r.detail ?? r.status;
      return undefined;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}; last readiness: ${last}`);
  }
}

export function urlHarness(opts: UrlHarnessOptions): StoreHarness {
  const prefixOf = new WeakMap<Store, string>();
  const members = new Map<string, number>();

  async function subscribers(channel: string): Promise<number> {
    let n = 0;
    for (const port of opts.dataPorts()) {
      const reply = (await command(port, opts.password, 'PUBSUB', 'NUMSUB', channel).catch(() => [channel, 0])) as [string, number];
      n += Number(reply[1]);
    }
    return n;
  }

  async function open(prefix: string): Promise<Store> {
    const s = storeFromUrl(opts.url(), prefix);
    prefixOf.set(s, prefix);
    await waitReady(s);
    const want = (members.get(prefix) ?? 0) + 1;
    members.set(prefix, want);
    // Its subscriber connection is separate: wait until the server counts it, so no published change is missed.
    await until('the store to subscribe', 10_000, async () => ((await subscribers(`${prefix}events`)) >= want ? true : undefined));
    return s;
  }

  return {
    create: () => open(uniqueTopologyPrefix('contract')),
    peer: (s) => open(prefixOf.get(s)!),
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
