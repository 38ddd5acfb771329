/**
 * Resolve once: a request's route (or pinned model), access decision, cost estimate and cache key inputs
 * come from ONE resolution at the front of the pipeline, whatever answers it (the gateway, the cache, an
 * idempotent replay). The resolver is injected with a counter.
 */
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { defaultConfig, parseConfig } from '../../src/config/index.ts';
import { createRouteResolver } from '../../src/gateway/route-resolver.ts';
import { SIM_PROTOCOLS, type SimProtocol } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

const KEY = 'sk-resolve-once-0123456789';

let app: App;
let client: OpenAI;
let resolutions = 0;
const sims = {} as Record<SimProtocol, Simulator>;

beforeAll(async () => {
  for (const p of SIM_PROTOCOLS) sims[p] = await startSimulator({ protocol: p, port: 0 });
  const urls = Object.fromEntries(SIM_PROTOCOLS.map((p) => [p, sims[p].url])) as Record<SimProtocol, string>;
  const input = defaultConfig(urls, {});
  input.keys = [{ key: KEY, name: 'web', scope: 'client', routes: ['default'] }];
  const config = parseConfig(input, {});
  app = await createApp({
    config,
    env: {},
    listen: { host: '127.0.0.1', port: 0 },
    logger: createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, cb) => cb() }) }),
    observability: { defaultMetrics: false, flushIntervalMs: 60_000 },
    gatewayDeps: {
      createResolver: (deps) => {
        const resolver = createRouteResolver(deps);
        return {
          ...resolver,
          resolve: (req) => {
            resolutions++;
            return resolver.resolve(req);
          },
        };
      },
    },
  });
  client = new OpenAI({ apiKey: KEY, baseURL: `${app.server.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await app?.close(0);
  await Promise.all(Object.values(sims).map((s) => s.close()));
});
beforeEach(() => {
  resolutions = 0;
});

const messages = (content: string) => [{ role: 'user' as const, content }];

describe('one resolution per request', () => {
  it('a completion (route named in `model`)', async () => {
    await client.chat.completions.create({ model: 'default', messages: messages('resolve me once'), temperature: 0.5 });
    expect(resolutions).toBe(1);
  });

  it('a stream', async () => {
    const stream = await client.chat.completions.create({ model: 'default', messages: messages('stream me'), temperature: 0.5, stream: true });
    let chunks = 0;
    for await (const _ of stream) chunks++;
    expect(chunks).toBeGreaterThan(1);
    expect(resolutions).toBe(1);
  });

  it('a cache miss, then a cache hit (completion and stream)', async () => {
    const ask = { model: 'default', messages: messages('cache me please'), temperature: 0 };
    const miss = await client.chat.completions.create(ask).withResponse();
    expect(miss.response.headers.get('x-switchboard-cache')).toBe('MISS');
    expect(resolutions).toBe(1);
    const hit = await client.chat.completions.create(ask).withResponse();
    expect(hit.response.headers.get('x-switchboard-cache')).toBe('HIT');
    expect(resolutions).toBe(2);
    const streamed = await client.chat.completions.create({ ...ask, stream: true }).withResponse();
    for await (const _ of streamed.data);
    expect(streamed.response.headers.get('x-switchboard-cache')).toBe('HIT');
    expect(resolutions).toBe(3);
  });

  it('an idempotent request, then its replay', async () => {
    const ask = { model: 'default', messages: messages('pay invoice 12'), temperature: 0.9 };
    const headers = { 'idempotency-key': 'resolve-once-1' };
    const first = await client.chat.completions.create(ask, { headers }).withResponse();
    expect(resolutions).toBe(1);
    const again = await client.chat.completions.create(ask, { headers }).withResponse();
    expect(again.response.headers.get('x-switchboard-idempotent-replay')).toBe('true');
    expect(again.data.id).toBe(first.data.id);
    expect(resolutions).toBe(2);
  });

  it('a GraphQL completion', async () => {
    const res = await fetch(`${app.server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ query: 'mutation { createCompletion(input: { route: "default", messages: [{ role: USER, content: "once" }] }) { id } }' }),
    });
    const body = (await res.json()) as { data: { createCompletion: { id: string } } };
    expect(body.data.createCompletion.id).toMatch(/^cmpl_/);
    expect(resolutions).toBe(1);
  });

  it('a request the key may not make is refused by that one resolution', async () => {
    await expect(client.chat.completions.create({ model: 'local', messages: messages('not mine') })).rejects.toMatchObject({ status: 403 });
    expect(resolutions).toBe(1);
  });
});
