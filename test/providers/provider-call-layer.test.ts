/**
 * The shared provider call layer (src/providers/shared/post-json.ts, stream-events.ts): the rules it
 * owns hold the same for every adapter, whatever its protocol. Each adapter talks to the simulator of
 * its protocol, or to a loopback replay server, over real HTTP.
 */
import { Pool, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StreamPart } from '../../src/core/index.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { ADAPTER_CASES as CASES, SIM_TIMEOUTS as TIMEOUTS, textRequest } from '../helpers/adapter-cases.ts';
import { startReplayServer, type ReplayServer } from '../helpers/replay-server.ts';
import { drainChecked as consume, errorOf, rejection } from '../helpers/stream-contract.ts';

const textOf = (parts: StreamPart[]) => parts.flatMap((p) => (p.type === 'text-delta' ? [p.text] : [])).join('');

/**
 * A real keep-alive pool that tells when a response body has arrived in full, so a test can act
 * after that moment by waiting on an event rather than a timer.
 */
function bodyEndReportingPool(origin: string): { dispatcher: Dispatcher; bodyEnded: () => Promise<void> } {
  let waiting: Array<() => void> = [];
  const dispatcher = new Pool(origin).compose((dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
      onRequestUpgrade: (c, status, headers, socket) => handler.onRequestUpgrade?.(c, status, headers, socket),
      onResponseStart: (c, status, headers, message) => handler.onResponseStart?.(c, status, headers, message),
      onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
      onResponseEnd: (c, trailers) => {
        handler.onResponseEnd?.(c, trailers);
        const resolve = waiting;
        waiting = [];
        for (const ok of resolve) ok();
      },
      onResponseError: (c, err) => handler.onResponseError?.(c, err),
    }),
  );
  return { dispatcher, bodyEnded: () => new Promise<void>((ok) => waiting.push(ok)) };
}

describe.each(CASES)('$protocol adapter on the shared call layer', (c) => {
  let sim: Simulator;
  let adapter: ProviderAdapter;
  let observed: ReturnType<typeof bodyEndReportingPool>;
  let observedAdapter: ProviderAdapter;

  const opts = (headers: Record<string, string> = {}, extra: Partial<CallOptions> = {}): CallOptions => ({
    model: c.model,
    capabilities: ['tools', 'json_schema', 'vision', 'embeddings', 'prompt_caching'],
    headers,
    ...extra,
  });

  beforeAll(async () => {
    sim = await startSimulator({ protocol: c.protocol, port: 0 });
    adapter = c.create({ id: `${c.protocol}-sim`, baseUrl: c.baseUrl(sim.url), apiKey: 'test-key', timeouts: TIMEOUTS });
    observed = bodyEndReportingPool(new URL(sim.url).origin);
    observedAdapter = c.create(
      { id: `${c.protocol}-observed`, baseUrl: c.baseUrl(sim.url), apiKey: 'test-key', timeouts: TIMEOUTS },
      { dispatcher: observed.dispatcher },
    );
  });

  afterAll(async () => {
    await adapter.close();
    await observedAdapter.close();
    await sim.close();
  });

  it.each([
    ['a connection cut after 3 chunks', { 'x-sim-reply-words': '20', 'x-sim-disconnect-after-chunks': '3' }],
    ['an error event after 2 chunks', { 'x-sim-error-after-chunks': '2' }],
    ['a stream without its end marker', { 'x-sim-omit-end-marker': 'true' }],
  ])("%s: the error part carries the text already delivered", async (_name, headers) => {
    const parts = await consume(adapter.stream(textRequest, opts(headers)));
    const delivered = textOf(parts);
    expect(delivered).not.toBe('');
    expect(errorOf(parts).partialText).toBe(delivered);
  });

  it('a caller abort after the whole body arrived delivers nothing of it: one cancelled part', async () => {
    const ac = new AbortController();
    const ended = observed.bodyEnded();
    const it = observedAdapter.stream(textRequest, opts({ 'x-sim-reply-words': '8' }, { signal: ac.signal }))[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ type: 'start' });
    await ended;
    ac.abort();
    const rest: StreamPart[] = [];
    for (let r = await it.next(); !r.done && rest.length < 50; r = await it.next()) rest.push(r.value);
    expect(rest).toHaveLength(1);
    expect(rest[0]).toMatchObject({ type: 'error', error: { kind: 'cancelled', provider: `${c.protocol}-observed` } });
  });
});

describe.each(CASES)('$protocol adapter: an error status whose body is cut off', (c) => {
  let server: ReplayServer;
  let adapter: ProviderAdapter;
  afterEach(async () => {
    await adapter.close();
    await server.close();
  });

  it('is classified by its status and headers, for generate and stream alike', async () => {
    server = await startReplayServer(() => ({
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '2' },
      chunks: ['{"error": {"message": "slow do'],
      destroy: true,
    }));
    adapter = c.create({ id: 'cut', baseUrl: c.baseUrl(server.url), apiKey: 'test-key', timeouts: TIMEOUTS });
    const call: CallOptions = { model: c.model, capabilities: [] };
    const thrown = await rejection(adapter.generate(textRequest, call));
    const streamed = errorOf(await consume(adapter.stream(textRequest, call)));
    for (const e of [thrown, streamed]) expect(e).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 2000, provider: 'cut' });
  });
});
