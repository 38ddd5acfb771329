import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import { createUsageLedger } from '../../src/usage/usage-ledger.ts';
import { FlakySink, makeEvent, manualSchedule } from '../usage/usage-events.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition format: HELP/TYPE comments and `name{label="v",…} value` samples. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { types, samples };
}

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('GET /metrics', () => {
  let metrics: Metrics;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    metrics = createMetrics();
    server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/metrics') void metrics.handler(req, res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  it('exposes requests, errors, tokens, cost, latency and TTFT, cache, circuit, fallbacks and dropped events', async () => {
    const ok = makeEvent({ latencyMs: 420, ttftMs: 80, stream: true, tokens: { input: 100, output: 40, cachedInput: 30, cacheWrite: 0, reasoning: 10 }, costUsd: 0.25 });
    metrics.recordRequest(ok);
    metrics.recordRequest({ ...ok, costUsd: 0.5, cacheHit: true, ttftMs: null, stream: false });
    metrics.recordRequest(makeEvent({ status: 'error', errorKind: 'rate_limited', costUsd: null, tokens: { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, reasoning: 0 } }));
    metrics.recordRequest(makeEvent({ model: 'mystery', costUsd: null }));
    metrics.recordFallback('default', 'sim-openai', 'sim-anthropic', 'overloaded');
    metrics.setCircuitState('sim-openai', 'gpt-4o-mini', 'open');
    metrics.recordCacheLookup('default', false);

    // Dropped ledger events reach the metric through the ledger's onDrop.
    const sink = new FlakySink(new MemoryLedgerSink());
    const ledger = createUsageLedger({ sink, schedule: manualSchedule, bufferCap: 2, onDrop: metrics.recordDroppedEvents });
    metrics.observeLedgerBuffer(() => ledger.stats().buffered);
    sink.down = true;
    for (let i = 0; i < 5; i++) ledger.record(makeEvent({ id: `e${i}` }));

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseExposition(await res.text());

    expect(types.get('switchboard_requests_total')).toBe('counter');
    expect(types.get('switchboard_request_duration_seconds')).toBe('histogram');
    expect(types.get('switchboard_circuit_state')).toBe('gauge');

    const base = { route: 'default', provider: 'sim-openai', model: 'gpt-4o-mini' };
    expect(find(samples, 'switchboard_requests_total', { ...base, status: 'ok' }).reduce((n, s) => n + s.value, 0)).toBe(2);
    expect(find(samples, 'switchboard_errors_total', { ...base, kind: 'rate_limited' })[0]?.value).toBe(1);
    expect(find(samples, 'switchboard_tokens_total', { ...base, kind: 'input' })[0]?.value).toBe(200);
    expect(find(samples, 'switchboard_tokens_total', { ...base, kind: 'cached_input' })[0]?.value).toBe(60);
    expect(find(samples, 'switchboard_tokens_total', { ...base, kind: 'reasoning' })[0]?.value).toBe(20);
    expect(find(samples, 'switchboard_cost_usd_total', base)[0]?.value).toBeCloseTo(0.75, 12);
    expect(find(samples, 'switchboard_unpriced_requests_total', { model: 'mystery' })[0]?.value).toBe(1);
    expect(find(samples, 'switchboard_request_duration_seconds_count', { ...base, status: 'ok' })[0]?.value).toBe(2);
    expect(find(samples, 'switchboard_request_duration_seconds_bucket', { ...base, status: 'ok', le: '0.5' })[0]?.value).toBe(2);
    expect(find(samples, 'switchboard_request_duration_seconds_bucket', { ...base, status: 'ok', le: '0.25' })[0]?.value).toBe(0);
    expect(find(samples, 'switchboard_time_to_first_token_seconds_count', base)[0]?.value).toBe(1);
    expect(find(samples, 'switchboard_time_to_first_token_seconds_sum', base)[0]?.value).toBeCloseTo(0.08, 9);
    expect(find(samples, 'switchboard_cache_lookups_total', { result: 'hit' })[0]?.value).toBe(1);
    expect(find(samples, 'switchboard_cache_lookups_total', { result: 'miss' })[0]?.value).toBe(1);
    expect(find(samples, 'switchboard_circuit_state', { provider: 'sim-openai' })[0]?.value).toBe(2);
    expect(find(samples, 'switchboard_fallbacks_total', { from_provider: 'sim-openai', to_provider: 'sim-anthropic', reason: 'overloaded' })[0]?.value).toBe(1);
    expect(find(samples, 'switchboard_usage_events_dropped_total')[0]?.value).toBe(3);
    expect(find(samples, 'switchboard_usage_events_buffered')[0]?.value).toBe(2);
  });

  it('labels never carry a key name or team', async () => {
    metrics.recordRequest(makeEvent({ keyName: 'secret-team-key', team: 'secret-team' }));
    const text = await (await fetch(url)).text();
    expect(text).not.toMatch(/secret-team/);
  });

  it('two metric sets in one process do not collide', () => {
    expect(() => createMetrics()).not.toThrow();
  });
});

describe('recordRequests (a batch)', () => {
  it('exposes exactly what recording the same requests one by one does', async () => {
    const events = [
      makeEvent({ latencyMs: 12, ttftMs: 3, stream: true, costUsd: 0.25, tokens: { input: 9, output: 4, cachedInput: 2, cacheWrite: 1, reasoning: 1 } }),
      makeEvent({ latencyMs: 700, costUsd: 0, cacheHit: true }),
      makeEvent({ status: 'error', errorKind: 'timeout', costUsd: null }),
      makeEvent({ model: 'mystery', costUsd: null }),
      makeEvent({ route: 'other', provider: 'sim-anthropic', latencyMs: 40, costUsd: 0.125 }),
      makeEvent({ latencyMs: 30, costUsd: 0.5 }),
    ];
    const oneByOne = createMetrics();
    for (const e of events) oneByOne.recordRequest(e);
    const batched = createMetrics();
    batched.recordRequests(events.slice(0, 4));
    batched.recordRequests(events.slice(4));
    const text = await batched.registry.metrics();
    expect(text).toBe(await oneByOne.registry.metrics());
    expect(text).toContain('switchboard_requests_total{route="default",provider="sim-openai",model="gpt-4o-mini",status="ok",stream="false"} 2');
  });

  it('adds what finished between two reads of the registry once, to what the first read showed', async () => {
    const metrics = createMetrics();
    const requests = 'switchboard_requests_total';
    const count = async (name: string, labels: Record<string, string> = {}) =>
      find(parseExposition(await metrics.registry.getSingleMetricAsString(name)).samples, name, labels).reduce((n, s) => n + s.value, 0);
    metrics.recordRequest(makeEvent({ costUsd: 0.25 }));
    metrics.recordRequest(makeEvent({ status: 'error', errorKind: 'timeout', costUsd: null }));
    // Any one metric read alone applies every counter's waiting increments.
    expect(await count('switchboard_errors_total', { kind: 'timeout' })).toBe(1);
    expect(await count(requests)).toBe(2);
    expect(await count(requests)).toBe(2);
    metrics.recordRequest(makeEvent({ costUsd: 0.5 }));
    metrics.recordRequest(makeEvent({ status: 'error', errorKind: 'timeout', costUsd: null }));
    metrics.recordRequest(makeEvent({ status: 'error', errorKind: 'rate_limited', costUsd: null }));
    const text = await metrics.registry.metrics();
    const { samples } = parseExposition(text);
    expect(find(samples, requests).reduce((n, s) => n + s.value, 0)).toBe(5);
    expect(find(samples, 'switchboard_errors_total', { kind: 'timeout' })[0]!.value).toBe(2);
    expect(find(samples, 'switchboard_errors_total', { kind: 'rate_limited' })[0]!.value).toBe(1);
    expect(find(samples, 'switchboard_cost_usd_total')[0]!.value).toBeCloseTo(0.75, 10);
    expect(find(samples, 'switchboard_request_duration_seconds_count').reduce((n, s) => n + s.value, 0)).toBe(5);
  });
});
