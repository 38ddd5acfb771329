import { trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Completion, CompletionEvent } from '../../src/core/index.ts';
import { embeddingsRequest } from '../../src/gateway/embeddings.ts';
import { tracingStage } from '../../src/gateway/observability-stage.ts';
import { withServerSpan } from '../../src/telemetry/server-span.ts';
import { annotateRoutePlan, createTracing } from '../../src/telemetry/tracing.ts';
import { startStack, type ServiceStack } from '../helpers/start-stack.ts';
import { createFakeTracer, enableContext, type FakeTracer, type FinishedSpan } from './fake-tracer.ts';

// The SDK's InMemorySpanExporter is not installed: spans go to a small fake implementing the
// @opentelemetry/api Tracer/Span interfaces, with an AsyncLocalStorage context manager.
enableContext();

let stack: ServiceStack;
beforeAll(async () => {
  stack = await startStack({ http: false });
});
afterAll(() => stack.close());
afterEach(() => {
  for (const s of Object.values(stack.sims)) s.setFaults({});
});

const chat = { messages: [{ role: 'user' as const, content: 'Tell me about the lighthouse keeper' }] };

function setup(recordContent = false): { fake: FakeTracer; tracing: ReturnType<typeof createTracing> } {
  const fake = createFakeTracer();
  const tracing = createTracing({
    tracer: fake.tracer,
    recordContent,
    describeProvider: (id) => {
      const p = stack.config.providers.find((x) => x.id === id);
      if (!p?.baseUrl) return undefined;
      const u = new URL(p.baseUrl);
      return { protocol: p.protocol, serverAddress: u.hostname, serverPort: Number(u.port) };
    },
  });
  return { fake, tracing };
}

const childrenOf = (fake: FakeTracer, parent: FinishedSpan) => fake.finished.filter((s) => s.parentSpanId === parent.spanId);

describe('span tree', () => {
  it('a request that falls back once: server → route → failed attempt → successful attempt → provider calls', async () => {
    const { fake, tracing } = setup();
    stack.sims.openai.setFaults({ status: 503 });
    let c: Completion | undefined;
    let headerTraceId: string | null = null;
    await withServerSpan(fake.tracer, { method: 'POST', route: '/v1/chat/completions', headers: {} }, async () => {
      const t = tracing.begin({ requested: 'default', stream: false });
      headerTraceId = t.traceId;
      c = await t.complete(async () => {
        // What the gateway does after planning: the route span is found through the active context.
        annotateRoutePlan({ route: 'default', version: 1, candidates: ['sim-openai/gpt-4o-mini', 'sim-anthropic/claude-haiku-4-5', 'sim-gemini/gemini-2.5-flash'] });
        return stack.gateway.complete({ route: 'default', chat });
      });
    });
    expect(fake.open()).toEqual([]);
    const server = fake.one('POST /v1/chat/completions');
    const route = fake.one('switchboard.route');
    expect(server.parentSpanId).toBeUndefined();
    expect(route.parentSpanId).toBe(server.spanId);
    expect(new Set(fake.finished.map((s) => s.traceId))).toEqual(new Set([server.traceId]));
    expect(c!.traceId).toBe(server.traceId);
    expect(headerTraceId).toBe(server.traceId);

    expect(route.attributes).toMatchObject({
      'switchboard.route.name': 'default',
      'switchboard.route.version': 1,
      'switchboard.route.candidates': ['sim-openai/gpt-4o-mini', 'sim-anthropic/claude-haiku-4-5', 'sim-gemini/gemini-2.5-flash'],
      'switchboard.route.chosen': 'sim-anthropic/claude-haiku-4-5',
      'switchboard.attempts': 2,
    });
    expect(route.attributes['switchboard.route.reason']).toMatch(/^fallback:(unavailable|overloaded)$/);

    const attempts = childrenOf(fake, route);
    expect(attempts.map((a) => [a.name, a.attributes['switchboard.attempt.number'], a.attributes['switchboard.attempt.status']])).toEqual([
      ['switchboard.attempt', 1, 'error'],
      ['switchboard.attempt', 2, 'ok'],
    ]);
    const [failed, ok] = attempts as [FinishedSpan, FinishedSpan];
    expect(failed.status?.code).toBe(2);
    expect(failed.attributes['error.type']).toMatch(/unavailable|overloaded/);
    expect(failed.endTime).toBeLessThanOrEqual(ok.startTime);
    expect(ok.endTime).toBeLessThanOrEqual(route.endTime);

    const [failedCall] = childrenOf(fake, failed);
    expect(failedCall).toMatchObject({ name: 'chat gpt-4o-mini', kind: 2, attributes: { 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini' } });
    const [call] = childrenOf(fake, ok);
    expect(call).toMatchObject({
      name: 'chat claude-haiku-4-5',
      kind: 2,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'anthropic',
        'gen_ai.request.model': 'claude-haiku-4-5',
        'gen_ai.response.model': c!.upstreamModel,
        'gen_ai.usage.input_tokens': c!.usage.inputTokens,
        'gen_ai.usage.output_tokens': c!.usage.outputTokens,
        'gen_ai.response.finish_reasons': [c!.finishReason],
        'server.address': '127.0.0.1',
      },
    });
    expect(call!.status).toBeUndefined();
  });

  it('a stream: the route span stays open until the terminal event and records TTFT', async () => {
    const { fake, tracing } = setup();
    const t = tracing.begin({ requested: 'local', stream: true });
    const seen: CompletionEvent[] = [];
    for await (const ev of t.stream(stack.gateway.stream({ route: 'local', chat }))) {
      seen.push(ev);
      if (ev.type !== 'done') expect(fake.open()).toContain('switchboard.route');
    }
    expect(fake.open()).toEqual([]);
    const done = seen.at(-1);
    expect(done?.type).toBe('done');
    const route = fake.one('switchboard.route');
    expect(done?.type === 'done' && done.completion.traceId).toBe(route.traceId);
    expect(route.attributes['switchboard.request.stream']).toBe(true);
    expect(route.attributes['switchboard.ttft_ms']).toBeTypeOf('number');
    expect(route.events.map((e) => e.name)).toContain('gen_ai.first_token');
    const [attempt] = childrenOf(fake, route);
    const [call] = childrenOf(fake, attempt!);
    expect(call!.attributes).toMatchObject({ 'gen_ai.system': 'ollama', 'gen_ai.request.model': 'llama3.2' });
    expect(call!.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
  });

  it('a stream the client abandons ends its span as cancelled', async () => {
    const { fake, tracing } = setup();
    const t = tracing.begin({ stream: true });
    for await (const ev of t.stream(stack.gateway.stream({ route: 'local', chat }))) {
      if (ev.type === 'text-delta') break;
    }
    expect(fake.open()).toEqual([]);
    const route = fake.one('switchboard.route');
    expect(route.status?.code).toBe(2);
    expect(route.attributes['error.type']).toBe('cancelled');
  });

  it('a cache hit: route → cache lookup (hit), no attempts', async () => {
    const { fake, tracing } = setup();
    const cachedCompletion = await stack.gateway.complete({ route: 'local', chat });
    const t = tracing.begin({ requested: 'default', stream: false });
    await t.complete(async () => {
      const r = await tracing.cacheLookup({ route: 'default' }, async () => ({ hit: true, value: { ...cachedCompletion, cached: true, attempts: [] } }));
      return r.value;
    });
    const route = fake.one('switchboard.route');
    const lookup = fake.one('switchboard.cache.lookup');
    expect(lookup.parentSpanId).toBe(route.spanId);
    expect(lookup.attributes['switchboard.cache.hit']).toBe(true);
    expect(route.attributes).toMatchObject({ 'switchboard.cache.hit': true, 'switchboard.route.reason': 'cache_hit', 'switchboard.attempts': 0 });
    expect(fake.byName('switchboard.attempt')).toHaveLength(0);
  });

  it('rate-limit spans carry the decision', async () => {
    const { fake, tracing } = setup();
    await tracing.rateLimit({ scope: 'key:web' }, async () => ({ allowed: false, retryAfterMs: 1500 }));
    expect(fake.one('switchboard.rate_limit').attributes).toEqual({
      'switchboard.rate_limit.scope': 'key:web',
      'switchboard.rate_limit.allowed': false,
      'switchboard.rate_limit.retry_after_ms': 1500,
    });
  });
});

describe('content recording', () => {
  it('prompts and outputs are not recorded by default, and are when configured', async () => {
    for (const recordContent of [false, true]) {
      const { fake, tracing } = setup(recordContent);
      const t = tracing.begin({ stream: false, messages: chat.messages });
      const c = await t.complete(() => stack.gateway.complete({ route: 'local', chat }));
      const dump = JSON.stringify(fake.finished);
      const reply = c.message.content!.slice(0, 40);
      expect(dump.includes('lighthouse keeper')).toBe(recordContent);
      expect(dump.includes(JSON.stringify(reply).slice(1, -1))).toBe(recordContent);
    }
  });
});

describe('tracing off', () => {
  it('with the no-op tracer there is no trace id and nothing breaks', async () => {
    const tracing = createTracing({ tracer: trace.getTracer('noop') });
    const t = tracing.begin({ stream: false });
    expect(t.traceId).toBeNull();
    const c = await t.complete(() => stack.gateway.complete({ route: 'local', chat }));
    expect(c.traceId).toBeNull();
  });
});

describe('embeddings spans', () => {
  it('an embeddings request gets the route span and an `embeddings <model>` provider call span', async () => {
    const fake = createFakeTracer();
    const gateway = stack.gateway.compose({ outer: [tracingStage({ tracer: fake.tracer })] });
    const e = await gateway.embed(embeddingsRequest({ model: 'text-embedding-3-small', embeddings: { input: ['span me'] } }));
    expect(e.embeddings).toHaveLength(1);
    expect(fake.open()).toEqual([]);
    const route = fake.one('switchboard.route');
    const call = fake.one('embeddings text-embedding-3-small');
    expect(call.attributes).toMatchObject({ 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small' });
    expect(fake.finished.find((s) => s.spanId === call.parentSpanId)?.parentSpanId).toBe(route.spanId);
    expect(fake.finished.some((s) => s.name.startsWith('chat '))).toBe(false);
  });
});
