import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';
import { dropPrefix, uniquePrefix } from '../store/redis-harness.ts';
import { TEST_REDIS } from '../helpers/test-redis.ts';

// Out-of-the-box stack: route `default` = sim-openai/gpt-4o-mini → sim-anthropic/claude-haiku-4-5 →
// sim-gemini/gemini-2.5-flash; route `local` = sim-ollama/llama3.2. Embedding models are on no route.
const ADMIN = 'sk-admin-0123456789abcdef';
const WEB = 'sk-web-routes-default-0123456789';
const MIXED = 'sk-mixed-routes-models-0123456789';
const MODELS_ONLY = 'sk-models-only-0123456789abcdef';

let stack: Stack;
// Real Redis behind the cache, so a cached answer is shared across keys as in production.
const prefix = uniquePrefix('key-route-access');
const sdk = (key: string) => new OpenAI({ apiKey: key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
const hi = [{ role: 'user' as const, content: 'hi' }];

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

async function gql(key: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLBody> {
  const res = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as GraphQLBody;
}

beforeAll(async () => {
  stack = await startStack((c) => {
    c.store = { kind: 'redis', url: TEST_REDIS.url, prefix };
    c.keys = [
      { key: ADMIN, name: 'ops', scope: 'admin' },
      { key: WEB, name: 'web', scope: 'client', routes: ['default'] },
      { key: MIXED, name: 'mixed', scope: 'client', routes: ['default'], models: ['llama3.2'] },
      { key: MODELS_ONLY, name: 'pinner', scope: 'client', models: ['sim-openai/text-embedding-3-small'] },
    ];
  });
});
afterAll(async () => {
  await stack?.close();
  await dropPrefix(prefix);
});

describe('a client key with routes: [default]', () => {
  it('may not pin a model only other routes use (REST), by model id or deployment, streamed or not', async () => {
    for (const model of ['llama3.2', 'sim-ollama/llama3.2']) {
      const denied = await sdk(WEB).chat.completions.create({ model, messages: hi }).catch((e: unknown) => e);
      expect(denied, model).toBeInstanceOf(OpenAI.PermissionDeniedError);
      const err = denied as InstanceType<typeof OpenAI.PermissionDeniedError>;
      expect(err.status).toBe(403);
      expect(err.code).toBe('forbidden');
      expect(err.param).toBe('model');
      expect(err.message).toContain(`"${model}"`);
      const streamed = await sdk(WEB).chat.completions.create({ model, messages: hi, stream: true }).catch((e: unknown) => e);
      expect(streamed, `${model} streamed`).toBeInstanceOf(OpenAI.PermissionDeniedError);
    }
  });

  it('may pin a model that is a target of `default`, and only the deployments its routes reach', async () => {
    const byId = await sdk(WEB).chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
    expect(byId.response.status).toBe(200);
    expect(byId.response.headers.get('x-switchboard-provider')).toBe('sim-openai');
    const byDeployment = await sdk(WEB).chat.completions.create({ model: 'sim-anthropic/claude-haiku-4-5', messages: hi }).withResponse();
    expect(byDeployment.response.status).toBe(200);
    expect(byDeployment.response.headers.get('x-switchboard-model')).toBe('claude-haiku-4-5');
  });

  it('is refused over GraphQL when createCompletion pins such a model next to its route', async () => {
    const body = await gql(WEB, 'mutation { createCompletion(input: { route: "default", model: "llama3.2", messages: [{ role: USER, content: "hi" }] }) { id } }');
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(body.errors?.[0]?.message).toContain('"llama3.2"');
    const explained = await gql(WEB, '{ explainRoute(input: { model: "llama3.2", messages: [{ role: USER, content: "hi" }] }) { route } }');
    expect(explained.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Nor can providerOptions name another model: the vendor body's model is the router's choice.
    const smuggled = await gql(WEB, 'mutation { createCompletion(input: { route: "default", messages: [{ role: USER, content: "hi" }], providerOptions: { openai: { model: "llama3.2" } } }) { id } }');
    expect(smuggled.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.providerOptions.openai.model' });
    // A draft route would let it plan on any target: drafts are for keys that may save routes.
    const drafted = await gql(WEB, '{ explainRoute(input: { messages: [{ role: USER, content: "hi" }] }, draft: { name: "default", targets: [{ provider: "sim-ollama", model: "llama3.2" }] }) { route } }');
    expect(drafted.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('gets no cached answer for a model it may not pin (the cache applies the same rule)', async () => {
    const req = { model: 'llama3.2', messages: [{ role: 'user' as const, content: 'cache me' }], temperature: 0 };
    const first = await sdk(ADMIN).chat.completions.create(req).withResponse();
    expect(first.response.headers.get('x-switchboard-cache')).toBe('MISS');
    // The answer is in the cache: a key that may pin llama3.2 is served it...
    const allowed = await sdk(MIXED).chat.completions.create(req).withResponse();
    expect(allowed.response.headers.get('x-switchboard-cache')).toBe('HIT');
    // ...one that may not is refused before the lookup.
    const denied = await sdk(WEB).chat.completions.create(req).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('may not use an embeddings model that no route of its reaches', async () => {
    for (const model of ['nomic-embed-text', 'text-embedding-3-small', 'sim-openai/text-embedding-3-small']) {
      const denied = await sdk(WEB).embeddings.create({ model, input: 'x' }).catch((e: unknown) => e);
      expect(denied, model).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect((denied as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('forbidden');
      expect((denied as Error).message).toContain(`"${model}"`);
    }
    const admin = await sdk(ADMIN).embeddings.create({ model: 'nomic-embed-text', input: 'x' });
    expect(admin.data).toHaveLength(1);
  });

  it('cannot read other routes (or their targets) over GraphQL; an admin can', async () => {
    const q = '{ route(name: "local") { name targets { provider { id } model { id } } } }';
    const hidden = await gql(WEB, q);
    expect(hidden.errors).toBeUndefined();
    expect(hidden.data!.route).toBeNull();
    const own = await gql(WEB, '{ route(name: "default") { name } routes { name targets { model { id } } } }');
    expect(own.data!.route).toEqual({ name: 'default' });
    expect((own.data!.routes as Array<{ name: string }>).map((r) => r.name)).toEqual(['default']);
    expect(JSON.stringify(own.data)).not.toContain('llama3.2');
    const entities = await gql(WEB, '{ _entities(representations: [{ __typename: "Route", name: "local" }]) { ... on Route { name } } }');
    expect(entities.data!._entities).toEqual([null]);

    const admin = await gql(ADMIN, q);
    expect(admin.data!.route).toEqual({ name: 'local', targets: [{ provider: { id: 'sim-ollama' }, model: { id: 'sim-ollama/llama3.2' } }] });
    const all = await gql(ADMIN, '{ routes { name } }');
    expect((all.data!.routes as Array<{ name: string }>).map((r) => r.name)).toEqual(['default', 'local']);
  });

  it('lists only its routes and the models it may pin in GET /v1/models', async () => {
    const ids: string[] = [];
    for await (const m of sdk(WEB).models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['default', 'gpt-4o-mini', 'claude-haiku-4-5', 'gemini-2.5-flash']));
    expect(ids).not.toContain('local');
    expect(ids).not.toContain('llama3.2');
    expect(ids).not.toContain('nomic-embed-text');
  });
});

describe('a key whose `models` list names a model', () => {
  it('may pin it even when none of its routes reaches it', async () => {
    const res = await sdk(MIXED).chat.completions.create({ model: 'llama3.2', messages: hi }).withResponse();
    expect(res.response.status).toBe(200);
    expect(res.response.headers.get('x-switchboard-provider')).toBe('sim-ollama');
    const body = await gql(MIXED, 'mutation { createCompletion(input: { route: "default", model: "llama3.2", messages: [{ role: USER, content: "hi" }] }) { model { id } } }');
    expect(body.errors).toBeUndefined();
  });

  it('with models but no routes: pins and embeds only what the list names', async () => {
    const ok = await sdk(MODELS_ONLY).embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).withResponse();
    expect(ok.response.headers.get('x-switchboard-provider')).toBe('sim-openai');
    const denied = await sdk(MODELS_ONLY).embeddings.create({ model: 'nomic-embed-text', input: 'x' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});

describe('admin keys', () => {
  it('still pin any model and use any route', async () => {
    for (const model of ['llama3.2', 'sim-ollama/llama3.2', 'local', 'default']) {
      const res = await sdk(ADMIN).chat.completions.create({ model, messages: hi }).withResponse();
      expect(res.response.status, model).toBe(200);
    }
    const body = await gql(ADMIN, 'mutation { createCompletion(input: { route: "default", model: "llama3.2", messages: [{ role: USER, content: "hi" }] }) { id } }');
    expect(body.errors).toBeUndefined();
  });
});
