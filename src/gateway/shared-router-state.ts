import type { RouterConfig } from '../config/index.ts';
import { createInMemoryBreakerState, type BreakerSnapshot, type BreakerState } from '../router/circuit-breaker.ts';
import { createInMemoryLatencyWindow, type LatencyWindow } from '../router/latency-window.ts';
import type { BreakerRecord, RouterStateStore } from '../store/store.ts';

export interface SharedRouterStateOptions {
  router: RouterConfig;
  state: RouterStateStore;
  /** The gateway's clock (milliseconds, any origin): converted to epoch ms for the store. */
  now: () => number;
  /** How often the local copies are refreshed from the store. */
  refreshMs: number;
  onError?: ((operation: string, error: unknown) => void) | undefined;
}

export interface SharedRouterState {
  breakers: BreakerState;
  latency: LatencyWindow;
  /** One refresh of both local copies (the background timer calls it; tests may too). */
  refresh(): Promise<void>;
  close(): void;
}

/**
 * Circuit breakers and latency windows shared by every instance through the store, with the router's
 * synchronous reads kept off the network: each instance keeps its own in-memory breaker and window, and
 *
 * - breakers: a transition (open, half-open, closed) is written to the store without being awaited; a
 *   newer record written by another instance overrides the local view (so a target one instance saw fail
 *   is skipped by all of them until its cooldown ends, and one closed by another's probe is used again);
 * - latency: samples are pushed without being awaited, and the local window is rebuilt from every
 *   instance's samples at each refresh (plus this instance's own since then).
 *
 * The half-open probe slot stays per instance: after a cooldown each instance may send its own probes.
 */
export function createSharedRouterState(opts: SharedRouterStateOptions): SharedRouterState {
  const { state, now } = opts;
  const onError = opts.onError ?? (() => undefined);
  // The gateway's clock is monotonic with an arbitrary origin; the store needs one all instances share.
  const offset = Date.now() - now();
  const epoch = (t: number) => t + offset;
  const local = (e: number) => e - offset;

  const inner = createInMemoryBreakerState(opts.router.breaker);
  const shared = new Map<string, BreakerRecord>();
  const ownWriteAt = new Map<string, number>();
  const breakerKeys = new Set<string>();

  /** The view another instance's newer record imposes, if any. */
  function override(key: string, t: number): BreakerSnapshot | undefined {
    const rec = shared.get(key);
    if (!rec || rec.updatedAtMs <= (ownWriteAt.get(key) ?? -Infinity)) return undefined;
    if (rec.state === 'open' && rec.retryAtMs !== null && epoch(t) < rec.retryAtMs) {
      return { state: 'open', openUntil: local(rec.retryAtMs), reason: 'opened by another instance', calls: 0, failures: 0 };
    }
    if (rec.state === 'closed' && inner.peek(key, t).state !== 'closed') return { state: 'closed', calls: 0, failures: 0 };
    return undefined;
  }

  function publish(key: string, snap: BreakerSnapshot, t: number): void {
    const at = Math.max(epoch(t), (shared.get(key)?.updatedAtMs ?? 0) + 1);
    const record: BreakerRecord = {
      state: snap.state === 'half-open' ? 'half_open' : snap.state,
      consecutiveFailures: 0,
      openedAtMs: snap.state === 'open' ? epoch(t) : null,
      retryAtMs: snap.state === 'open' && snap.openUntil !== undefined ? epoch(snap.openUntil) : null,
      updatedAtMs: at,
    };
    ownWriteAt.set(key, at);
    shared.set(key, record);
    state.setBreaker(key, record).catch((e: unknown) => onError('breaker write', e));
  }

  const breakers: BreakerState = {
    peek(key, t) {
      breakerKeys.add(key);
      return override(key, t) ?? inner.peek(key, t);
    },
    acquire(key, t) {
      breakerKeys.add(key);
      const o = override(key, t);
      if (o) return o.state !== 'open';
      return inner.acquire(key, t);
    },
    report(key, outcome, t, info) {
      breakerKeys.add(key);
      const overridden = override(key, t) !== undefined;
      const before = inner.peek(key, t).state;
      inner.report(key, outcome, t, info);
      const after = inner.peek(key, t);
      // Only transitions go to the store: a healthy target costs no writes.
      if (after.state !== before || (overridden && outcome !== 'neutral')) publish(key, after, t);
    },
  };

  let window = createInMemoryLatencyWindow(opts.router.latencyWindowMs);
  const latencyKeys = new Set<string>();
  /** This instance's samples since the current refresh began: the fetched copy may not hold them yet. */
  let recent: { key: string; latencyMs: number; at: number }[] = [];

  const latency: LatencyWindow = {
    record(key, latencyMs, at) {
      latencyKeys.add(key);
      window.record(key, latencyMs, at);
      recent.push({ key, latencyMs, at });
      // While the store is unreachable refreshes fail and nothing trims the list.
      if (recent.length > 10_000) recent.splice(0, recent.length - 10_000);
      state.pushLatency(key, { atMs: Math.round(epoch(at)), latencyMs, ok: true }).catch((e: unknown) => onError('latency write', e));
    },
    p95(key, t) {
      latencyKeys.add(key);
      return window.p95(key, t);
    },
    stats(keys, t) {
      for (const k of keys) latencyKeys.add(k);
      return window.stats(keys, t);
    },
  };

  async function refreshBreakers(): Promise<void> {
    if (breakerKeys.size === 0) return;
    const records = await state.getBreakers([...breakerKeys]);
    for (const [key, rec] of records) {
      if (rec.updatedAtMs > (shared.get(key)?.updatedAtMs ?? -Infinity)) shared.set(key, rec);
    }
  }

  async function refreshLatency(): Promise<void> {
    if (latencyKeys.size === 0) return;
    const t = now();
    const since = Math.floor(epoch(t) - opts.router.latencyWindowMs);
    const marker = recent.length;
    const keys = [...latencyKeys];
    const samples = await Promise.all(keys.map((k) => state.readLatency(k, since)));
    const next = createInMemoryLatencyWindow(opts.router.latencyWindowMs);
    keys.forEach((k, i) => {
      for (const s of samples[i]!) if (s.ok) next.record(k, s.latencyMs, local(s.atMs));
    });
    const pending = recent.slice(marker);
    for (const s of pending) next.record(s.key, s.latencyMs, s.at);
    window = next;
    recent = pending;
  }

  async function refresh(): Promise<void> {
    const results = await Promise.allSettled([refreshBreakers(), refreshLatency()]);
    for (const r of results) if (r.status === 'rejected') onError('router state refresh', r.reason);
  }

  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void refresh().finally(() => {
      running = false;
    });
  }, Math.max(50, opts.refreshMs));
  timer.unref();

  return {
    breakers,
    latency,
    refresh,
    close: () => clearInterval(timer),
  };
}
