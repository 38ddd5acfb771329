import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, RoutingError, UsageEventSchema, type Completion, type CompletionEvent, type UsageEvent } from '../../src/core/index.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import { recordStage } from '../../src/gateway/observability-stage.ts';
import { createPipeline } from '../../src/gateway/pipeline.ts';
import { SIM_PROTOCOLS } from '../../src/simulator/protocol.ts';
import { createPricing } from '../../src/usage/pricing.ts';
import { SIM_DEPLOYMENTS, startStack, type ServiceStack } from '../helpers/start-stack.ts';

function completion(over: Partial<Completion> = {}): Completion {
  return {
    id: 'cmpl_1',
    route: 'default',
    routeVersion: 2,
    provider: 'sim-openai',
    model: 'gpt-4o-mini',
    upstreamModel: 'gpt-4o-mini-2024-07-18',
    message: { role: 'assistant', content: 'hi', toolCalls: [] },
    finishReason: 'stop',
    usage: { inputTokens: 10, outputTokens: 4, cachedInputTokens: 2, cacheWriteTokens: 0, reasoningTokens: 1 },
    costUsd: 0.0000042,
    latencyMs: 321.5,
    timeToFirstTokenMs: null,
    cached: false,
    attempts: [{ provider: 'sim-openai', model: 'gpt-4o-mini', status: 'ok', latencyMs: 300 }],
    createdAt: new Date(1_700_000_000_000),
    traceId: 'abc',
    principal: 'web',
    ...over,
  };
}

const CHAT = { messages: [{ role: 'user' as const, content: 'hi' }] };
const web = (team?: string): Partial<StoreRequest> => ({ principal: { name: 'web', scope: 'client', ...(team !== undefined && { team }) } });

/**
 * The observability stage (usage, metrics, logs) alone in a pipeline around an upstream that answers with
 * `answer()` or streams `events`; the pipeline and the stage share a clock that moves 50 ms per reading.
 */
function recorder(record?: (e: UsageEvent) => void) {
  const events: UsageEvent[] = [];
  let t = 1000;
  const now = () => (t += 50);
  const ledger = { record: record ?? ((e: UsageEvent) => events.push(UsageEventSchema.parse(e))) };
  const stage = recordStage({ ledger, now, wallClock: () => 1_700_000_000_500, pricing: createPricing() });
  const pipeline = (upstream: { complete?: () => Promise<Completion>; stream?: () => AsyncIterable<CompletionEvent> }) =>
    createPipeline({ stages: [stage], upstream: { complete: upstream.complete ?? (async () => completion()), stream: upstream.stream ?? (() => from([])) }, now });
  const usage = {
    complete: (req: Partial<StoreRequest>, answer: () => Promise<Completion>) => pipeline({ complete: answer }).complete({ chat: CHAT, ...req }),
    stream: (req: Partial<StoreRequest>, evs: CompletionEvent[]) => pipeline({ stream: () => from(evs) }).stream({ chat: CHAT, ...req }),
  };
  return { events, usage, stage };
}

async function drain(it: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

async function* from(events: CompletionEvent[]): AsyncGenerator<CompletionEvent> {
  for (const e of events) yield e;
}

describe('usage: one event per request, recorded by the observability stage', () => {
  it('a completion becomes one ok event with every ledger field', async () => {
    const { events, usage } = recorder();
    await usage.complete(web('frontend'), async () => completion());
    expect(events).toEqual([
      {
        id: 'cmpl_1', time: 1_700_000_000_000, keyName: 'web', team: 'frontend', route: 'default', routeVersion: 2,
        provider: 'sim-openai', model: 'gpt-4o-mini', attempts: 1,
        tokens: { input: 10, output: 4, cachedInput: 2, cacheWrite: 0, reasoning: 1 },
        costUsd: 0.0000042, priceSource: 'builtin', usageEstimated: false, latencyMs: 321.5, ttftMs: null,
        cacheHit: false, stream: false, status: 'ok', errorKind: null, traceId: 'abc', finishReason: 'stop',
      },
    ]);
  });

  it('an unpriced completion is recorded as such', async () => {
    const { events, usage } = recorder();
    await usage.complete({}, async () => completion({ model: 'mystery', upstreamModel: 'mystery', costUsd: null }));
    expect(events[0]).toMatchObject({ costUsd: null, priceSource: 'none', keyName: 'web' });
  });

  it('a failed request is one error event with its kind and attempts, and the error still reaches the caller', async () => {
    const { events, usage } = recorder();
    const err = new RoutingError(new GatewayError('rate_limited', 'slow down'), [
      { provider: 'a', model: 'm', status: 'error', errorKind: 'overloaded', latencyMs: 5 },
      { provider: 'b', model: 'n', status: 'error', errorKind: 'rate_limited', latencyMs: 5 },
    ]);
    await expect(usage.complete({ ...web(), route: 'default', requestId: 'req_9' }, async () => { throw err; })).rejects.toBe(err);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: 'req_9', status: 'error', errorKind: 'rate_limited', attempts: 2, provider: 'b', model: 'n', route: 'default', costUsd: null, latencyMs: 50 });
  });

  it('a stream records at its terminal event, with TTFT; an error event records its kind', async () => {
    const { events, usage } = recorder();
    const start: CompletionEvent = { type: 'start', id: 'cmpl_s', route: 'default', routeVersion: 1, provider: 'a', model: 'm' };
    const out = await drain(usage.stream({}, [start, { type: 'text-delta', text: 'x' }, { type: 'done', completion: completion({ id: 'cmpl_s', timeToFirstTokenMs: 12 }) }]));
    expect(out).toHaveLength(3);
    await drain(usage.stream({}, [start, { type: 'switch', from: { provider: 'a', model: 'm' }, to: { provider: 'b', model: 'n' }, reason: 'x', errorKind: 'timeout', resumed: false }, { type: 'error', id: 'cmpl_s', error: new GatewayError('timeout', 't'), partialText: '', attempts: [] }]));
    expect(events.map((e) => [e.stream, e.status, e.errorKind, e.provider, e.ttftMs])).toEqual([
      [true, 'ok', null, 'sim-openai', 12],
      [true, 'error', 'timeout', 'b', null],
    ]);
  });

  it('a consumer that stops reading still yields exactly one (cancelled) event', async () => {
    const { events, usage } = recorder();
    const start: CompletionEvent = { type: 'start', id: 'cmpl_c', route: 'default', routeVersion: 1, provider: 'a', model: 'm' };
    for await (const ev of usage.stream({}, [start, { type: 'text-delta', text: 'x' }, { type: 'text-delta', text: 'y' }])) {
      if (ev.type === 'text-delta') break;
    }
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: 'cmpl_c', status: 'error', errorKind: 'cancelled', provider: 'a', ttftMs: 50, latencyMs: 100 });
  });

  it('a throwing recorder never fails the request', async () => {
    const { usage } = recorder(() => { throw new Error('ledger broke'); });
    await expect(usage.complete({}, async () => completion())).resolves.toMatchObject({ id: 'cmpl_1' });
  });
});

describe('streamed and non-streamed replies record identical usage and cost (simulators, every protocol)', () => {
  let stack: ServiceStack;
  beforeAll(async () => {
    stack = await startStack({ http: false });
  });
  afterAll(() => stack.close());

  for (const protocol of SIM_PROTOCOLS) {
    it(protocol, async () => {
      const { events, stage } = recorder();
      const h = stack.gateway.compose({ outer: [stage] });
      const req = { model: SIM_DEPLOYMENTS[protocol], chat: { messages: [{ role: 'user' as const, content: `Describe ${protocol} in one line` }] }, ...web() };
      const c = await h.complete(req);
      const streamed = await drain(h.stream(req));
      expect(streamed.at(-1)?.type).toBe('done');
      expect(events).toHaveLength(2);
      const [a, b] = events as [UsageEvent, UsageEvent];
      expect(a.tokens.input).toBeGreaterThan(0);
      expect(b.tokens).toEqual(a.tokens);
      expect(b.costUsd).toBe(a.costUsd);
      expect(a.costUsd).toBe(c.costUsd);
      expect([a.stream, b.stream]).toEqual([false, true]);
      expect(b.ttftMs).not.toBeNull();
    });
  }
});
