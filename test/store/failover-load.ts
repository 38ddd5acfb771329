/**
 * Load for failover tests: several store instances (standing in for gateway instances) take a rate limit and
 * reserve + settle a budget in a loop, at a fixed caller time (so the window never slides and the figures are
 * exact), while a master is killed. What the clients were told (admitted, settled) is then compared with what
 * the new master holds: the difference is what was acknowledged on the lost master but never replicated.
 */
import type { BudgetLine, LimitRule, RouteChange, RouteResync, Store } from '../../src/store/store.ts';
import { until } from '../helpers/redis-topologies.ts';
import { chat } from '../integration/cluster.ts';

// A window-aligned caller time: all limit and budget calls use it.
export const NOW = 1_800_000_000_000 - (1_800_000_000_000 % 60_000);

export interface LoadOptions {
  stores: Store[];
  /** In-flight loops per store. */
  concurrency: number;
  rule: LimitRule;
  line: BudgetLine;
  amountUsd: number;
  /** Which features to drive (both by default). */
  limits?: boolean;
  budgets?: boolean;
}

export interface LoadStats {
  /** consume() answered allowed / denied; calls that failed (store unavailable). */
  admitted: number;
  denied: number;
  limitErrors: number;
  /** Reservations granted, settles acknowledged, and the USD those settles were told were recorded. */
  reserved: number;
  settled: number;
  settledUsd: number;
  budgetErrors: number;
  /** performance.now() of the last failed call and of the first success that started after it. */
  lastErrorAt: number | undefined;
  firstOkAfterErrorAt: number | undefined;
  /** Admissions acknowledged by the time the kill happened (markKill). */
  admittedAtKill: number;
  killAt: number | undefined;
  /** The slowest single store call (ms), failed or not: how long an outage can hold a request. */
  slowestCallMs: number;
}

export interface Load {
  readonly stats: LoadStats;
  /** Records the moment the master is killed. */
  markKill(): void;
  /** Waits until a call failed after the kill and a call started after the last failure succeeded. */
  waitRecovered(timeoutMs: number): Promise<void>;
  stop(): Promise<LoadStats>;
}

export function startLoad(o: LoadOptions): Load {
  const stats: LoadStats = {
    admitted: 0,
    denied: 0,
    limitErrors: 0,
    reserved: 0,
    settled: 0,
    settledUsd: 0,
    budgetErrors: 0,
    lastErrorAt: undefined,
    firstOkAfterErrorAt: undefined,
    admittedAtKill: 0,
    killAt: undefined,
    slowestCallMs: 0,
  };
  let stopped = false;
  const timed = (startedAt: number) => {
    stats.slowestCallMs = Math.max(stats.slowestCallMs, performance.now() - startedAt);
  };
  const failed = (startedAt: number) => {
    timed(startedAt);
    stats.lastErrorAt = performance.now();
    stats.firstOkAfterErrorAt = undefined;
  };
  const ok = (startedAt: number) => {
    timed(startedAt);
    if (stats.lastErrorAt !== undefined && stats.firstOkAfterErrorAt === undefined && startedAt > stats.lastErrorAt) stats.firstOkAfterErrorAt = performance.now();
  };
  // A failing call fails fast: pause briefly so an outage does not spin the CPU the servers need.
  const pause = () => new Promise((r) => setTimeout(r, 10));

  async function loop(s: Store): Promise<void> {
    while (!stopped) {
      if (o.limits !== false) {
        const t = performance.now();
        try {
          const d = await s.limits.consume([o.rule], NOW);
          if (d.allowed) stats.admitted++;
          else stats.denied++;
          ok(t);
        } catch {
          stats.limitErrors++;
          failed(t);
          await pause();
        }
      }
      if (o.budgets !== false) {
        const t = performance.now();
        try {
          const r = await s.budgets.reserve([o.line], o.amountUsd, 60_000, NOW);
          if (r.ok) {
            stats.reserved++;
            await s.budgets.settle(r.reservation, o.amountUsd, NOW);
            stats.settled++;
            stats.settledUsd += o.amountUsd;
          }
          ok(t);
        } catch {
          stats.budgetErrors++;
          failed(t);
          await pause();
        }
      }
      // Let other I/O (the servers' replies to the test, timers) through between iterations.
      await new Promise((r) => setImmediate(r));
    }
  }

  const loops = o.stores.flatMap((s) => Array.from({ length: o.concurrency }, () => loop(s)));
  return {
    stats,
    markKill() {
      stats.killAt = performance.now();
      stats.admittedAtKill = stats.admitted;
    },
    async waitRecovered(timeoutMs) {
      await until('the store to answer again after the kill', timeoutMs, async () => {
        const e = stats.lastErrorAt;
        if (e === undefined || e < stats.killAt!) return undefined;
        return stats.firstOkAfterErrorAt !== undefined ? true : undefined;
      });
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return stats;
    },
  };
}

const LIMIT_FIGURES = ['limit', 'admitted', 'counterOnNewMaster', 'overAdmission', 'lostAdmissions', 'limitCallsFailed'];
const BUDGET_FIGURES = ['settledUsdAcknowledged', 'spentUsdOnNewMaster', 'reservedUsdLeft', 'lostSpendUsd', 'budgetCallsFailed'];

/** The figures a failover test reports (and the README quotes); logged for the features the load drove. */
export function summarize(label: string, n: number, s: LoadStats, counter: number, spentUsd: number, reservedUsd: number, promotedMs: number) {
  const figures = {
    promotedMs,
    recoveryMs: s.firstOkAfterErrorAt !== undefined && s.killAt !== undefined ? Math.round(s.firstOkAfterErrorAt - s.killAt) : -1,
    slowestCallMs: Math.round(s.slowestCallMs),
    limit: n,
    admitted: s.admitted,
    counterOnNewMaster: counter,
    overAdmission: s.admitted - n,
    lostAdmissions: s.admitted - counter,
    limitCallsFailed: s.limitErrors,
    settledUsdAcknowledged: round(s.settledUsd),
    spentUsdOnNewMaster: round(spentUsd),
    reservedUsdLeft: round(reservedUsd),
    lostSpendUsd: round(s.settledUsd - spentUsd),
    budgetCallsFailed: s.budgetErrors,
  };
  const hidden = [...(s.admitted + s.denied + s.limitErrors > 0 ? [] : LIMIT_FIGURES), ...(s.reserved + s.budgetErrors > 0 ? [] : BUDGET_FIGURES)];
  console.log(`[failover figures] ${label}: ${JSON.stringify(Object.fromEntries(Object.entries(figures).filter(([k]) => !hidden.includes(k))))}`);
  return figures;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

export interface FailoverRun {
  stats: LoadStats;
  figures: ReturnType<typeof summarize>;
}

/**
 * Drives the load, kills the master once a third of the limit is taken, waits for the promotion and for the
 * store to answer again, then takes the rest of the limit until it denies (so what was admitted in all is
 * final) and compares with what the new master holds.
 */
export async function runFailover(o: {
  label: string;
  stores: Store[];
  prefix: string;
  concurrency: number;
  limit: number;
  limits?: boolean;
  budgets?: boolean;
  kill(): Promise<void>;
  promoted(): Promise<boolean>;
  /** The raw value of a key on whichever node now serves it. */
  read(key: string): Promise<string | null>;
}): Promise<FailoverRun> {
  const rule: LimitRule = { key: 'app:rpm', limit: o.limit, windowMs: 60_000, cost: 1 };
  const line: BudgetLine = { id: 'app:day', limitUsd: 1_000_000, periodEndMs: NOW + 86_400_000 };
  const load = startLoad({ stores: o.stores, concurrency: o.concurrency, rule, line, amountUsd: 0.001, limits: o.limits, budgets: o.budgets });
  let promotedMs = -1;
  try {
    await until('a third of the limit to be taken', 20_000, async () => (load.stats.admitted + load.stats.settled >= o.limit / 3 ? true : undefined));
    load.markKill();
    await o.kill();
    await until('the replica to be promoted', 30_000, async () => ((await o.promoted()) ? true : undefined));
    promotedMs = Math.round(performance.now() - load.stats.killAt!);
    await load.waitRecovered(20_000);
    if (o.limits !== false) await until('the limit to be reached on the new master', 20_000, async () => (load.stats.denied > 0 ? true : undefined));
  } finally {
    await load.stop();
  }
  // A node can still answer CLUSTERDOWN (or a replica LOADING) for a moment after the store answered again:
  // the figures are read once the topology has settled, not raced against it.
  const { counter, budget } = await until('the counter and the budget to be readable', 20_000, async () => {
    const raw = await o.read(`${o.prefix}{rl}:${rule.key}:${NOW}`);
    const [b] = await o.stores[0]!.budgets.status([line], NOW);
    return { counter: Number(raw ?? 0), budget: b };
  });
  return { stats: load.stats, figures: summarize(o.label, o.limit, load.stats, counter, budget!.spentUsd, budget!.reservedUsd, promotedMs) };
}

/** Sequential gateway requests (five cacheable prompts in turn) until stopped: the statuses and cache states seen. */
export function gatewayTraffic(url: string, key: string) {
  const statuses: number[] = [];
  const cacheStates = new Set<string>();
  let slowestMs = 0;
  let stopped = false;
  const running = (async () => {
    for (let i = 0; !stopped; i++) {
      const t = performance.now();
      const r = await chat(url, key, { model: 'default', messages: [{ role: 'user', content: `q${i % 5}` }], temperature: 0 });
      slowestMs = Math.max(slowestMs, performance.now() - t);
      statuses.push(r.status);
      cacheStates.add(r.headers.get('x-switchboard-cache') ?? 'none');
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return { statuses, cacheStates, slowestMs: Math.round(slowestMs) };
    },
  };
}

/** A new answer is cached again (MISS, then HIT): the gateway's store is back, on the new master. */
export async function gatewayCachesAgain(url: string, key: string): Promise<void> {
  await until('the gateway to cache again', 20_000, async () => {
    const body = { model: 'default', messages: [{ role: 'user', content: `after ${Math.random()}` }], temperature: 0 };
    const a = await chat(url, key, body);
    const b = await chat(url, key, body);
    return a.headers.get('x-switchboard-cache') === 'MISS' && b.headers.get('x-switchboard-cache') === 'HIT' ? true : undefined;
  });
}

/** The gateway config of the failover tests: one simulator, one key with limits and a budget, the given store URL. */
export function gatewayConfig(storeUrl: string, simUrl: string, key: string, prefix: string) {
  return {
    store: { kind: 'redis', url: storeUrl, prefix, localCacheMs: 100 },
    providers: [{ id: 'sim-openai', protocol: 'openai', baseUrl: `${simUrl}/v1`, models: [{ id: 'gpt-4o-mini', price: { input: 1, output: 2 } }] }],
    routes: [{ name: 'default', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] }],
    keys: [{ key, name: 'app' }],
    // The default failure policy (open): requests keep flowing while limits and budgets cannot be checked.
    quotas: { keys: { app: { limits: { rpm: 100_000 }, budget: { usd: 1_000 } } } },
  };
}

/** Route subscriptions on every instance, to check after a failover that each one hears changes again. */
export function listenRoutes(stores: Store[]) {
  const seen = stores.map(() => [] as (RouteChange | RouteResync)[]);
  const unsubscribe = stores.map((s, i) => s.routes.subscribe((c) => seen[i]!.push(c)));
  return {
    seen,
    /** Upserts a route on the first instance; resolves once every instance has applied it. */
    async changeReachesAll(name: string): Promise<void> {
      const version = await until('the route change to be accepted', 10_000, () => stores[0]!.routes.upsert({ name, targets: [{ provider: 'p', model: 'm' }] } as never));
      await until('every instance to apply the change', 10_000, async () => (seen.every((l) => l.some((c) => c.op === 'upsert' && c.version === version)) ? true : undefined));
    },
    close: () => unsubscribe.forEach((u) => u()),
  };
}
