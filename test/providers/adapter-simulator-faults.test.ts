/**
 * Cross-check: each provider adapter (src/providers/<p>) driven against the simulator of its protocol
 * (src/simulator), with faults injected per request through the simulator's `x-sim-*` headers (sent
 * as CallOptions.headers). Replies, tool calls, caching and embeddings: adapter-simulator-chat.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest, ErrorKind, GatewayError, StreamPart } from '../../src/core/index.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { ADAPTER_CASES as CASES, SIM_TIMEOUTS as TIMEOUTS, textRequest } from '../helpers/adapter-cases.ts';
import { drainChecked as consume, errorOf, rejection } from '../helpers/stream-contract.ts';

const textDeltas = (parts: StreamPart[]) =>
  parts.flatMap((p) => (p.type === 'text-delta' ? [p.text] : []));

/** Words of a reply as the simulators chunk it by default: one per word, trailing space kept. */
const wordsOf = (text: string) => text.match(/\S+\s*/g) ?? [];

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond(), what).toBe(true);
}

describe.each(CASES)('$protocol adapter against the $protocol simulator, with faults', (c) => {
  let sim: Simulator;
  let adapter: ProviderAdapter;

  const opts = (headers: Record<string, string> = {}, extra: Partial<CallOptions> = {}): CallOptions => ({
    model: c.model,
    capabilities: ['tools', 'json_schema', 'vision', 'embeddings', 'prompt_caching'],
    headers,
    ...extra,
  });

  /** The same fault, non-streamed and streamed: both must report the same kind of error. */
  async function bothFail(headers: Record<string, string>, req: ChatRequest = textRequest): Promise<[GatewayError, GatewayError]> {
    const thrown = await rejection(adapter.generate(req, opts(headers)));
    const parts = await consume(adapter.stream(req, opts(headers)));
    expect(parts.some((p) => p.type === 'text-delta' || p.type === 'tool-call-delta')).toBe(false);
    return [thrown, errorOf(parts)];
  }

  beforeAll(async () => {
    sim = await startSimulator({ protocol: c.protocol, port: 0 });
    adapter = c.create({ id: `${c.protocol}-sim`, baseUrl: c.baseUrl(sim.url), apiKey: 'test-key', timeouts: TIMEOUTS });
  });

  afterAll(async () => {
    await sim.close();
    await adapter.close();
  });

  it('429 with a retry-after → rate_limited, retryAfterMs 2000', async () => {
    const errors = await bothFail({ 'x-sim-status': '429', 'x-sim-retry-after-s': '2' });
    for (const e of errors) {
      expect(e.kind).toBe('rate_limited');
      expect(e.retryAfterMs).toBe(2000);
      expect(e.retryable).toBe(true);
      expect(e.status).toBe(429);
    }
  });

  it('503 → overloaded or unavailable', async () => {
    const errors = await bothFail({ 'x-sim-status': '503' });
    for (const e of errors) {
      expect(['overloaded', 'unavailable']).toContain(e.kind);
      expect(e.retryable).toBe(true);
    }
  });

  if (c.protocol === 'anthropic') {
    it('529 → overloaded', async () => {
      const errors = await bothFail({ 'x-sim-status': '529' });
      for (const e of errors) expect(e.kind).toBe('overloaded');
    });
  }

  it('a prompt over the context window → context_length_exceeded', async () => {
    const long: ChatRequest = { messages: [{ role: 'user', content: 'Please read all of this. '.repeat(40) }] };
    const errors = await bothFail({ 'x-sim-max-input-tokens': '5' }, long);
    for (const e of errors) {
      expect(e.kind).toBe('context_length_exceeded');
      expect(e.retryable).toBe(false);
    }
  });

  it('a connection cut after 3 chunks → one error part after exactly those 3 chunks', async () => {
    const full = await adapter.generate(textRequest, opts({ 'x-sim-reply-words': '20' }));
    expect(wordsOf(full.text)).toHaveLength(20);
    const parts = await consume(
      adapter.stream(textRequest, opts({ 'x-sim-reply-words': '20', 'x-sim-disconnect-after-chunks': '3' })),
    );
    expect(textDeltas(parts)).toEqual(wordsOf(full.text).slice(0, 3));
    const e = errorOf(parts);
    // A socket closed mid-response: the adapters map it to invalid_response (retryable).
    expect(e.kind).toBe('invalid_response' satisfies ErrorKind);
    expect(e.retryable).toBe(true);
  });

  it('an error event after 2 chunks → one error part after those 2 chunks', async () => {
    const full = await adapter.generate(textRequest, opts());
    const parts = await consume(adapter.stream(textRequest, opts({ 'x-sim-error-after-chunks': '2' })));
    expect(textDeltas(parts)).toEqual(wordsOf(full.text).slice(0, 2));
    const e = errorOf(parts);
    expect(e.kind).not.toBe('cancelled');
    expect(e.retryable).toBe(true);
  });

  it('a stream that ends without its end marker → invalid_response, never a finish', async () => {
    const full = await adapter.generate(textRequest, opts());
    const parts = await consume(adapter.stream(textRequest, opts({ 'x-sim-omit-end-marker': 'true' })));
    expect(parts.some((p) => p.type === 'finish')).toBe(false);
    expect(errorOf(parts).kind).toBe('invalid_response');
    // Everything before the missing marker still arrived.
    expect(textDeltas(parts).join('')).toBe(full.text);
  });

  it('a provider that never answers → timeout (first-byte timeout)', async () => {
    const hang = opts({ 'x-sim-hang': 'true' }, { timeouts: { firstByteMs: 300 } });
    const thrown = await rejection(adapter.generate(textRequest, hang));
    expect(thrown.kind).toBe('timeout');
    const parts = await consume(adapter.stream(textRequest, hang));
    expect(errorOf(parts).kind).toBe('timeout');
  });

  it('aborting mid-stream → the simulator sees the client go away, the stream ends with one cancelled part', async () => {
    const before = sim.stats.aborted;
    const controller = new AbortController();
    const parts = await consume(
      adapter.stream(textRequest, opts({ 'x-sim-chunk-delay-ms': '50', 'x-sim-reply-words': '20' }, { signal: controller.signal })),
      (p) => {
        if (p.type === 'text-delta' && !controller.signal.aborted) controller.abort();
      },
    );
    expect(textDeltas(parts).length).toBeGreaterThan(0);
    expect(textDeltas(parts).length).toBeLessThan(20);
    expect(errorOf(parts).kind).toBe('cancelled');
    await until(() => sim.stats.aborted > before, 'the simulator counted the aborted request');
  });

  it('an abort before the call → cancelled, non-streamed and streamed', async () => {
    const controller = new AbortController();
    controller.abort();
    const thrown = await rejection(adapter.generate(textRequest, opts({}, { signal: controller.signal })));
    expect(thrown.kind).toBe('cancelled');
    const parts = await consume(adapter.stream(textRequest, opts({}, { signal: controller.signal })));
    expect(errorOf(parts).kind).toBe('cancelled');
  });
});
