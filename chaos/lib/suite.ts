/**
 * The runner: shared fixtures (a healthy OpenAI simulator and the misbehaving upstream, both in this process
 * on loopback), one main gateway process for the cases that need no special set-up, and for each case:
 * a healthy gateway first, the case within its time budget, then the checks every case gets — the process
 * is still up, nothing was logged as uncaught, a normal request on each API still works — and the gateway's
 * RSS before and after (after a settle period).
 */
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { stopAll } from '../../bench/lib/procs.ts';
import { mainConfig } from './config.ts';
import { startEvilUpstream, type EvilUpstream } from './evil-upstream.ts';
import { auth, chatBody, healthProblems, retainedMemory, rssMiB, startGateway, waitHealthy, type Gateway } from './gateway.ts';
import { pool, resetAgent, send, sleep } from './http.ts';
import { Tally, type CaseResult } from './tally.ts';

export interface Fixtures {
  /** OpenAI protocol, no faults (per-provider faults come through the provider's `x-sim-faults` header). */
  sim: Simulator;
  evil: EvilUpstream;
}

export interface CaseContext {
  fx: Fixtures;
  short: boolean;
  t: Tally;
  /** The gateway under test: the main one, or the last one `dedicated` started. */
  gateway: Gateway;
  /** Aborted when the case's time budget is spent: loops must stop. */
  signal: AbortSignal;
  log(msg: string): void;
  /** Starts a gateway of the case's own (stopped after the case), waits until healthy and warms it; it becomes `gateway`. */
  dedicated(name: string, config: Record<string, unknown>, env?: Record<string, string>): Promise<Gateway>;
  /** Runs at the end of the case, whatever happened (a private Redis, a collector stand-in). */
  onCleanup(fn: () => Promise<void> | void): void;
}

export interface ChaosCase {
  name: string;
  group: string;
  summary: string;
  /** Wall-clock budget; past it the case counts as hung and is abandoned. */
  budgetMs(short: boolean): number;
  /** The case starts its own gateway (`ctx.dedicated`) and never uses the main one. */
  ownGateway?: boolean;
  /** The case stops its gateway itself (no health check or RSS after it). */
  endsGateway?: boolean;
  run(ctx: CaseContext): Promise<void>;
  /** After the checks every case gets (health, RSS): a last step that may stop the gateway (a shutdown check). */
  finale?(ctx: CaseContext): Promise<void>;
}

export interface SuiteOptions {
  short: boolean;
  log(msg: string): void;
}

/** Normal traffic on every API, so RSS baselines are taken after start-up warm-up, not during it. */
export async function warmUp(g: Gateway, n: number): Promise<void> {
  const headers = { ...auth, 'content-type': 'application/json' };
  const gql = JSON.stringify({ query: 'mutation($m: String!) { createCompletion(input: {messages: [{role: USER, content: $m}]}) { id } }', variables: { m: 'warm up' } });
  const msg = JSON.stringify({ model: 'default', max_tokens: 64, messages: [{ role: 'user', content: 'warm up' }] });
  await pool(Array.from({ length: n }, (_, i) => i), 8, async (i) => {
    const kind = i % 4;
    if (kind === 0) await send(g.url, { path: '/v1/chat/completions', headers, body: chatBody(`warm ${i}`), timeoutMs: 10_000 });
    if (kind === 1) await send(g.url, { path: '/v1/chat/completions', headers, body: chatBody(`warm ${i}`, { stream: true }), timeoutMs: 10_000 });
    if (kind === 2) await send(g.url, { path: '/graphql', headers, body: gql, timeoutMs: 10_000 });
    if (kind === 3) await send(g.url, { path: '/v1/messages', headers, body: msg, timeoutMs: 10_000 });
  });
}

export async function startFixtures(): Promise<Fixtures> {
  const [sim, evil] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), startEvilUpstream()]);
  return { sim, evil };
}

export async function stopFixtures(fx: Fixtures): Promise<void> {
  await Promise.all([fx.sim.close(), fx.evil.close()]);
}

const MiB = (n: number) => Math.round(n * 10) / 10;

/**
 * What the gateway retains after the case: a settle period, then RSS after a full GC, polled (full mode)
 * until back within 10% of `before` or `maxMs` passed, since V8 hands freed pages back lazily.
 */
async function settledMemory(g: Gateway, before: number, minMs: number, maxMs: number): Promise<{ rssMiB: number; heapMiB: number | null }> {
  await sleep(minMs);
  const until = Date.now() + maxMs - minMs;
  let m = await retainedMemory(g);
  while (m.rssMiB > before * 1.1 && Date.now() < until && g.alive()) {
    await sleep(1_000);
    m = await retainedMemory(g);
  }
  return { rssMiB: m.rssMiB, heapMiB: m.heap ? m.heap.usedMiB : null };
}

/** Runs the cases in order; the main gateway is restarted whenever a case left it dead. */
export async function runSuite(cases: readonly ChaosCase[], opts: SuiteOptions): Promise<CaseResult[]> {
  const { short, log } = opts;
  const fx = await startFixtures();
  let main: Gateway | undefined;
  const startMain = async () => {
    resetAgent();
    main = await startGateway('main', mainConfig(fx));
    const problems = await waitHealthy(main, 10_000);
    if (problems.length > 0) throw new Error(`the main gateway is not healthy after start: ${problems.join('; ')}`);
    await warmUp(main, short ? 80 : 200);
    log(`main gateway pid ${main.pid} on ${main.url}, RSS ${MiB(rssMiB(main))} MiB after warm-up`);
  };
  const results: CaseResult[] = [];
  try {
    for (const c of cases) {
      // Started on first need, and again whenever a case left it dead.
      if (!c.ownGateway && !main?.alive()) await startMain();
      results.push(await runCase(c, fx, c.ownGateway ? undefined : main, opts));
    }
  } finally {
    await main?.stop();
    await stopAll(2_000);
    await stopFixtures(fx);
    resetAgent();
  }
  return results;
}

function resultOf(c: ChaosCase, t: Tally, t0: number, rss: CaseResult['rss']): CaseResult {
  return {
    name: c.name,
    group: c.group,
    summary: c.summary,
    durationMs: Math.round(performance.now() - t0),
    probes: t.probes,
    statuses: t.statuses,
    failures: { ...t.failures },
    examples: t.examples,
    usageEventsLost: t.usageEventsLost,
    rss,
    notes: t.notes,
  };
}

async function runCase(c: ChaosCase, fx: Fixtures, main: Gateway | undefined, opts: SuiteOptions): Promise<CaseResult> {
  const { short, log } = opts;
  const t = new Tally(c.name);
  const t0 = performance.now();
  log(`case ${c.name}: ${c.summary}`);
  const owned: Gateway[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  const abort = new AbortController();
  let before = Number.NaN;
  let heapBefore: number | null = null;
  const baseline = async (g: Gateway) => {
    const m = await retainedMemory(g);
    before = m.rssMiB;
    heapBefore = m.heap ? m.heap.usedMiB : null;
  };
  let rssWindow: ReturnType<Gateway['sampler']['begin']> | undefined;
  let errorsSeen = 0;
  const ctx: CaseContext = {
    fx,
    short,
    t,
    // A case with its own gateway has none until it starts one.
    gateway: main as Gateway,
    signal: abort.signal,
    log: (m) => log(`  ${m}`),
    async dedicated(name, config, env = {}) {
      const g = await startGateway(name, config, env);
      owned.push(g);
      const problems = await waitHealthy(g, 15_000);
      if (problems.length > 0) throw new Error(`dedicated gateway ${name} is not healthy after start: ${problems.join('; ')}`);
      await warmUp(g, short ? 40 : 100);
      ctx.gateway = g;
      await baseline(g);
      rssWindow = g.sampler.begin();
      errorsSeen = 0;
      return g;
    },
    onCleanup: (fn) => void cleanups.push(fn),
  };
  if (main) {
    const unhealthy = await healthProblems(main);
    if (unhealthy.length > 0) t.note(`main gateway unhealthy before the case: ${unhealthy.join('; ')}`);
    await baseline(main);
    rssWindow = main.sampler.begin();
    errorsSeen = main.errors.length;
  }

  const budget = c.budgetMs(short);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    c.run(ctx).then(
      () => 'done' as const,
      (e: unknown) => e as Error,
    ),
    new Promise<'budget'>((r) => (timer = setTimeout(() => r('budget'), budget))),
  ]);
  clearTimeout(timer);
  abort.abort();
  if (outcome === 'budget') t.fail('other', c.name, `did not finish within its budget of ${budget / 1000} s (hang)`);
  else if (outcome instanceof Error) t.fail('other', c.name, `the case itself failed: ${outcome.message}`);

  const g = ctx.gateway as Gateway | undefined;
  if (!g) {
    t.fail('other', c.name, 'the case started no gateway');
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    return resultOf(c, t, t0, null);
  }
  const peak = rssWindow?.end().rssPeakMiB ?? Number.NaN;
  for (const line of g.errors.slice(errorsSeen)) {
    if (/uncaught exception|unhandled promise rejection/.test(line.msg)) t.fail('crash', c.name, `${line.msg} ${line.detail}`);
    else t.note(`error log: ${line.msg} ${line.detail}`.slice(0, 300));
  }
  let rss: CaseResult['rss'] = null;
  if (!c.endsGateway) {
    if (!g.alive()) t.fail('crash', c.name, `gateway exited (code ${String(g.exitCode())}) during the case`);
    else {
      const unhealthy = await healthProblems(g);
      for (const p of unhealthy) t.fail('other', 'normal request after the case', p);
      const after = await settledMemory(g, before, short ? 500 : 3_000, short ? 500 : 15_000);
      rss = {
        beforeMiB: MiB(before),
        afterMiB: MiB(after.rssMiB),
        peakMiB: MiB(Math.max(peak, after.rssMiB)),
        growthPct: Math.round(((after.rssMiB - before) / before) * 1000) / 10,
        heapBeforeMiB: heapBefore === null ? null : MiB(heapBefore),
        heapAfterMiB: after.heapMiB === null ? null : MiB(after.heapMiB),
      };
      if (heapBefore === null || after.heapMiB === null) t.note('the V8 inspector did not answer: RSS read without a forced GC');
    }
  }
  if (c.finale && outcome === 'done' && g.alive()) {
    try {
      await c.finale(ctx);
    } catch (e) {
      t.fail('other', c.name, `the case's last step failed: ${(e as Error).message}`);
    }
  }
  for (const o of owned) await o.stop();
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (e) {
      t.note(`clean-up failed: ${(e as Error).message}`);
    }
  }
  const result = resultOf(c, t, t0, rss);
  const bad = Object.entries(result.failures).filter(([, n]) => n > 0);
  log(`  → ${result.probes} probes in ${(result.durationMs / 1000).toFixed(1)} s${bad.length ? `; FAILURES ${bad.map(([k, n]) => `${k}=${n}`).join(' ')}` : '; ok'}${rss ? `; RSS ${rss.beforeMiB}→${rss.afterMiB} MiB (${rss.growthPct}%)` : ''}`);
  return result;
}
