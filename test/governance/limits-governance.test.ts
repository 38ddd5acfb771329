/**
 * The limits stage with governance: a runtime key's own quota (as a config quota), runtime and config teams,
 * the organisation, route and provider lines, weekly periods, soft routes named by any line, alerts once.
 */
import { describe, expect, it } from 'vitest';
import type { Completion, Principal } from '../../src/core/index.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import { limitsStage, type LimitsStageOptions } from '../../src/gateway/limits-stage.ts';
import { createPipeline, type Stage, type Upstream } from '../../src/gateway/pipeline.ts';
import type { GatewayCall } from '../../src/gateway/request-context.ts';
import { ResolvedRequest } from '../../src/gateway/route-resolver.ts';
import { budgetPeriod } from '../../src/governance/budget-period.ts';
import { configQuotas, createQuotaBook } from '../../src/governance/quota-book.ts';
import type { QuotaSubject } from '../../src/governance/quota-subjects.ts';
import { createTeamDirectory } from '../../src/governance/team-directory.ts';
import type { Target } from '../../src/router/route-plan.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { BudgetLineAlert } from '../../src/store/store.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { chat } from '../store/fake-gateway.ts';

// A Wednesday: its week started on Monday 2025-06-02.
const START = Date.UTC(2025, 5, 4, 12, 0, 0);

const target = (provider: string): Target => ({ provider, model: 'm', upstreamModel: 'm', capabilities: [], contextWindow: 100_000, weight: 1 });

/** Serves every request on the first target its resolution still has, as the router's plan would. */
function upstream(cost = 0.01) {
  const served: string[] = [];
  const complete = async (call: GatewayCall): Promise<Completion> => {
    const provider = call.resolved.targets[0]?.provider ?? 'none';
    served.push(`${call.resolved.route.name}@${provider}`);
    return {
      id: `c${served.length}`,
      route: call.resolved.route.name,
      routeVersion: 1,
      provider,
      model: 'm',
      upstreamModel: 'm',
      message: { role: 'assistant', content: 'ok', toolCalls: [] },
      finishReason: 'stop',
      usage: { inputTokens: 5, outputTokens: 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
      costUsd: cost,
      latencyMs: 1,
      timeToFirstTokenMs: null,
      cached: false,
      attempts: [],
      createdAt: new Date(),
      traceId: null,
    };
  };
  const u: Upstream = {
    complete,
    async *stream(call) {
      yield { type: 'done', completion: await complete(call) };
    },
  };
  return { upstream: u, served };
}

function setup(opts: LimitsStageOptions & { routes?: Record<string, string[]> }, cost = 0.01) {
  const clock = createFakeClock(START);
  const store = createMemoryStore({ now: clock.now });
  const routes = opts.routes ?? { default: ['p1'] };
  const resolve: Stage = {
    name: 'resolve',
    before(ctx) {
      ctx.resolved = resolution(ctx.request, routes);
    },
  };
  const alerts: Array<{ alert: BudgetLineAlert; subject: QuotaSubject | undefined }> = [];
  const u = upstream(cost);
  const stage = limitsStage(store, {
    now: clock.now,
    estimateCostUsd: () => 0.01,
    onBudgetAlerts: (fired, subjectOf) => alerts.push(...fired.map((alert) => ({ alert, subject: subjectOf(alert.lineId) }))),
    ...opts,
  });
  const pipeline = createPipeline({ stages: [resolve, stage], upstream: u.upstream });
  return { clock, store, pipeline, alerts, served: u.served };
}

function resolution(req: StoreRequest, routes: Record<string, string[]>): ResolvedRequest {
  const name = req.route ?? 'default';
  const route = { name, strategy: 'priority' as const, targets: [], maxAttempts: 2, deadlineMs: 60_000, resumeStreams: false, onContentFilter: 'stop' as const, expectedOutputTokens: 256 };
  return new ResolvedRequest(req.chat, req.principal, 'route', route, 1, (routes[name] ?? []).map(target), req.route, undefined);
}

const runtimeKey = (extra: Partial<Principal> = {}): Principal => ({ name: 'web', scope: 'client', keyId: 'key_1', ...extra });
const req = (principal: Principal, extra: Partial<StoreRequest> = {}): StoreRequest => ({ chat: chat('hi', { temperature: 1, maxOutputTokens: 10 }), principal, ...extra });
const ok = (p: Promise<unknown>) => p.then(() => 'ok', (e: { kind?: string }) => e.kind ?? 'error');

describe('runtime keys: their own quota, as a config quota', () => {
  it('applies its own RPM under its id, instead of the config quota of its name; a same-named key has its own counter', async () => {
    const { pipeline } = setup({ quotas: { keys: { web: { limits: { rpm: 100 } } } } });
    const own = runtimeKey({ quota: { limits: { rpm: 2 } } });
    expect([await ok(pipeline.complete(req(own))), await ok(pipeline.complete(req(own))), await ok(pipeline.complete(req(own)))]).toEqual(['ok', 'ok', 'rate_limited']);
    const ctx = pipeline.prepare(req(runtimeKey({ keyId: 'key_2', quota: { limits: { rpm: 2 } } })));
    await pipeline.complete(ctx);
    expect(ctx.rateLimits!.map((r) => r.key)).toEqual(['key:key_2:rpm']);
    // Without a quota of its own the key answers to config's quota by name.
    const byName = pipeline.prepare(req(runtimeKey({ keyId: 'key_3' })));
    await pipeline.complete(byName);
    expect(byName.rateLimits!.map((r) => `${r.key}=${r.remaining}`)).toEqual(['key:web:rpm=99']);
  });

  it('its own weekly budget is reserved, settled and refused like a config budget; the part it does not set comes from config', async () => {
    const { pipeline, store, clock } = setup({ quotas: { keys: { web: { limits: { rpm: 5 }, budget: { usd: 100 } } } } });
    const p = runtimeKey({ quota: { budget: { usd: 0.025, period: 'week', softThreshold: 1 } } });
    const ctx = pipeline.prepare(req(p));
    await pipeline.complete(ctx);
    expect(ctx.rateLimits!.map((r) => r.key)).toEqual(['key:web:rpm']);
    expect(ctx.budget!.lines.map((l) => l.id)).toEqual(['key:key_1:week:w2025-06-02']);
    expect(await ok(pipeline.complete(req(p)))).toBe('ok');
    expect(await ok(pipeline.complete(req(p)))).toBe('budget_exceeded');
    const line = { id: 'key:key_1:week:w2025-06-02', limitUsd: 0.025, periodEndMs: Date.UTC(2025, 5, 9) };
    expect((await store.budgets.read([line], clock.now()))[0]).toMatchObject({ spentUsd: 0.02, reservedUsd: 0 });
    // Sunday night is still the same week; Monday is a new one.
    clock.advance(Date.UTC(2025, 5, 8, 23, 59) - clock.now());
    expect(await ok(pipeline.complete(req(p)))).toBe('budget_exceeded');
    clock.advance(60_000);
    expect(await ok(pipeline.complete(req(p)))).toBe('ok');
  });
});

describe('teams, the organisation and routes', () => {
  it('a runtime team wins over the config team of that name; config `teams` wins over `quotas.teams`', async () => {
    const clock = createFakeClock(START);
    const store = createMemoryStore({ now: clock.now });
    const teams = createTeamDirectory({ store: store.teams, refreshMs: 60_000 });
    const quotaBook = createQuotaBook(configQuotas({ teams: { shop: { limits: { rpm: 100 } }, ops: { limits: { rpm: 100 } } } }, [{ name: 'ops', limits: { rpm: 1 } }]));
    const resolve: Stage = { name: 'resolve', before: (ctx) => void (ctx.resolved = resolution(ctx.request, { default: ['p1'] })) };
    const pipeline = createPipeline({ stages: [resolve, limitsStage(store, { now: clock.now, quotaBook, teams })], upstream: upstream().upstream });
    const member = (team: string, name = 'a'): Principal => ({ name, scope: 'client', team });
    expect(await ok(pipeline.complete(req(member('ops'))))).toBe('ok');
    expect(await ok(pipeline.complete(req(member('ops', 'b'))))).toBe('rate_limited');
    await teams.upsert({ name: 'shop', limits: { rpm: 1 } });
    expect(await ok(pipeline.complete(req(member('shop'))))).toBe('ok');
    expect(await ok(pipeline.complete(req(member('shop', 'b'))))).toBe('rate_limited');
    await teams.delete('shop');
    expect(await ok(pipeline.complete(req(member('shop', 'c'))))).toBe('ok');
    // A reload of the config swaps the book: the next request reads the new quotas.
    quotaBook.replace(configQuotas({}, [{ name: 'ops', limits: { rpm: 50 } }]));
    expect(await ok(pipeline.complete(req(member('ops', 'd'))))).toBe('ok');
    teams.close();
  });

  it('the org budget and a route budget are lines of every request on them, reserved with the key’s', async () => {
    const { pipeline } = setup({
      quotas: { org: { budget: { usd: 0.035 } }, routes: { cheap: { budget: { usd: 0.015 } } } },
      routes: { default: ['p1'], cheap: ['p1'] },
    });
    const ctx = pipeline.prepare(req(runtimeKey({ quota: { budget: { usd: 1, period: 'day', softThreshold: 0.8 } } }), { route: 'cheap' }));
    await pipeline.complete(ctx);
    expect(ctx.budget!.lines.map((l) => l.id)).toEqual(['key:key_1:day:2025-06-04', 'org:day:2025-06-04', 'route:cheap:day:2025-06-04']);
    expect(await ok(pipeline.complete(req(runtimeKey(), { route: 'cheap' })))).toBe('budget_exceeded');
    // The org line holds $0.02 now: one more request of anyone's fits, the next does not.
    expect(await ok(pipeline.complete(req(runtimeKey())))).toBe('ok');
    expect(await ok(pipeline.complete(req({ name: 'local', scope: 'admin' })))).toBe('ok');
    expect(await ok(pipeline.complete(req({ name: 'local', scope: 'admin' })))).toBe('budget_exceeded');
  });
});

describe('provider lines', () => {
  it('reserves on every candidate provider, charges the one that served and releases the others', async () => {
    const { pipeline, store, clock, served } = setup({
      quotas: { providers: { p1: { budget: { usd: 1 } }, p2: { budget: { usd: 1 } } } },
      routes: { default: ['p1', 'p2', 'p3'] },
    });
    const ctx = pipeline.prepare(req(runtimeKey()));
    await pipeline.complete(ctx);
    expect(ctx.budget!.lines.map((l) => [l.id, l.reservedUsd])).toEqual([
      ['provider:p1:day:2025-06-04', 0.01],
      ['provider:p2:day:2025-06-04', 0.01],
    ]);
    expect(served).toEqual(['default@p1']);
    const lines = ['p1', 'p2'].map((p) => ({ id: `provider:${p}:day:2025-06-04`, limitUsd: 1, periodEndMs: 0 }));
    expect(await store.budgets.read(lines, clock.now())).toEqual([
      { id: lines[0]!.id, limitUsd: 1, spentUsd: 0.01, reservedUsd: 0 },
      { id: lines[1]!.id, limitUsd: 1, spentUsd: 0, reservedUsd: 0 },
    ]);
  });

  it('a provider whose budget is spent is dropped from the candidates; with none left the request is refused', async () => {
    const { pipeline, served, alerts } = setup(
      { quotas: { providers: { p1: { budget: { usd: 0.02, softThreshold: 0.5 } }, p2: { budget: { usd: 0.02 } } } }, routes: { default: ['p1', 'p2'] } },
      0.01,
    );
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await ok(pipeline.complete(req(runtimeKey()))));
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'budget_exceeded']);
    expect(served).toEqual(['default@p1', 'default@p1', 'default@p2', 'default@p2']);
    const fired = alerts.map((a) => `${a.alert.kind} ${a.subject?.kind}:${a.subject?.name}`);
    expect(fired).toContain('soft provider:p1');
    expect(fired.filter((f) => f === 'exhausted provider:p1')).toHaveLength(1);
  });
});

describe('soft routes and alerts', () => {
  it('the soft route comes from the line that went soft; its alert fires once, with its subject', async () => {
    const { pipeline, alerts, served } = setup({
      quotas: { keys: { web: { budget: { usd: 10, softRoute: 'key-soft' } } } },
      teams: { get: (name) => (name === 'shop' ? { name, budget: { usd: 0.04, period: 'day', softThreshold: 0.5, softRoute: 'team-soft' }, updatedAt: '' } : undefined) },
      routes: { default: ['p1'], 'team-soft': ['p2'], 'key-soft': ['p3'] },
      onSoftBudget: (ctx, softRoute) => (softRoute ? resolution({ ...ctx.request, route: softRoute }, { 'team-soft': ['p2'], 'key-soft': ['p3'] }) : undefined),
    });
    const p: Principal = { name: 'web', scope: 'client', team: 'shop' };
    for (let i = 0; i < 3; i++) await pipeline.complete(req(p));
    expect(served).toEqual(['default@p1', 'team-soft@p2', 'team-soft@p2']);
    expect(alerts.map((a) => [a.alert.kind, a.alert.lineId, a.subject?.kind, a.subject?.name])).toEqual([['soft', 'team:shop:day:2025-06-04', 'team', 'shop']]);
  });

  it('periods: day, ISO week from Monday, month, each with the previous one', () => {
    expect(budgetPeriod('day', Date.UTC(2025, 0, 1, 5))).toMatchObject({ id: '2025-01-01', previousId: '2024-12-31', endMs: Date.UTC(2025, 0, 2) });
    expect(budgetPeriod('week', Date.UTC(2025, 0, 1, 5))).toMatchObject({ id: 'w2024-12-30', previousId: 'w2024-12-23', endMs: Date.UTC(2025, 0, 6) });
    expect(budgetPeriod('week', Date.UTC(2025, 5, 8, 23))).toMatchObject({ id: 'w2025-06-02' });
    expect(budgetPeriod('week', Date.UTC(2025, 5, 9, 0))).toMatchObject({ id: 'w2025-06-09' });
    expect(budgetPeriod('month', Date.UTC(2025, 0, 31))).toMatchObject({ id: '2025-01', previousId: '2024-12', endMs: Date.UTC(2025, 1, 1) });
  });
});
