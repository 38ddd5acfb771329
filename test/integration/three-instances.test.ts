/**
 * Three gateway processes (the CLI, as deployed) on one Redis, routing to simulators started here:
 * limits, budgets, coalescing, route changes, cached streams and runtime API keys must hold across them.
 */
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { estimateCostUsd } from '../../src/gateway/limits-stage.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { createRedisStore } from '../../src/store/redis-store.ts';
import { chat, dropPrefix, eventually, graphql, spawnGateway, sseText, uniquePrefix, writeConfig, type GatewayProcess } from './cluster.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const LIMITED = 'limited-key-0123456789abcdef';
const BUDGETED = 'budget-key-0123456789abcdef';
const OPEN = 'open-key-0123456789abcdef';
const KEY_TTL_MS = 300;
/** USD per 1M tokens: input free, so a request's real cost (output ≤ max tokens) never exceeds its estimate. */
const PRICE = { input: 0, output: 4_000 };

describe('three instances on one Redis', () => {
  const prefix = uniquePrefix('three');
  let openai: Simulator;
  let anthropic: Simulator;
  let gateways: GatewayProcess[] = [];
  let cleanup: () => Promise<void> = async () => undefined;
  const url = (i: number) => gateways[i % gateways.length]!.url;

  beforeAll(async () => {
    [openai, anthropic] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), startSimulator({ protocol: 'anthropic', port: 0 })]);
    const config = await writeConfig({
      store: { kind: 'redis', url: TEST_REDIS.url, prefix, localCacheMs: 100 },
      auth: { keyCacheTtlMs: KEY_TTL_MS },
      providers: [
        { id: 'sim-openai', protocol: 'openai', baseUrl: `${openai.url}/v1`, models: [{ id: 'gpt-4o-mini', price: PRICE }] },
        { id: 'sim-anthropic', protocol: 'anthropic', baseUrl: anthropic.url, models: [{ id: 'claude-haiku-4-5', price: PRICE }] },
      ],
      routes: [
        { name: 'default', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] },
        { name: 'switchable', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] },
      ],
      keys: [
        { key: ADMIN, name: 'ops', scope: 'admin' },
        { key: LIMITED, name: 'limited' },
        { key: BUDGETED, name: 'budgeted' },
        { key: OPEN, name: 'open' },
      ],
      quotas: { keys: { limited: { limits: { rpm: 60 } }, budgeted: { budget: { usd: 0.1, period: 'day' } } } },
    });
    cleanup = config.cleanup;
    gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(config.path)));
  }, 30_000);

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all([openai?.close(), anthropic?.close()]);
    await cleanup();
    await dropPrefix(prefix);
  });

  it('a per-key limit of 60 RPM admits exactly 60 requests in total', async () => {
    // The sliding window weighs the previous minute: keep the burst clear of a minute boundary.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
    const before = openai.stats.requests;
    const results = await Promise.all(
      Array.from({ length: 90 }, (_, i) => chat(url(i), LIMITED, { model: 'default', messages: [{ role: 'user', content: `rpm ${i}` }], temperature: 1, max_tokens: 5 })),
    );
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(60);
    expect(limited).toHaveLength(30);
    expect(openai.stats.requests - before).toBe(60);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited[0]!.headers.get('x-ratelimit-limit-requests')).toBe('60');
    expect(limited[0]!.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(JSON.parse(limited[0]!.text)).toMatchObject({ error: { type: expect.any(String) } });
    expect(ok[0]!.headers.get('x-ratelimit-limit-requests')).toBe('60');
  });

  it('100 concurrent requests against a $0.10 budget overspend by at most one reservation', async () => {
    const body = { model: 'default', messages: [{ role: 'user', content: 'spend' }], temperature: 1, max_tokens: 5 };
    const reservation = estimateCostUsd({ messages: [{ role: 'user', content: 'spend' }], maxOutputTokens: 5 }, PRICE, 1024);
    expect(reservation).toBeGreaterThan(0.01);
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(url(i), BUDGETED, body)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(100);
    expect(ok.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(JSON.parse(refused[0]!.text).error.message).toContain('budget exceeded');
    const billed = ok.reduce((sum, r) => sum + Number(r.headers.get('x-switchboard-cost-usd')), 0);
    // What the gateways settled agrees with what they reported, and stays within one reservation of the limit.
    const store = createRedisStore({ target: { mode: 'standalone', host: TEST_REDIS.host, port: TEST_REDIS.port, db: 0, tls: false }, prefix });
    try {
      await eventually(() => store.ping().then(() => true, () => undefined), 5_000, 'the store to connect');
      const day = new Date().toISOString().slice(0, 10);
      const [line] = await store.budgets.status([{ id: `key:budgeted:day:${day}`, limitUsd: 0.1, periodEndMs: Date.now() + 86_400_000 }], Date.now());
      expect(line!.reservedUsd).toBe(0);
      expect(line!.spentUsd).toBeCloseTo(billed, 9);
      expect(line!.spentUsd).toBeLessThanOrEqual(0.1 + reservation + 1e-9);
    } finally {
      await store.close();
    }
  });

  it('50 identical concurrent requests cause exactly 1 upstream call', async () => {
    openai.setFaults({ latencyMs: 400 });
    try {
      const before = openai.stats.requests;
      const body = { model: 'default', messages: [{ role: 'user', content: `coalesce ${Date.now()}` }], temperature: 0 };
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(url(i), OPEN, body)));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      expect(openai.stats.requests - before).toBe(1);
      const kinds = results.map((r) => r.headers.get('x-switchboard-cache'));
      expect(kinds.filter((k) => k === 'MISS')).toHaveLength(1);
      expect(kinds.every((k) => k === 'MISS' || k === 'COALESCED' || k === 'HIT')).toBe(true);
      const texts = new Set(results.map((r) => JSON.parse(r.text).choices[0].message.content));
      expect(texts.size).toBe(1);
    } finally {
      openai.setFaults({});
    }
  });

  it('a route changed through one instance is used by the others on their next request', async () => {
    const first = await chat(url(1), OPEN, { model: 'switchable', messages: [{ role: 'user', content: 'where' }], temperature: 1 });
    expect(first.headers.get('x-switchboard-provider')).toBe('sim-openai');
    const changed = await graphql(
      url(0),
      ADMIN,
      'mutation($input: RouteInput!) { upsertRoute(input: $input) { name version } }',
      { input: { name: 'switchable', targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5' }] } },
    );
    expect(changed.body.errors).toBeUndefined();
    const version = (changed.body.data!.upsertRoute as { version: number }).version;
    for (const i of [1, 2]) {
      const next = await chat(url(i), OPEN, { model: 'switchable', messages: [{ role: 'user', content: 'where' }], temperature: 1 });
      expect(next.status).toBe(200);
      expect(next.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
      expect(next.headers.get('x-switchboard-route-version')).toBe(String(version));
    }
    const listed = await graphql(url(2), ADMIN, '{ route(name: "switchable") { version targets { provider { id } } } }');
    expect(listed.body.data!.route).toEqual({ version, targets: [{ provider: { id: 'sim-anthropic' } }] });
  });

  it('a cached streaming answer replays as a stream (REST SSE and completionStream), cached and free', async () => {
    const content = `stream me ${Date.now()}`;
    const body = { model: 'default', stream: true, messages: [{ role: 'user', content }], temperature: 0 };
    const before = openai.stats.requests;
    const miss = await chat(url(0), OPEN, body);
    expect(miss.headers.get('x-switchboard-cache')).toBe('MISS');
    const hit = await chat(url(1), OPEN, body);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('content-type')).toContain('text/event-stream');
    expect(hit.headers.get('x-switchboard-cache')).toBe('HIT');
    expect(hit.headers.get('x-switchboard-cost-usd')).toBe('0');
    expect(sseText(hit.text)).toEqual({ text: sseText(miss.text).text, done: true });

    const ws = createClient({ url: `${url(2).replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${OPEN}` } });
    try {
      const events: Array<Record<string, unknown>> = [];
      const it = ws.iterate({
        query: `subscription($input: CompletionInput!) { completionStream(input: $input) { __typename
          ... on TextDeltaEvent { text }
          ... on CompletionDoneEvent { completion { cached costUsd message { content } } } } }`,
        variables: { input: { route: 'default', messages: [{ role: 'USER', content }], temperature: 0 } },
      });
      for await (const r of it) events.push(r.data!.completionStream as Record<string, unknown>);
      expect(events.map((e) => e.__typename)).toEqual(['CompletionStartEvent', 'TextDeltaEvent', 'CompletionDoneEvent']);
      expect(events[2]).toMatchObject({ completion: { cached: true, costUsd: 0, message: { content: sseText(miss.text).text } } });
    } finally {
      await ws.dispose();
    }
    expect(openai.stats.requests - before).toBe(1);
  });

  it('createApiKey: the key works on every instance over REST and GraphQL; revokeApiKey: it stops within the key cache TTL', async () => {
    const created = await graphql(
      url(0),
      ADMIN,
      'mutation($input: ApiKeyInput!) { createApiKey(input: $input) { secret key { id name scope team prefix revokedAt } } }',
      { input: { name: 'runtime', scope: 'CLIENT', team: 'web', routes: ['default'] } },
    );
    expect(created.body.errors).toBeUndefined();
    const { secret, key } = created.body.data!.createApiKey as { secret: string; key: { id: string; prefix: string } };
    expect(key).toMatchObject({ name: 'runtime', scope: 'CLIENT', team: 'web', revokedAt: null });
    expect(secret.startsWith(key.prefix)).toBe(true);

    const body = { model: 'default', messages: [{ role: 'user', content: 'key' }], temperature: 1 };
    for (const i of [0, 1, 2]) expect((await chat(url(i), secret, body)).status).toBe(200);
    const gql = await graphql(url(1), secret, 'mutation { createCompletion(input: { messages: [{ role: USER, content: "hi" }] }) { id } }');
    expect(gql.body.errors).toBeUndefined();
    // Scopes hold for runtime keys too: not admin, and only its routes.
    expect((await chat(url(2), secret, { ...body, model: 'switchable' })).status).toBe(403);
    const denied = await graphql(url(2), secret, 'mutation { revokeApiKey(id: "x") }');
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const listed = await graphql(url(2), ADMIN, '{ apiKeys { id } }');
    expect(listed.body.data!.apiKeys).toEqual(expect.arrayContaining([{ id: key.id }]));
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const revoked = await graphql(url(0), ADMIN, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: key.id });
    expect(revoked.body.data!.revokeApiKey).toBe(true);
    expect((await chat(url(0), secret, body)).status).toBe(401);
    // Other instances trust their copy for at most the TTL; generous bound against a loaded machine.
    for (const i of [1, 2]) await eventually(async () => ((await chat(url(i), secret, body)).status === 401 ? true : undefined), KEY_TTL_MS * 20, `revocation on instance ${i}`);
    const after = await graphql(url(1), secret, '{ routes { name } }');
    expect(after.status).toBe(401);
  });
});
