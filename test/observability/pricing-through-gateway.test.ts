import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/index.ts';
import { emptyUsage, UsageEventSchema, type Completion, type CompletionEvent, type StreamPart, type Usage, type UsageEvent } from '../../src/core/index.ts';
import { createGateway } from '../../src/gateway/gateway-service.ts';
import { observabilityStages } from '../../src/gateway/observability-stage.ts';
import { SIM_PROTOCOLS } from '../../src/simulator/protocol.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { queryUsage } from '../../src/usage/query-usage.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import { FakeRegistry } from '../graphql/harness.ts';
import { SIM_DEPLOYMENTS, startStack, type ServiceStack } from '../helpers/start-stack.ts';

const noop = trace.getTracer('noop');

async function drain(events: AsyncIterable<CompletionEvent>): Promise<Completion> {
  let done: Completion | undefined;
  for await (const ev of events) if (ev.type === 'done') done = ev.completion;
  expect(done).toBeDefined();
  return done!;
}

describe('for every protocol, streamed and non-streamed forms of one reply record the same usage and cost', () => {
  let sim: ServiceStack;
  beforeAll(async () => {
    sim = await startStack({ http: false });
  });
  afterAll(() => sim?.close());

  it.each(SIM_PROTOCOLS)('%s', async (protocol) => {
    const events: UsageEvent[] = [];
    const h = sim.gateway.compose({ outer: observabilityStages({ tracer: noop, ledger: { record: (e) => events.push(UsageEventSchema.parse(e)) } }) });
    const req = () => ({ model: SIM_DEPLOYMENTS[protocol], chat: { messages: [{ role: 'user' as const, content: `Describe the ${protocol} protocol in a few words` }] } });
    const plain = await h.complete(req());
    const streamed = await drain(h.stream(req()));
    expect(streamed.message.content).toBe(plain.message.content);
    expect(streamed.usage).toEqual(plain.usage);
    expect(streamed.costUsd).toBe(plain.costUsd);
    expect(plain.costUsd).not.toBeNull();
    expect(events).toHaveLength(2);
    const [a, b] = events as [UsageEvent, UsageEvent];
    expect([a.stream, b.stream]).toEqual([false, true]);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.costUsd).toBe(a.costUsd);
    expect(b.priceSource).toBe(a.priceSource);
    expect(a.priceSource).toBe('config');
    expect(a.tokens.input).toBeGreaterThan(0);
  });
});

describe('pricing in the gateway', () => {
  const config = ConfigSchema.parse({
    providers: [
      {
        id: 'alpha',
        protocol: 'openai',
        baseUrl: 'http://alpha.invalid/v1',
        models: [{ id: 'thinker', price: { input: 1, output: 2, cachedInput: 0.25, cacheWrite: 1.5, reasoning: 8 }, capabilities: ['streaming'] }],
      },
      { id: 'beta', protocol: 'openai', baseUrl: 'http://beta.invalid/v1', models: [{ id: 'house-model-x', capabilities: ['streaming'] }] },
    ],
    routes: [
      { name: 'default', targets: [{ provider: 'alpha', model: 'thinker' }] },
      { name: 'unpriced', targets: [{ provider: 'beta', model: 'house-model-x' }] },
    ],
  });
  const usage = { ...emptyUsage(), inputTokens: 10_000, cachedInputTokens: 4_000, cacheWriteTokens: 1_000, outputTokens: 3_000, reasoningTokens: 2_000 };
  const parts = (u: Usage): StreamPart[] => [
    { type: 'start', model: 'thinker-2026' },
    { type: 'text-delta', text: 'forty-two' },
    { type: 'finish', finishReason: 'stop', usage: u },
  ];

  function setup() {
    const registry = new FakeRegistry(config.providers);
    const gateway = createGateway({ config, registry, random: () => 0 });
    const sink = new MemoryLedgerSink();
    const ledger = createUsageLedger({ sink, schedule: () => ({ cancel() {} }) });
    const metrics = createMetrics();
    const h = gateway.compose({ outer: observabilityStages({ tracer: noop, ledger, metrics }) });
    return { registry, gateway, sink, ledger, metrics, h };
  }

  it('prices reasoning and cached tokens at their own rates, streamed or not', async () => {
    const { registry, gateway, h, ledger, sink } = setup();
    registry.script('alpha', { parts: parts(usage) });
    // 5 000 plain input × $1 + 4 000 cached × $0.25 + 1 000 cache writes × $1.5 + 1 000 plain output × $2 + 2 000 reasoning × $8, per 1M.
    const expected = (5_000 * 1 + 4_000 * 0.25 + 1_000 * 1.5 + 1_000 * 2 + 2_000 * 8) / 1e6;
    const plain = (await h.complete({ chat: { messages: [{ role: 'user', content: 'q' }] } })) as Completion & { priceSource: string };
    const streamed = await drain(h.stream({ chat: { messages: [{ role: 'user', content: 'q' }] } }));
    expect(plain.costUsd).toBeCloseTo(expected, 12);
    expect(streamed.costUsd).toBe(plain.costUsd);
    expect(plain.priceSource).toBe('config');
    await ledger.flush();
    const r = await queryUsage(sink, { filter: { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) } });
    expect(r.totals).toMatchObject({ requests: 2, reasoningTokens: 4_000, cachedInputTokens: 8_000, cacheWriteTokens: 2_000, unpricedRequests: 0 });
    expect(Math.round(r.totals.costUsd * 1e10)).toBe(Math.round(2 * expected * 1e10));
    await gateway.close();
  });

  it('flags an unpriced model (null cost, priceSource none), never $0', async () => {
    const { registry, gateway, h, ledger, sink, metrics } = setup();
    registry.script('beta', { parts: parts({ ...emptyUsage(), inputTokens: 10, outputTokens: 5 }) });
    const c = (await h.complete({ route: 'unpriced', chat: { messages: [{ role: 'user', content: 'q' }] } })) as Completion & { priceSource: string };
    expect(c.costUsd).toBeNull();
    expect(c.priceSource).toBe('none');
    await ledger.flush();
    const [e] = await sink.readEvents({ limit: 1 });
    expect(e).toMatchObject({ costUsd: null, priceSource: 'none', status: 'ok' });
    const r = await queryUsage(sink, { filter: { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) } });
    expect(r.totals).toMatchObject({ requests: 1, unpricedRequests: 1, costUsd: 0 });
    expect(await metrics.registry.getSingleMetricAsString('switchboard_unpriced_requests_total')).toMatch(/provider="beta",model="house-model-x"} 1/);
    await gateway.close();
  });

  it('bills an answer without reported usage on a marked estimate', async () => {
    const { registry, gateway, h } = setup();
    registry.script('alpha', { parts: parts({ ...emptyUsage(), estimated: true }) });
    const c = await h.complete({ chat: { messages: [{ role: 'user', content: 'how many tokens is this prompt?' }] } });
    const s = await drain(h.stream({ chat: { messages: [{ role: 'user', content: 'how many tokens is this prompt?' }] } }));
    expect(c.usage.estimated).toBe(true);
    expect(c.usage.inputTokens).toBeGreaterThan(0);
    expect(c.costUsd).toBeGreaterThan(0);
    expect(s.usage).toEqual(c.usage);
    expect(s.costUsd).toBe(c.costUsd);
    await gateway.close();
  });
});
