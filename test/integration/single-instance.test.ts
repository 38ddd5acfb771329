/**
 * The store features wired into one in-process gateway (the embedded memory store): REST headers,
 * idempotency, soft budgets moving to a cheaper route, deployment limits skipped by the router.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheHeader } from '../../src/server/openai-compat/openai-routes.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';
import { chat, graphql } from './cluster.ts';

const ADMIN = 'admin-key-0123456789abcdef';
const WEB = 'web-key-0123456789abcdef';
const THRIFTY = 'thrifty-key-0123456789abcdef';

describe('store features on one instance', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack((c) => ({
      ...c,
      keys: [
        { key: ADMIN, name: 'ops', scope: 'admin' },
        { key: WEB, name: 'web' },
        { key: THRIFTY, name: 'thrifty' },
      ],
      cache: { routes: { local: { ttlSeconds: 1 } } },
      quotas: {
        // A tiny budget: past 1% of it, requests on a route move to the local (free) route.
        keys: { thrifty: { budget: { usd: 0.001, softThreshold: 0.6, softRoute: 'local' } } },
        deployments: { 'sim-openai/gpt-4o-mini': { rpm: 2 } },
      },
    }));
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('reads x-switchboard-cache: modes, ttl, and a clear error naming the header', async () => {
    expect(parseCacheHeader('BYPASS')).toEqual({ mode: 'BYPASS' });
    expect(parseCacheHeader('default; ttl=60')).toEqual({ mode: 'DEFAULT', ttlSeconds: 60 });
    expect(() => parseCacheHeader('SOMETIMES')).toThrow(/x-switchboard-cache: unknown mode/);
    const bad = await chat(stack.url, WEB, { model: 'local', messages: [{ role: 'user', content: 'x' }] }, { 'x-switchboard-cache': 'DEFAULT; ttl=soon' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error).toMatchObject({ param: 'x-switchboard-cache' });
  });

  it('cache modes over REST: opt-in, HIT, REFRESH, BYPASS, ONLY', async () => {
    const body = { model: 'local', messages: [{ role: 'user', content: `modes ${Date.now()}` }], temperature: 0.7 };
    const calls = () => stack.sims.ollama.stats.requests;
    const before = calls();
    expect((await chat(stack.url, WEB, body)).headers.get('x-switchboard-cache')).toBe('BYPASS');
    expect((await chat(stack.url, WEB, body, { 'x-switchboard-cache': 'ONLY' })).status).toBe(404);
    expect((await chat(stack.url, WEB, body, { 'x-switchboard-cache': 'DEFAULT' })).headers.get('x-switchboard-cache')).toBe('MISS');
    const hit = await chat(stack.url, WEB, body, { 'x-switchboard-cache': 'ONLY' });
    expect(hit.headers.get('x-switchboard-cache')).toBe('HIT');
    expect(hit.headers.get('x-switchboard-cost-usd')).toBe('0');
    expect((await chat(stack.url, WEB, body, { 'x-switchboard-cache': 'REFRESH' })).headers.get('x-switchboard-cache')).toBe('REFRESH');
    expect(calls() - before).toBe(3);
  });

  it('Idempotency-Key: a replay returns the stored completion unbilled; another body is rejected', async () => {
    const key = `idem-${Date.now()}`;
    const body = { model: 'local', messages: [{ role: 'user', content: 'once' }], temperature: 1 };
    const before = stack.sims.ollama.stats.requests;
    const first = await chat(stack.url, WEB, body, { 'idempotency-key': key });
    const again = await chat(stack.url, WEB, body, { 'idempotency-key': key });
    expect(JSON.parse(again.text).id).toBe(JSON.parse(first.text).id);
    expect(again.headers.get('x-switchboard-idempotent-replay')).toBe('true');
    expect(stack.sims.ollama.stats.requests - before).toBe(1);
    const other = await chat(stack.url, WEB, { ...body, messages: [{ role: 'user', content: 'twice' }] }, { 'idempotency-key': key });
    expect(other.status).toBe(400);
    expect(JSON.parse(other.text).error).toMatchObject({ param: 'idempotencyKey' });
    // Over GraphQL the key is per caller too, and replays are the same completion.
    const q = 'mutation($k: String!) { createCompletion(input: { route: "local", messages: [{ role: USER, content: "gql once" }], idempotencyKey: $k }) { id cached } }';
    const a = await graphql(stack.url, WEB, q, { k: key });
    const b = await graphql(stack.url, WEB, q, { k: key });
    expect(b.body.data).toEqual(a.body.data);
  });

  it('GraphQL cache input: ttl and modes, hits marked cached with cost 0', async () => {
    const q = `mutation($c: CacheInput) { createCompletion(input: { route: "local", messages: [{ role: USER, content: "gql cache ${Date.now()}" }], temperature: 0.5, cache: $c }) { cached costUsd } }`;
    expect((await graphql(stack.url, ADMIN, q, { c: { mode: 'DEFAULT', ttlSeconds: 30 } })).body.data!.createCompletion).toMatchObject({ cached: false });
    expect((await graphql(stack.url, ADMIN, q, { c: { mode: 'ONLY' } })).body.data!.createCompletion).toEqual({ cached: true, costUsd: 0 });
    const bad = await graphql(stack.url, ADMIN, q, { c: { mode: 'DEFAULT', ttlSeconds: -1 } });
    expect(bad.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.cache.ttlSeconds' });
  });

  it('after upsertRoute changes the targets, an identical deterministic request is a MISS answered by the new target', async () => {
    const upsert = (provider: string, model: string) =>
      graphql(stack.url, ADMIN, 'mutation($i: RouteInput!) { upsertRoute(input: $i) { version } }', {
        i: { name: 'moving', strategy: 'PRIORITY', targets: [{ provider, model }] },
      });
    await upsert('sim-ollama', 'llama3.2');
    const body = { model: 'moving', messages: [{ role: 'user', content: 'same question' }], temperature: 0 };
    const cached = { 'x-switchboard-cache': 'DEFAULT; ttl=60' };
    const first = await chat(stack.url, ADMIN, body, cached);
    expect(first.headers.get('x-switchboard-cache')).toBe('MISS');
    expect((await chat(stack.url, ADMIN, body, cached)).headers.get('x-switchboard-cache')).toBe('HIT');
    await upsert('sim-gemini', 'gemini-2.5-flash');
    const after = await chat(stack.url, ADMIN, body, cached);
    expect(after.headers.get('x-switchboard-cache')).toBe('MISS');
    expect(after.headers.get('x-switchboard-provider')).toBe('sim-gemini');
  });

  it('a deployment whose rate limit is used up is skipped for the next target', async () => {
    const providers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await chat(stack.url, ADMIN, { model: 'default', messages: [{ role: 'user', content: `dep ${i}` }], temperature: 1 });
      expect(r.status).toBe(200);
      providers.push(r.headers.get('x-switchboard-provider')!);
    }
    expect(providers).toEqual(['sim-openai', 'sim-openai', 'sim-anthropic', 'sim-anthropic']);
    const explained = await graphql(stack.url, ADMIN, '{ explainRoute(input: { messages: [{ role: USER, content: "x" }] }) { excluded { provider { id } reason } } }');
    expect(JSON.stringify(explained.body)).toContain('deployment rate limit reached');
  });

  it('past a budget soft threshold, requests move to the configured cheaper route', async () => {
    // Each request reserves ~$0.0005 (100 tokens at the route's dearest output price) and spends less:
    // spending creeps up to 60% of $0.001, then the key's requests run on the free `local` route.
    const body = { model: 'default', messages: [{ role: 'user', content: 'spend a little' }], temperature: 1, max_tokens: 100 };
    const routes: string[] = [];
    for (let i = 0; i < 40 && routes.at(-1) !== 'local'; i++) {
      const r = await chat(stack.url, THRIFTY, body);
      expect(r.status).toBe(200);
      routes.push(r.headers.get('x-switchboard-route')!);
    }
    expect(routes[0]).toBe('default');
    expect(routes.at(-1)).toBe('local');
    const after = await chat(stack.url, THRIFTY, body);
    expect(after.headers.get('x-switchboard-route')).toBe('local');
  });
});
