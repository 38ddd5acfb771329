/**
 * Redis killed under load: a gateway on a private redis-server (store, limits and budgets, response cache,
 * usage ledger) takes steady traffic on REST, REST streaming and GraphQL while Redis is SIGKILLed for 20 s
 * (a few seconds with --short) and started again. No crash; every request answered per the failure policy
 * (`store.failure` open: served unchecked, so 200s); /readyz degraded during and ready after; and after
 * Redis returns, the ledger (read through GraphQL `usage`, which writes waiting events first) counts every
 * request the gateway answered: no usage event lost, none counted twice.
 */
import { randomBytes } from 'node:crypto';
import { ADMIN_KEY, chatBody, ledgerRequests } from '../lib/gateway.ts';
import { json, send, sleep } from '../lib/http.ts';
import { fixedRate, percentile } from '../lib/load.ts';
import { startPrivateRedis } from '../lib/private-redis.ts';
import { judgeGraphQL, judgeRest } from '../lib/shapes.ts';
import { PRICE, route, simProvider } from '../lib/config.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';

const LOAD_KEY = 'sk-chaos-load-0123456789abcdef';
const LOAD_NAME = 'chaos-load';

async function readyz(ctx: CaseContext): Promise<string> {
  const r = await send(ctx.gateway.url, { path: '/readyz', timeoutMs: 5_000 });
  return String((json(r) as { status?: string } | undefined)?.status ?? r.status);
}

export const redisOutage: ChaosCase = {
  name: 'redis-outage',
  group: 'store faults',
  ownGateway: true,
  summary: 'Redis SIGKILLed under load (20 s; --short: 4 s) and restarted: requests answered per the failure policy, no usage event lost',
  budgetMs: (short) => (short ? 60_000 : 120_000),
  async run(ctx) {
    const password = randomBytes(12).toString('hex');
    const redis = await startPrivateRedis(password);
    ctx.onCleanup(() => redis.close());
    const config = {
      server: { host: '127.0.0.1', port: 0 },
      store: { kind: 'redis', url: redis.url, prefix: `chaos:${randomBytes(4).toString('hex')}:`, localCacheMs: 200 },
      providers: [{ ...simProvider(ctx.fx, 'sim'), models: [{ id: 'gpt-4o-mini', price: PRICE }] }],
      routes: [route('default', 'sim')],
      keys: [
        { key: ADMIN_KEY, name: 'chaos-admin', scope: 'admin' },
        { key: LOAD_KEY, name: LOAD_NAME, scope: 'client', routes: ['default'] },
      ],
      // Checked in Redis on every request: they must fail open while it is gone.
      quotas: { keys: { [LOAD_NAME]: { limits: { rpm: 1_000_000, tpm: 1_000_000_000 }, budget: { usd: 1_000, period: 'day' } } } },
    };
    const g = await ctx.dedicated('redis', config);
    const from = new Date(Date.now() - 60_000);
    const headers = { authorization: `Bearer ${LOAD_KEY}`, 'content-type': 'application/json' };
    let answered = 0;
    const latencies: number[] = [];
    const fire = async (i: number) => {
      const kind = i % 10;
      // Every 5th is deterministic (temperature 0): it goes through the response cache.
      const extra = i % 5 === 0 ? { temperature: 0 } : {};
      if (kind === 9) {
        const r = await send(g.url, {
          path: '/graphql',
          headers,
          body: JSON.stringify({ query: 'mutation($m: String!) { createCompletion(input: {messages: [{role: USER, content: $m}]}) { id } }', variables: { m: `load ${i}` } }),
          timeoutMs: 15_000,
        });
        if (r.status !== 0) answered++;
        const v = judgeGraphQL(ctx.t, 'GraphQL createCompletion', r);
        if (r.status !== 200 || v?.errors) ctx.t.fail('other', 'GraphQL createCompletion', `not served (fail-open policy): ${r.status} ${r.body.toString().slice(0, 160)}`);
        latencies.push(r.ms);
        return;
      }
      const r = await send(g.url, { path: '/v1/chat/completions', headers, body: chatBody(`load ${i % 50}`, { ...extra, ...(kind >= 7 && { stream: true }) }), timeoutMs: 15_000 });
      if (r.status !== 0) answered++;
      judgeRest(ctx.t, kind >= 7 ? 'REST stream' : 'REST', r);
      if (r.status !== 200) ctx.t.fail('other', kind >= 7 ? 'REST stream' : 'REST', `not served (fail-open policy): ${r.status || r.error} ${r.body.toString().slice(0, 160)}`);
      latencies.push(r.ms);
    };
    const rps = ctx.short ? 30 : 40;
    const phase = (ms: number, offset: number) => fixedRate({ rps, durationMs: ms, maxInFlight: 64, signal: ctx.signal, fire }, offset);
    const before = await phase(ctx.short ? 1_500 : 5_000, 0);
    const outageMs = ctx.short ? 4_000 : 20_000;
    await redis.kill();
    const killedAt = performance.now();
    const during = phase(outageMs, 100_000);
    await sleep(Math.min(2_000, outageMs / 2));
    const degraded = await readyz(ctx);
    if (degraded !== 'degraded') ctx.t.fail('other', '/readyz during the outage', `said ${degraded}, expected degraded`);
    const duringResult = await during;
    await redis.start();
    const outageS = ((performance.now() - killedAt) / 1000).toFixed(1);
    const after = await phase(ctx.short ? 3_000 : 5_000, 200_000);
    const skipped = before.skipped + duringResult.skipped + after.skipped;
    if (skipped > 0) ctx.t.fail('other', 'load', `${skipped} requests could not start: 64 were still open (requests held up)`);

    // The ledger: every answered request is one event. The usage query writes what waits first; Redis and the
    // ledger's retry need a moment after the restart, so poll (bounded).
    const to = new Date(Date.now() + 60_000);
    let counted: number | undefined;
    const until = performance.now() + 20_000;
    while (performance.now() < until) {
      counted = await ledgerRequests(g, LOAD_NAME, from, to);
      if (counted !== undefined && counted >= answered) break;
      await sleep(500);
    }
    const ready = await readyz(ctx);
    if (ready !== 'ready') ctx.t.fail('other', '/readyz after Redis returned', `said ${ready}`);
    const metrics = (await send(g.url, { path: '/metrics', timeoutMs: 5_000 })).body.toString();
    const dropped = /^switchboard_usage_events_dropped_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? '0';
    ctx.t.note(
      `Redis down ${outageS} s at ${rps} req/s: ${answered} answered (${before.started}/${duringResult.started}/${after.started} before/during/after), ` +
        `ledger counted ${counted ?? 'nothing'}, dropped-events metric ${dropped}; latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`,
    );
    if (counted === undefined) {
      ctx.t.fail('other', 'ledger', 'the usage query did not answer');
      return;
    }
    ctx.t.usageEventsLost = Math.max(0, answered - counted);
    if (counted < answered) ctx.t.fail('usageLost', 'ledger', `${answered - counted} of ${answered} answered requests have no usage event`, answered - counted);
    if (counted > answered) ctx.t.fail('other', 'ledger', `${counted - answered} more usage events than answered requests (counted twice)`);
  },
};
