import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/core/index.ts';
import { ADMIN_KEY, CLIENT_KEY, UPSTREAM_KEY, answer, startHarness, type Harness } from './harness.ts';

const COMPLETION_FIELDS = /* GraphQL */ `
  id route routeVersion
  provider { id protocol baseUrl }
  model { id name upstreamName contextWindow maxOutputTokens capabilities price { input output cachedInput cacheWrite reasoning } }
  upstreamModel
  message { role content toolCalls { id name arguments } }
  finishReason
  usage { inputTokens outputTokens cachedInputTokens cacheWriteTokens reasoningTokens totalTokens estimated }
  costUsd priced latencyMs timeToFirstTokenMs cached
  attempts { provider { id } model { id } status errorCode latencyMs retryDelayMs }
  createdAt traceId
`;

const CREATE = `mutation($input: CompletionInput!) { createCompletion(input: $input) { ${COMPLETION_FIELDS} } }`;
const hello = (extra: Record<string, unknown> = {}) => ({ input: { messages: [{ role: 'USER', content: 'Hi' }], ...extra } });

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  // Nothing above should have hit the "unexpected error" path (which hides the message from clients).
  expect(h.logged).toEqual([]);
  await h.close();
});
beforeEach(() => {
  h.registry.script('alpha', {});
  h.registry.script('beta', {});
});

describe('createCompletion over HTTP POST', () => {
  it('returns every field of the completion', async () => {
    const { status, body } = await h.gql(CREATE, hello({ temperature: 0.5, maxTokens: 100, stop: ['\n\n'], seed: 7, metadata: { team: 'a' } }));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const c = body.data!.createCompletion as { id: string; costUsd: number; latencyMs: number; createdAt: string };
    expect(c.id).toMatch(/^cmpl_/);
    expect(c).toMatchObject({
      route: 'default',
      routeVersion: expect.any(Number),
      provider: { id: 'alpha', protocol: 'openai', baseUrl: 'http://alpha.invalid/v1' },
      model: {
        id: 'alpha/m1',
        name: 'm1',
        upstreamName: 'alpha-m1-2025',
        contextWindow: 8000,
        maxOutputTokens: 1000,
        capabilities: ['streaming'],
        price: { input: 1, output: 2, cachedInput: 1, cacheWrite: 1, reasoning: 2 },
      },
      upstreamModel: 'upstream-model-1',
      message: { role: 'ASSISTANT', content: 'Hello world', toolCalls: [] },
      finishReason: 'STOP',
      usage: { inputTokens: 12, outputTokens: 11, cachedInputTokens: 2, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 23, estimated: false },
      priced: true,
      timeToFirstTokenMs: null,
      cached: false,
      attempts: [{ provider: { id: 'alpha' }, model: { id: 'alpha/m1' }, status: 'OK', errorCode: null, retryDelayMs: null }],
      traceId: null,
    });
    // 10 plain input × $1/M + 2 cached × $1/M + 11 output × $2/M
    expect(c.costUsd).toBeCloseTo((10 + 2 + 22) / 1e6, 12);
    expect(c.latencyMs).toBeGreaterThanOrEqual(0);
    expect(new Date(c.createdAt).toISOString()).toBe(c.createdAt);
    // The ChatRequest reached the adapter intact.
    const call = h.registry.calls.at(-1)!;
    expect(call.model).toBe('alpha-m1-2025');
    expect(call.chat).toMatchObject({ messages: [{ role: 'user', content: 'Hi' }], temperature: 0.5, maxOutputTokens: 100, stop: ['\n\n'], seed: 7, metadata: { team: 'a' } });
  });

  it('maps tools, tool choice, response format and images into the ChatRequest', async () => {
    const { body } = await h.gql(CREATE, {
      input: {
        model: 'beta/m1',
        messages: [
          { role: 'SYSTEM', content: 'be brief' },
          { role: 'USER', content: 'what is this?', images: [{ url: 'https://example.com/a.png', detail: 'LOW' }] },
          { role: 'ASSISTANT', toolCalls: [{ id: 'call_1', name: 'look', arguments: '{"q":1}' }] },
          { role: 'TOOL', toolCallId: 'call_1', name: 'look', content: 'a cat' },
        ],
        tools: [{ name: 'look', description: 'looks', parameters: { type: 'object', properties: { q: { type: 'number' } } } }],
        toolChoice: { mode: 'TOOL', name: 'look' },
        providerOptions: { anthropic: { top_k: 3 } },
      },
    });
    expect(body.errors).toBeUndefined();
    expect(body.data!.createCompletion).toMatchObject({ route: 'model:beta/m1', routeVersion: 0, provider: { id: 'beta' }, priced: false, costUsd: null });
    expect(h.registry.calls.at(-1)!.chat).toEqual({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', url: 'https://example.com/a.png', detail: 'low' }] },
        { role: 'assistant', content: null, toolCalls: [{ id: 'call_1', name: 'look', arguments: '{"q":1}' }] },
        { role: 'tool', toolCallId: 'call_1', name: 'look', content: 'a cat' },
      ],
      tools: [{ name: 'look', description: 'looks', parameters: { type: 'object', properties: { q: { type: 'number' } } } }],
      toolChoice: { type: 'tool', name: 'look' },
      providerOptions: { anthropic: { top_k: 3 } },
    });
  });

  it('turns a GatewayError into extensions.code with retryable, param and attempts', async () => {
    h.registry.script('alpha', { fail: new GatewayError('rate_limited', 'alpha is busy', { provider: 'alpha', status: 429 }) });
    const { status, body } = await h.gql(CREATE, hello({ route: 'single' }));
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    const [err] = body.errors!;
    expect(err!.message).toBe('alpha is busy');
    expect(err!.path).toEqual(['createCompletion']);
    expect(err!.extensions).toEqual({
      code: 'RATE_LIMITED',
      retryable: true,
      provider: 'alpha',
      attempts: [{ provider: 'alpha', model: 'm1', status: 'ERROR', errorCode: 'RATE_LIMITED', latencyMs: expect.any(Number), retryDelayMs: null }],
    });
    const text = JSON.stringify(body);
    expect(text).not.toContain('stack');
    expect(text).not.toContain(UPSTREAM_KEY);
    expect(text).not.toContain(ADMIN_KEY);
  });

  it('names the field of bad input with BAD_USER_INPUT', async () => {
    const { body } = await h.gql(CREATE, {
      input: { messages: [{ role: 'USER', content: 'Hi' }, { role: 'TOOL', content: 'result' }] },
    });
    expect(body.errors![0]).toMatchObject({
      message: 'input.messages[1].toolCallId: required for TOOL messages',
      extensions: { code: 'BAD_USER_INPUT', param: 'input.messages[1].toolCallId', retryable: false },
    });
    const before = h.registry.calls.length;
    const more = await h.gql(CREATE, {
      input: {
        messages: [{ role: 'USER', images: [{ data: 'AAAA' }] }],
        temperature: 3,
        toolChoice: { mode: 'TOOL' },
        responseFormat: { type: 'JSON_SCHEMA' },
      },
    });
    const message = more.body.errors![0]!.message;
    expect(message).toContain('input.messages[0].images[0].mediaType: inline image data needs a mediaType');
    expect(message).toContain('input.temperature: Too big');
    expect(message).toContain('input.toolChoice.name: required when mode is TOOL');
    expect(message).toContain('input.responseFormat.schema: required for JSON_SCHEMA');
    expect(more.body.errors![0]!.extensions!.param).toBe('input.messages[0].images[0].mediaType');
    expect(h.registry.calls.length).toBe(before); // nothing reached a provider
  });

  it('reports GraphQL-level input errors (bad enum) as a 4xx with a code', async () => {
    const { status, body } = await h.gql(CREATE, { input: { messages: [{ role: 'ROBOT', content: 'x' }] } });
    expect(status).toBe(400);
    expect(body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('answers 401 UNAUTHENTICATED without or with a wrong key', async () => {
    for (const key of [null, 'sk-wrong-0123456789abcdef']) {
      const { status, body } = await h.gql('{ providers { id } }', undefined, key);
      expect(status).toBe(401);
      expect(body.errors![0]!.extensions!.code).toBe('UNAUTHENTICATED');
      expect(JSON.stringify(body)).not.toContain('sk-wrong');
    }
  });

  it('serves GET queries, and blocks GETs that could be cross-site requests', async () => {
    const q = encodeURIComponent('{ routes { name } }');
    const ok = await fetch(`${h.url}?query=${q}`, { headers: { authorization: `Bearer ${CLIENT_KEY}`, 'apollo-require-preflight': '1' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { data: { routes: unknown[] } }).data.routes).toContainEqual({ name: 'default' });
    const csrf = await fetch(`${h.url}?query=${q}`, { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    expect(csrf.status).toBe(400);
    const mutation = await fetch(`${h.url}?query=${encodeURIComponent('mutation { deleteRoute(name: "single") }')}`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'apollo-require-preflight': '1' },
    });
    expect(mutation.status).toBe(405);
    expect(h.gateway.routes.get('single')).toBeDefined();
  });

  it('aborts the upstream call when the HTTP client goes away', async () => {
    h.registry.script('alpha', { parts: answer('a', 'b', 'c', 'd', 'e'), delayMs: 100 });
    const before = h.registry.calls.length;
    const abort = new AbortController();
    const pending = fetch(h.url, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ query: CREATE, variables: hello({ route: 'single' }) }),
    }).catch((e: unknown) => e);
    await until(() => h.registry.calls.length > before);
    abort.abort();
    await pending;
    const call = h.registry.calls[before]!;
    await until(() => call.aborted);
  });

  it('does not run subscriptions over HTTP', async () => {
    const { status, body } = await h.gql('subscription { completionStream(input: { messages: [{ role: USER, content: "x" }] }) { __typename } }');
    expect(status).toBe(400);
    expect(body.errors).toEqual([expect.objectContaining({ message: expect.stringContaining('WebSocket'), extensions: { code: 'BAD_REQUEST' } })]);
  });

  it('answers a body that is not JSON with 400', async () => {
    const res = await fetch(h.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` }, body: '{"query":' });
    expect(res.status).toBe(400);
  });
});

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('local mode (no keys configured)', () => {
  it('treats every caller as the local admin', async () => {
    const local = await startHarness({ keys: [] });
    try {
      const { status, body } = await local.gql('mutation { deleteRoute(name: "single") }', undefined, null);
      expect(status).toBe(200);
      expect(body.data).toEqual({ deleteRoute: true });
    } finally {
      await local.close();
    }
  });
});

describe('queries', () => {
  it('lists providers with models and health, never a key', async () => {
    const { body } = await h.gql(`{
      providers { id protocol baseUrl models { id name provider { id } } health { status p50LatencyMs p95LatencyMs errorRate sampleSize } }
      provider(id: "beta") { id baseUrl }
      nope: provider(id: "nope") { id }
      models { id }
      model(id: "m1") { id }
      deployment: model(id: "beta/m1") { id provider { id } }
    }`);
    expect(body.errors).toBeUndefined();
    const data = body.data as { providers: Array<{ id: string; models: unknown; health: { status: string } }> } & Record<string, unknown>;
    expect(data.providers.map((p: { id: string }) => p.id)).toEqual(['alpha', 'beta']);
    expect(data.providers[0]!.models).toEqual([
      { id: 'alpha/m1', name: 'm1', provider: { id: 'alpha' } },
      { id: 'alpha/m2', name: 'm2', provider: { id: 'alpha' } },
    ]);
    expect(data.providers[0]!.health.status).toMatch(/HEALTHY|DEGRADED|DOWN/);
    expect(data.provider).toEqual({ id: 'beta', baseUrl: null });
    expect(data.nope).toBeNull();
    expect(data.models).toEqual([{ id: 'alpha/m1' }, { id: 'alpha/m2' }, { id: 'beta/m1' }]);
    expect(data.model).toEqual({ id: 'alpha/m1' });
    expect(data.deployment).toEqual({ id: 'beta/m1', provider: { id: 'beta' } });
    expect(JSON.stringify(body)).not.toContain(UPSTREAM_KEY);
  });

  it('computes provider health from recent attempts', async () => {
    h.registry.script('alpha', { fail: new GatewayError('unavailable', 'alpha down', { provider: 'alpha' }) });
    for (let i = 0; i < 3; i++) await h.gql(CREATE, hello());
    const { body } = await h.gql('{ providers { id health { status errorRate sampleSize p50LatencyMs } } }');
    type Health = { status: string; errorRate: number; sampleSize: number; p50LatencyMs: number | null };
    const [alpha, beta] = (body.data as { providers: [{ health: Health }, { health: Health }] }).providers;
    expect(alpha.health.status).not.toBe('HEALTHY');
    expect(alpha.health.errorRate).toBeGreaterThan(0);
    expect(beta.health).toMatchObject({ status: 'HEALTHY', errorRate: 0 });
    expect(beta.health.sampleSize).toBeGreaterThanOrEqual(3);
    expect(beta.health.p50LatencyMs).toEqual(expect.any(Number));
  });

  it('pages completions newest first with a filter, and hides other keys\' completions from client keys', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await h.gql(CREATE, hello({ route: 'single' }))).body.data!.createCompletion as { id: string }).id);
    const mine = ((await h.gql(CREATE, hello({ route: 'single' }), CLIENT_KEY)).body.data!.createCompletion as { id: string }).id;
    const page = `query($after: String) { completions(first: 2, after: $after, filter: { route: "single", provider: "alpha", model: "m1" }) {
      edges { cursor node { id route } } pageInfo { hasNextPage endCursor } } }`;
    type Page = { edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
    const p1 = (await h.gql(page)).body.data!.completions as Page;
    expect(p1.edges.map((e) => e.node.id)).toEqual([mine, ids[2]]);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = (await h.gql(page, { after: p1.pageInfo.endCursor })).body.data!.completions as Page;
    expect(p2.edges.map((e) => e.node.id)).toEqual([ids[1], ids[0]]);
    const asClient = (await h.gql('{ completions(first: 50) { edges { node { id } } } }', undefined, CLIENT_KEY)).body.data!.completions as Page;
    expect(asClient.edges.map((e) => e.node.id)).toEqual([mine]);
    expect((await h.gql(`{ completion(id: "${ids[0]}") { id } }`, undefined, CLIENT_KEY)).body.data!.completion).toBeNull();
    expect((await h.gql(`{ completion(id: "${ids[0]}") { id } }`)).body.data!.completion).toEqual({ id: ids[0] });
    const tooMany = await h.gql('{ completions(first: 101) { edges { cursor } } }');
    expect(tooMany.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  });

  it('explains a route without calling a provider', async () => {
    const before = h.registry.calls.length;
    const { body } = await h.gql(`query($input: CompletionInput!) { explainRoute(input: $input) {
      route routeVersion estimatedInputTokens
      candidates { provider { id } model { id } weight }
      excluded { provider { id } model { id } reason }
      chosen { provider { id } model { id } } } }`, {
      input: { messages: [{ role: 'USER', content: 'Hi' }], tools: [{ name: 'f' }] },
    });
    expect(body.errors).toBeUndefined();
    expect(body.data!.explainRoute).toMatchObject({
      route: 'default',
      candidates: [{ provider: { id: 'beta' }, model: { id: 'beta/m1' }, weight: 1 }],
      excluded: [{ provider: { id: 'alpha' }, model: { id: 'alpha/m1' }, reason: 'does not support tools' }],
      chosen: { provider: { id: 'beta' }, model: { id: 'beta/m1' } },
    });
    expect(h.registry.calls.length).toBe(before);
  });

  it('rejects a too-deep query with GRAPHQL_VALIDATION_FAILED', async () => {
    const deep = '{ providers { models { provider { models { provider { models { provider { models { provider { id } } } } } } } } } }';
    const { status, body } = await h.gql(deep);
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors![0]).toMatchObject({ message: expect.stringContaining('depth'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });

  it('rejects a too-complex query with GRAPHQL_VALIDATION_FAILED', async () => {
    const wide = '{ completions(first: 100) { edges { node { attempts { provider { models { id name contextWindow capabilities } } } } } } }';
    const { body } = await h.gql(wide);
    expect(body.errors![0]).toMatchObject({ message: expect.stringContaining('complexity'), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });
});

describe('routes', () => {
  it('upsertRoute then a completion runs on the new route version', async () => {
    const upsert = `mutation($input: RouteInput!) { upsertRoute(input: $input) {
      name strategy version maxAttempts deadlineMs resumeStreams targets { provider { id } model { id } weight } } }`;
    const { body } = await h.gql(upsert, { input: { name: 'fresh', targets: [{ provider: 'beta', model: 'm1', weight: 2 }], maxAttempts: 2 } });
    expect(body.errors).toBeUndefined();
    const route = body.data!.upsertRoute as { version: number };
    expect(route).toMatchObject({
      name: 'fresh',
      strategy: 'PRIORITY',
      maxAttempts: 2,
      deadlineMs: 120000,
      resumeStreams: false,
      targets: [{ provider: { id: 'beta' }, model: { id: 'beta/m1' }, weight: 2 }],
    });
    const done = (await h.gql(CREATE, hello({ route: 'fresh' }))).body.data!.createCompletion;
    expect(done).toMatchObject({ route: 'fresh', routeVersion: route.version, provider: { id: 'beta' } });

    const again = (await h.gql(upsert, { input: { name: 'fresh', targets: [{ provider: 'alpha', model: 'm1' }] } })).body.data!.upsertRoute as { version: number };
    expect(again.version).toBeGreaterThan(route.version);
    const next = (await h.gql(CREATE, hello({ route: 'fresh' }))).body.data!.createCompletion;
    expect(next).toMatchObject({ routeVersion: again.version, provider: { id: 'alpha' } });

    expect((await h.gql('{ route(name: "fresh") { version } }')).body.data!.route).toEqual({ version: again.version });
    expect((await h.gql('mutation { deleteRoute(name: "fresh") }')).body.data).toEqual({ deleteRoute: true });
    expect((await h.gql('mutation { deleteRoute(name: "fresh") }')).body.data).toEqual({ deleteRoute: false });
    const gone = await h.gql(CREATE, hello({ route: 'fresh' }));
    expect(gone.body.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', param: 'route' });
  });

  it('validates route input like the config file does', async () => {
    const upsert = 'mutation($input: RouteInput!) { upsertRoute(input: $input) { name } }';
    const bad = await h.gql(upsert, { input: { name: 'bad name', targets: [{ provider: 'alpha', model: 'm1', weight: -1 }] } });
    expect(bad.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(bad.body.errors![0]!.message).toContain('input.name: route names are letters');
    expect(bad.body.errors![0]!.message).toContain('input.targets[0].weight');
    const unknown = await h.gql(upsert, { input: { name: 'x', targets: [{ provider: 'alpha', model: 'nope' }] } });
    expect(unknown.body.errors![0]).toMatchObject({
      message: 'input.targets[0].model: provider "alpha" has no model "nope"',
      extensions: { code: 'BAD_USER_INPUT', param: 'input.targets[0].model' },
    });
  });

  it('gives a client-scope key FORBIDDEN for route mutations', async () => {
    const res = await h.gql('mutation { upsertRoute(input: { name: "x", targets: [{ provider: "alpha", model: "m1" }] }) { name } }', undefined, CLIENT_KEY);
    expect(res.status).toBe(200);
    expect(res.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    expect(h.gateway.routes.get('x')).toBeUndefined();
    const del = await h.gql('mutation { deleteRoute(name: "single") }', undefined, CLIENT_KEY);
    expect(del.body.errors![0]!.extensions!.code).toBe('FORBIDDEN');
  });
});
