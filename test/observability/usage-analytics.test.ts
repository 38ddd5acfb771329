import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.ts';
import { bucketIndex } from '../../src/usage/latency-histogram.ts';
import { MemoryLedgerSink } from '../../src/usage/memory-ledger-sink.ts';
import type { UsageEvent } from '../../src/core/index.ts';
import { parseSse, startStack, type Stack } from '../helpers/start-stack.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

const ADMIN = 'sk-admin-usage-0123456789';
const CLIENT = 'sk-client-usage-0123456789';
const withKeys = (c: ConfigInput) => ({ ...c, keys: [{ key: ADMIN, name: 'ops', scope: 'admin' as const }, { key: CLIENT, name: 'web', scope: 'client' as const, team: 'web' }] });
const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const RANGE = () => ({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() });

const TOTALS = `query($filter: UsageFilter!, $groupBy: [UsageGroupBy!]) { usage(filter: $filter, groupBy: $groupBy) {
  totals { requests errors inputTokens outputTokens cachedInputTokens reasoningTokens totalTokens costUsd unpricedRequests latencyP50Ms latencyP95Ms latencyP99Ms cacheHitRate errorsByKind { code count } }
  series { group { apiKey provider } totals { requests costUsd } } } }`;

interface Sent {
  input: number;
  output: number;
  costUsd: number;
}

/** What one request billed, as the API returned it. */
const fromRest = (usage: any, cost: string | null): Sent => ({ input: usage.prompt_tokens, output: usage.completion_tokens, costUsd: Number(cost ?? 'NaN') });

function quantileOf(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** Prometheus text format → { 'name{labels}': value }. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{.*\})?) (\S+)$/.exec(line);
    expect(m, line).not.toBeNull();
    out.set(m![1]!, Number(m![2]));
  }
  return out;
}
const sumOf = (m: Map<string, number>, name: string, filter: (k: string) => boolean = () => true) =>
  [...m.entries()].filter(([k]) => (k === name || k.startsWith(`${name}{`)) && filter(k)).reduce((s, [, v]) => s + v, 0);

describe('usage analytics over a known set of requests (memory store, both APIs)', () => {
  let stack: Stack;
  let sink: MemoryLedgerSink;
  const sent: Sent[] = [];
  const restIds: string[] = [];
  let graphqlId = '';

  beforeAll(async () => {
    sink = new MemoryLedgerSink();
    stack = await startStack({ ledgerSink: sink, edit: withKeys });
    // REST, not streamed and streamed (with usage), as admin and as the client key.
    for (const [key, i] of [[ADMIN, 0], [CLIENT, 1], [ADMIN, 2]] as const) {
      const r = await stack.post('/v1/chat/completions', { model: 'default', messages: [{ role: 'user', content: `question number ${i} about rivers` }] }, auth(key));
      expect(r.status).toBe(200);
      restIds.push(r.json.id);
      sent.push(fromRest(r.json.usage, r.headers.get('x-switchboard-cost-usd')));
    }
    const s = await stack.post('/v1/chat/completions', { model: 'local', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream a short answer' }] }, auth(CLIENT));
    const usageChunk = parseSse(s.text).find((c) => c.usage);
    const streamed = await sink.readEvents({ limit: 0 }); // nothing flushed yet: the ledger is off the request path
    expect(streamed).toEqual([]);
    // GraphQL over HTTP.
    const g = await stack.gql('mutation { createCompletion(input: { route: "default", messages: [{ role: USER, content: "graphql question" }] }) { id usage { inputTokens outputTokens } costUsd } }', undefined, ADMIN);
    const gc = g.data.createCompletion;
    graphqlId = gc.id;
    // GraphQL over WebSocket.
    const ws = createClient({ url: `${stack.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: { authorization: `Bearer ${CLIENT}` } });
    let done: any;
    for await (const { data } of ws.iterate({
      query: 'subscription { completionStream(input: { route: "default", messages: [{ role: USER, content: "websocket question" }] }) { __typename ... on CompletionDoneEvent { completion { usage { inputTokens outputTokens } costUsd } } } }',
    })) {
      if ((data as any)?.completionStream?.__typename === 'CompletionDoneEvent') done = (data as any).completionStream.completion;
    }
    await ws.dispose();
    // The local route's model is priced at $0 (a local model), so its cost is exactly 0.
    sent.push({ input: usageChunk.usage.prompt_tokens, output: usageChunk.usage.completion_tokens, costUsd: 0 });
    sent.push({ input: gc.usage.inputTokens, output: gc.usage.outputTokens, costUsd: gc.costUsd });
    sent.push({ input: done.usage.inputTokens, output: done.usage.outputTokens, costUsd: done.costUsd });
    // One failed request: an unknown route.
    const bad = await stack.post('/v1/chat/completions', { model: 'no-such-route', messages: [{ role: 'user', content: 'x' }] }, auth(ADMIN));
    expect(bad.status).toBe(404);
  });
  afterAll(() => stack?.close());

  it('totals equal the requests exactly; percentiles fall within one bucket of the true value', async () => {
    const { data, errors } = await stack.gql(TOTALS, { filter: RANGE() }, ADMIN);
    expect(errors).toBeUndefined();
    const t = data.usage.totals;
    expect(t.requests).toBe(sent.length + 1);
    expect(t.errors).toBe(1);
    expect(t.errorsByKind).toEqual([{ code: 'NOT_FOUND', count: 1 }]);
    expect(t.inputTokens).toBe(sent.reduce((s, x) => s + x.input, 0));
    expect(t.outputTokens).toBe(sent.reduce((s, x) => s + x.output, 0));
    expect(Math.round(t.costUsd * 1e10)).toBe(sent.reduce((s, x) => s + Math.round(x.costUsd * 1e10), 0));
    expect(t.unpricedRequests).toBe(0);

    const events: UsageEvent[] = await sink.readEvents({ limit: 100 });
    expect(events).toHaveLength(sent.length + 1);
    expect(new Set(events.map((e) => e.stream))).toEqual(new Set([true, false]));
    const latencies = events.map((e) => e.latencyMs);
    for (const [q, field] of [[0.5, 'latencyP50Ms'], [0.95, 'latencyP95Ms'], [0.99, 'latencyP99Ms']] as const) {
      expect(Math.abs(bucketIndex(t[field]) - bucketIndex(quantileOf(latencies, q))), field).toBeLessThanOrEqual(1);
    }
  });

  it('client keys see only their own usage, and may not ask for another key\'s', async () => {
    const mine = await stack.gql(TOTALS, { filter: RANGE(), groupBy: ['API_KEY'] }, CLIENT);
    expect(mine.errors).toBeUndefined();
    expect(mine.data.usage.totals.requests).toBe(3);
    expect(mine.data.usage.series.map((s: any) => s.group.apiKey)).toEqual(['web']);
    const theirs = await stack.gql(TOTALS, { filter: { ...RANGE(), apiKey: 'ops' } }, CLIENT);
    expect(theirs.errors![0].extensions.code).toBe('FORBIDDEN');
  });

  it('Provider.usage, Model.usage and Route.usage answer from the ledger', async () => {
    const r = RANGE();
    const { data, errors } = await stack.gql(
      `query($from: DateTime!, $to: DateTime!) {
        providers { id usage(from: $from, to: $to) { totals { requests } } }
        routes { name usage(from: $from, to: $to) { totals { requests } } }
        model(id: "sim-ollama/llama3.2") { usage(from: $from, to: $to) { totals { requests costUsd } } } }`,
      r,
      ADMIN,
    );
    expect(errors).toBeUndefined();
    const byProvider = Object.fromEntries(data.providers.map((p: any) => [p.id, p.usage.totals.requests]));
    expect(byProvider['sim-ollama']).toBe(1);
    expect(Object.values(byProvider).reduce((s: number, n) => s + (n as number), 0)).toBe(sent.length);
    expect(data.routes.find((x: any) => x.name === 'local').usage.totals.requests).toBe(1);
    expect(data.model.usage.totals).toEqual({ requests: 1, costUsd: 0 });
  });

  it('completions lists recent completions from the ledger, a client key only its own', async () => {
    const all = await stack.gql('{ completions(first: 50) { edges { node { id priceSource traceId usage { inputTokens } } } } }', undefined, ADMIN);
    expect(all.errors).toBeUndefined();
    expect(all.data.completions.edges).toHaveLength(sent.length);
    expect(new Set(all.data.completions.edges.map((e: any) => e.node.priceSource))).toEqual(new Set(['CONFIG']));
    const mine = await stack.gql('{ completions(first: 50) { edges { node { id } } } }', undefined, CLIENT);
    expect(mine.data.completions.edges).toHaveLength(3);
  });

  it('completion(id): a GraphQL completion from the log with its message; a REST one from the ledger', async () => {
    const Q = 'query($id: ID!) { completion(id: $id) { id route message { content } usage { inputTokens outputTokens } costUsd attempts { status } } }';
    const g = await stack.gql(Q, { id: graphqlId }, ADMIN);
    expect(g.data.completion.message.content).toEqual(expect.any(String));
    expect(g.data.completion.attempts).toEqual([{ status: 'OK' }]);
    expect(stack.app.services.completions.get(restIds[0]!)).toBeUndefined(); // REST answers are not kept in process
    const r = await stack.gql(Q, { id: restIds[0] }, ADMIN);
    expect(r.errors).toBeUndefined();
    expect(r.data.completion).toEqual({
      id: restIds[0], route: 'default', message: { content: null },
      usage: { inputTokens: sent[0]!.input, outputTokens: sent[0]!.output }, costUsd: sent[0]!.costUsd, attempts: [],
    });
    // restIds[0] was the admin key's: a client key does not see it, nor an unknown id.
    expect((await stack.gql(Q, { id: restIds[0] }, CLIENT)).data.completion).toBeNull();
    expect((await stack.gql(Q, { id: restIds[1] }, CLIENT)).data.completion.id).toBe(restIds[1]);
    expect((await stack.gql(Q, { id: 'cmpl_nope' }, ADMIN)).data.completion).toBeNull();
    // Several ids in one operation (as a federated _entities fetch sends them): one read of the ledger.
    const reads = sink.reads;
    const many = await stack.gql(`{ a: completion(id: "${restIds[0]}") { id } b: completion(id: "${restIds[2]}") { id } c: completion(id: "cmpl_nope") { id } }`, undefined, ADMIN);
    expect(many.data).toEqual({ a: { id: restIds[0] }, b: { id: restIds[2] }, c: null });
    expect(sink.reads - reads).toBe(1);
  });

  it('logs one line per request with the ledger fields, no secrets', () => {
    const lines = stack.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' || l.msg === 'request failed');
    expect(lines).toHaveLength(sent.length + 1);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['requestId', 'keyName', 'route', 'provider', 'model', 'attempts', 'tokens', 'costUsd', 'latencyMs', 'status', 'stream']));
    }
    expect(stack.logs.join('\n')).not.toContain(CLIENT);
    expect(stack.logs.join('\n')).not.toContain(ADMIN);
  });

  it('/metrics is scraped and parsed', async () => {
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const m = parseMetrics(await res.text());
    expect(sumOf(m, 'switchboard_requests_total')).toBe(sent.length + 1);
    expect(sumOf(m, 'switchboard_requests_total', (k) => k.includes('stream="true"'))).toBe(2);
    expect(sumOf(m, 'switchboard_errors_total', (k) => k.includes('kind="not_found"'))).toBe(1);
    expect(sumOf(m, 'switchboard_tokens_total', (k) => k.includes('kind="input"'))).toBe(sent.reduce((s, x) => s + x.input, 0));
    expect(sumOf(m, 'switchboard_cost_usd_total')).toBeCloseTo(sent.reduce((s, x) => s + x.costUsd, 0), 10);
    expect(sumOf(m, 'switchboard_request_duration_seconds_count')).toBe(sent.length + 1);
    expect(sumOf(m, 'switchboard_time_to_first_token_seconds_count')).toBe(2);
    expect(m.get('switchboard_usage_events_dropped_total')).toBe(0);
    expect(m.has('switchboard_usage_events_buffered')).toBe(true);
  });
});

describe('a query for 20 providers\' usage', () => {
  it('makes one store round trip', async () => {
    const sink = new MemoryLedgerSink();
    const stack = await startStack({
      ledgerSink: sink,
      edit: (c) => {
        const base = c.providers![0]!;
        return { ...c, providers: [...c.providers!, ...Array.from({ length: 20 - c.providers!.length }, (_, i) => ({ ...base, id: `extra-${i}` }))] };
      },
    });
    try {
      const q = `query($from: DateTime!, $to: DateTime!) { providers { id usage(from: $from, to: $to) { totals { requests } } } }`;
      const before = sink.reads;
      const { data, errors } = await stack.gql(q, RANGE());
      expect(errors).toBeUndefined();
      expect(data.providers).toHaveLength(20);
      expect(sink.reads - before).toBe(1);
    } finally {
      await stack.close();
    }
  });
});

describe('two instances sharing Redis', () => {
  it('usage on either instance sums both instances\' requests', async () => {
    const prefix = `sbtest:${randomUUID()}:`;
    const redis = (c: ConfigInput) => ({ ...c, store: { kind: 'redis' as const, url: TEST_REDIS.url, prefix } });
    const one = await startStack({ edit: redis });
    const two = await startStack({ edit: redis, sims: one.sims });
    try {
      const sent: Sent[] = [];
      for (const [stack, n] of [[one, 2], [two, 3]] as const) {
        for (let i = 0; i < n; i++) {
          const r = await stack.post('/v1/chat/completions', { model: 'default', messages: [{ role: 'user', content: `shared ${i}` }] });
          expect(r.status).toBe(200);
          sent.push(fromRest(r.json.usage, r.headers.get('x-switchboard-cost-usd')));
        }
      }
      // The other instance's events reach Redis on its flush (the ledger's interval; flushed here at once).
      await two.gql(TOTALS, { filter: RANGE() });
      const { data, errors } = await one.gql(TOTALS, { filter: RANGE() });
      expect(errors).toBeUndefined();
      expect(data.usage.totals.requests).toBe(5);
      expect(data.usage.totals.inputTokens).toBe(sent.reduce((s, x) => s + x.input, 0));
      expect(data.usage.totals.outputTokens).toBe(sent.reduce((s, x) => s + x.output, 0));
      expect(Math.round(data.usage.totals.costUsd * 1e10)).toBe(sent.reduce((s, x) => s + Math.round(x.costUsd * 1e10), 0));
      const listed = await one.gql('{ completions(first: 10) { edges { node { id usage { inputTokens } } } } }');
      expect(listed.data.completions.edges).toHaveLength(5);
      // A completion the other instance served, by id.
      const served = listed.data.completions.edges[0].node;
      const byId = await one.gql('query($id: ID!) { completion(id: $id) { id usage { inputTokens } } }', { id: served.id });
      expect(byId.data.completion).toEqual(served);
    } finally {
      await two.close();
      await one.close();
      const { Redis } = await import('ioredis');
      const c = new Redis({ host: TEST_REDIS.host, port: TEST_REDIS.port });
      const keys = await c.keys(`${prefix}*`);
      if (keys.length > 0) await c.del(...keys);
      c.disconnect();
    }
  });
});
