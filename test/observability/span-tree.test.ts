import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Completion } from '../../src/core/index.ts';
import { cacheStage } from '../../src/gateway/cache-stage.ts';
import { createGateway } from '../../src/gateway/gateway-service.ts';
import { observabilityStages } from '../../src/gateway/observability-stage.ts';
import { traceStore } from '../../src/gateway/trace-store.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { children, msOf, parentId, spanId, startTestSdk, type TestSdk } from './otel-test-sdk.ts';
import { parseSse, startStack, type Stack } from '../helpers/start-stack.ts';

let sdk: TestSdk;
let stack: Stack;

beforeAll(async () => {
  sdk = startTestSdk();
  stack = await startStack({ tracer: sdk.tracer });
});
afterAll(async () => {
  await stack?.close();
  await sdk?.shutdown();
});
beforeEach(() => {
  sdk.exporter.reset();
  for (const s of Object.values(stack.sims)) s.setFaults({});
});

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'default', messages: [{ role: 'user', content: 'Name three rivers' }], ...extra });

function traceOf(traceId: string): ReadableSpan[] {
  return sdk.spans().filter((s) => s.spanContext().traceId === traceId);
}
const one = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
/** The undici instrumentation's HTTP client span under a provider call span. */
const httpClientSpans = (spans: ReadableSpan[], call: ReadableSpan) =>
  children(spans, call).filter((s) => s.kind === SpanKind.CLIENT && s.instrumentationScope.name.includes('undici'));

describe('span tree (in-memory exporter, real SDK, undici instrumentation)', () => {
  it('a request that falls back once: server → route → failed attempt → successful attempt → provider call → HTTP client', async () => {
    stack.sims.openai.setFaults({ status: 503 });
    const r = await stack.post('/v1/chat/completions', chat());
    expect(r.status).toBe(200);
    const traceId = r.headers.get('x-trace-id')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = traceOf(traceId);

    const server = one(spans, 'POST /v1/chat/completions');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(parentId(server)).toBeUndefined();
    const route = one(spans, 'switchboard.route');
    expect(parentId(route)).toBe(spanId(server));
    expect(route.attributes).toMatchObject({
      'switchboard.route.name': 'default',
      'switchboard.route.candidates': ['sim-openai/gpt-4o-mini', 'sim-anthropic/claude-haiku-4-5', 'sim-gemini/gemini-2.5-flash'],
      'switchboard.route.chosen': 'sim-anthropic/claude-haiku-4-5',
      'switchboard.attempts': 2,
      'switchboard.route.reason': 'fallback:overloaded',
    });

    const attempts = children(spans, route).filter((s) => s.name === 'switchboard.attempt');
    expect(attempts.map((a) => [a.attributes['switchboard.attempt.number'], a.attributes['switchboard.attempt.status']])).toEqual([
      [1, 'error'],
      [2, 'ok'],
    ]);
    const [failed, ok] = attempts as [ReadableSpan, ReadableSpan];
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes['error.type']).toBe('overloaded');
    // Measured, not reconstructed: the second attempt starts after the first one's call ended.
    expect(msOf(failed.endTime)).toBeLessThanOrEqual(msOf(ok.startTime));
    expect(msOf(ok.endTime)).toBeLessThanOrEqual(msOf(route.endTime));

    const [failedCall] = children(spans, failed);
    expect(failedCall).toMatchObject({ name: 'chat gpt-4o-mini', kind: SpanKind.CLIENT, attributes: { 'gen_ai.system': 'openai', 'error.type': 'overloaded' } });
    const [call] = children(spans, ok);
    expect(call).toMatchObject({
      name: 'chat claude-haiku-4-5',
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'anthropic',
        'gen_ai.request.model': 'claude-haiku-4-5',
        'gen_ai.response.model': r.json.model,
        'gen_ai.usage.input_tokens': r.json.usage.prompt_tokens,
        'gen_ai.usage.output_tokens': r.json.usage.completion_tokens,
        'gen_ai.response.finish_reasons': ['stop'],
        'server.address': '127.0.0.1',
      },
    });
    // The HTTP client spans of the undici instrumentation nest under each provider call.
    const [http] = httpClientSpans(spans, call!);
    expect(http, 'HTTP client span under the provider call').toBeDefined();
    expect(String(http!.attributes['url.full'] ?? '')).toContain('/v1/messages');
    expect(httpClientSpans(spans, failedCall!)).toHaveLength(1);
    // No prompt or output is recorded unless configured.
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.events]))).not.toContain('Name three rivers');
  });

  it('a stream: the route span ends at the terminal event and records time to first token', async () => {
    const r = await stack.post('/v1/chat/completions', chat({ stream: true, stream_options: { include_usage: true } }));
    expect(r.status).toBe(200);
    expect(parseSse(r.text).length).toBeGreaterThan(2);
    const spans = traceOf(r.headers.get('x-trace-id')!);
    const server = one(spans, 'POST /v1/chat/completions');
    const route = one(spans, 'switchboard.route');
    expect(route.attributes['switchboard.request.stream']).toBe(true);
    const ttft = route.attributes['switchboard.ttft_ms'] as number;
    expect(ttft).toBeGreaterThan(0);
    expect(ttft).toBeLessThanOrEqual(msOf(route.endTime) - msOf(route.startTime));
    expect(route.events.map((e) => e.name)).toContain('gen_ai.first_token');
    const [attempt] = children(spans, route).filter((s) => s.name === 'switchboard.attempt');
    const [call] = children(spans, attempt!);
    expect(call!.attributes['switchboard.ttft_ms']).toEqual(expect.any(Number));
    expect(call!.events.map((e) => e.name)).toContain('gen_ai.first_token');
    // The provider call ends at its terminal part, the route span no later than the server span.
    expect(msOf(call!.endTime)).toBeLessThanOrEqual(msOf(route.endTime));
    expect(msOf(route.endTime)).toBeLessThanOrEqual(msOf(server.endTime));
    expect(httpClientSpans(spans, call!)).toHaveLength(1);
  });

  it('a GraphQL request: the same tree under POST /graphql, and traceId on the Completion', async () => {
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'mutation { createCompletion(input: { messages: [{ role: USER, content: "hi" }] }) { id traceId priceSource } }' }),
    });
    const body = (await res.json()) as { data: { createCompletion: { traceId: string; priceSource: string } } };
    const traceId = res.headers.get('x-trace-id')!;
    expect(body.data.createCompletion).toMatchObject({ traceId, priceSource: 'CONFIG' });
    const spans = traceOf(traceId);
    const route = one(spans, 'switchboard.route');
    expect(parentId(route)).toBe(spanId(one(spans, 'POST /graphql')));
    expect(children(spans, route).map((s) => s.name)).toEqual(['switchboard.attempt']);
  });
});

describe('a GraphQL subscription', () => {
  it('runs under its operation span: subscription → route → attempt → provider call; traceId on the completion', async () => {
    const ws = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    let traceId: string | undefined;
    for await (const { data } of ws.iterate({
      query: 'subscription Tokens { completionStream(input: { messages: [{ role: USER, content: "stream it" }] }) { __typename ... on CompletionDoneEvent { completion { traceId } } } }',
    })) {
      const ev = (data as { completionStream?: { __typename: string; completion?: { traceId: string } } }).completionStream;
      if (ev?.__typename === 'CompletionDoneEvent') traceId = ev.completion!.traceId;
    }
    await ws.dispose();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = traceOf(traceId!);
    const op = one(spans, 'subscription Tokens');
    expect(op.kind).toBe(SpanKind.SERVER);
    const route = one(spans, 'switchboard.route');
    expect(parentId(route)).toBe(spanId(op));
    const [attempt] = children(spans, route);
    expect(children(spans, attempt!).map((s) => s.name)).toEqual(['chat gpt-4o-mini']);
  });
});

describe('cache hit span (the cache stage over the traced store)', () => {
  it('route → cache lookup (hit), no attempt', async () => {
    const { config } = stack;
    const gateway = createGateway({ config, registry: await createProviderRegistry(config.providers) });
    const store = createMemoryStore();
    const handlers = gateway.compose({ outer: observabilityStages({ tracer: sdk.tracer }), inner: [cacheStage(traceStore(store, sdk.tracer))] });
    const req = () => handlers.prepare({ chat: { messages: [{ role: 'user' as const, content: 'cache me' }], temperature: 0 } });
    try {
      const first: Completion = await handlers.complete(req());
      sdk.exporter.reset();
      const hitReq = req();
      const hit: Completion = await handlers.complete(hitReq);
      expect(hit.cached).toBe(true);
      expect(hitReq.cacheStatus).toBe('HIT');
      const spans = traceOf(hit.traceId!);
      const route = one(spans, 'switchboard.route');
      expect(route.attributes).toMatchObject({ 'switchboard.cache.hit': true, 'switchboard.route.reason': 'cache_hit', 'switchboard.attempts': 0 });
      expect(children(spans, route).map((s) => [s.name, s.attributes['switchboard.cache.hit']])).toEqual([['switchboard.cache.lookup', true]]);
      expect(spans.some((s) => s.name === 'switchboard.attempt')).toBe(false);
      expect(first.traceId).not.toBe(hit.traceId);
    } finally {
      await gateway.close();
      await store.close();
    }
  });
});
