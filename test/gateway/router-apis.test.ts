/** The router's inputs and outputs over both APIs: GraphQL constraints, upsertRoute/explainRoute, Provider.health; REST `switchboard`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/start-stack.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

async function gql(query: string, variables?: Record<string, unknown>) {
  const res = await fetch(`${stack.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data?: any; errors?: any[] };
}

async function chat(body: Record<string, unknown>) {
  const res = await fetch(`${stack.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('GraphQL', () => {
  it('upsertRoute with a strategy, when and validator; explainRoute then matches the completion, version included', async () => {
    const up = await gql(
      `mutation($input: RouteInput!) { upsertRoute(input: $input) { name strategy version expectedOutputTokens
        targets { provider { id } tier when { task } } validator { maxLength nonEmpty refusal } } }`,
      {
        input: {
          name: 'smart',
          strategy: 'CHEAPEST',
          targets: [
            { provider: 'sim-anthropic', model: 'claude-haiku-4-5', tier: 'BEST' },
            { provider: 'sim-openai', model: 'gpt-4o-mini', when: { task: ['chat'] } },
          ],
          validator: { maxLength: 5000 },
        },
      },
    );
    expect(up.errors).toBeUndefined();
    expect(up.data.upsertRoute).toMatchObject({
      strategy: 'CHEAPEST',
      expectedOutputTokens: 256,
      targets: [{ provider: { id: 'sim-anthropic' }, tier: 'BEST', when: null }, { provider: { id: 'sim-openai' }, when: { task: ['chat'] } }],
      validator: { maxLength: 5000, nonEmpty: true, refusal: true },
    });
    const input = { route: 'smart', task: 'chat', messages: [{ role: 'USER', content: 'Hi' }] };
    const ex = await gql(
      `query($input: CompletionInput!) { explainRoute(input: $input) { routeVersion strategy chosen { provider { id } }
        candidateDetails { provider { id } expectedCostUsd p95LatencyMs circuit } excluded { reason } } }`,
      { input },
    );
    expect(ex.errors).toBeUndefined();
    expect(ex.data.explainRoute).toMatchObject({
      routeVersion: up.data.upsertRoute.version,
      strategy: 'CHEAPEST',
      chosen: { provider: { id: 'sim-openai' } },
      candidateDetails: [{ provider: { id: 'sim-openai' }, expectedCostUsd: expect.any(Number), circuit: 'CLOSED' }, { provider: { id: 'sim-anthropic' } }],
    });
    const done = await gql(`mutation($input: CompletionInput!) { createCompletion(input: $input) { routeVersion provider { id } costUsd attempts { costUsd resumed } } }`, { input });
    expect(done.data.createCompletion).toMatchObject({ routeVersion: up.data.upsertRoute.version, provider: { id: 'sim-openai' }, attempts: [{ costUsd: expect.any(Number), resumed: false }] });
    // Without the task, the `when` excludes the OpenAI target, with its reason.
    const other = await gql(`query($input: CompletionInput!) { explainRoute(input: $input) { chosen { provider { id } } excluded { provider { id } reason } } }`, {
      input: { route: 'smart', messages: [{ role: 'USER', content: 'Hi' }] },
    });
    expect(other.data.explainRoute).toMatchObject({ chosen: { provider: { id: 'sim-anthropic' } }, excluded: [{ provider: { id: 'sim-openai' }, reason: 'when: task (none) is not one of chat' }] });
  });

  it('upsertRoute keeps promptCache and unsupportedParams, and the route reads them back', async () => {
    const fields = 'name promptCache { system tools } unsupportedParams';
    const up = await gql(`mutation($input: RouteInput!) { upsertRoute(input: $input) { ${fields} } }`, {
      input: { name: 'cached', targets: [{ provider: 'sim-anthropic', model: 'claude-haiku-4-5' }], promptCache: { system: true, tools: false }, unsupportedParams: 'DROP' },
    });
    expect(up.errors).toBeUndefined();
    expect(up.data.upsertRoute).toEqual({ name: 'cached', promptCache: { system: true, tools: false }, unsupportedParams: 'DROP' });
    const plain = await gql(`{ route(name: "default") { ${fields} } }`);
    expect(plain.data.route).toEqual({ name: 'default', promptCache: null, unsupportedParams: 'REFUSE' });
  });

  it('explainRoute with a draft plans on the edit without saving it; a bad draft names its field', async () => {
    const q = `query($input: CompletionInput!, $draft: RouteInput) { explainRoute(input: $input, draft: $draft) { route routeVersion chosen { provider { id } } } }`;
    const input = { route: 'default', messages: [{ role: 'USER', content: 'Hi' }] };
    const saved = (await gql(q, { input })).data.explainRoute;
    expect(saved.chosen.provider.id).toBe('sim-openai');
    const draft = { name: 'default', targets: [{ provider: 'sim-gemini', model: 'gemini-2.5-flash' }, { provider: 'sim-openai', model: 'gpt-4o-mini' }] };
    const drafted = await gql(q, { input, draft });
    expect(drafted.errors).toBeUndefined();
    expect(drafted.data.explainRoute).toEqual({ route: 'default', routeVersion: saved.routeVersion + 1, chosen: { provider: { id: 'sim-gemini' } } });
    // Nothing was saved.
    expect((await gql(q, { input })).data.explainRoute).toEqual(saved);
    const bad = await gql(q, { input, draft: { ...draft, targets: [{ provider: 'sim-gemini', model: 'no-such-model' }] } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'draft.targets[0].model' });
  });

  it('CompletionInput constraints: denyProviders, quality; bad values name the field', async () => {
    const res = await gql(`mutation { createCompletion(input: { messages: [{ role: USER, content: "hi" }], denyProviders: ["sim-openai"], quality: FAST }) { provider { id } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.createCompletion.provider.id).not.toBe('sim-openai');
    const bad = await gql(`mutation { createCompletion(input: { messages: [{ role: USER, content: "hi" }], latencyBudgetMs: -5 }) { id } }`);
    expect(bad.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', param: 'input.latencyBudgetMs' } });
  });

  it('Provider.health reports circuits and latency from the router', async () => {
    const res = await gql('{ provider(id: "sim-openai") { health { status p95LatencyMs sampleSize circuits { model state reason retryInMs } } } }');
    expect(res.errors).toBeUndefined();
    expect(res.data.provider.health).toMatchObject({ status: 'HEALTHY', circuits: [{ model: 'gpt-4o-mini', state: 'CLOSED', reason: null }, { model: 'text-embedding-3-small', state: 'CLOSED' }] });
    expect(res.data.provider.health.sampleSize).toBeGreaterThan(0);
    expect(res.data.provider.health.p95LatencyMs).toEqual(expect.any(Number));
  });
});

describe('REST `switchboard` extension', () => {
  it('deny and quality steer the request; headers carry the route version', async () => {
    const r = await chat({ model: 'default', messages: [{ role: 'user', content: 'hi' }], switchboard: { quality: 'FAST', deny: ['sim-openai'] } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-switchboard-provider')).not.toBe('sim-openai');
    expect(Number(r.headers.get('x-switchboard-route-version'))).toBeGreaterThan(0);
  });

  it('rejects an unknown quality or field by name', async () => {
    const bad = await chat({ model: 'default', messages: [{ role: 'user', content: 'hi' }], switchboard: { quality: 'TURBO' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('switchboard.quality');
    const unknown = await chat({ model: 'default', messages: [{ role: 'user', content: 'hi' }], switchboard: { speed: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('switchboard');
  });

  it('when every target is excluded by the request, the error lists each and why', async () => {
    const r = await chat({ model: 'default', messages: [{ role: 'user', content: 'hi' }], switchboard: { allow: ['nobody'] } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain("sim-openai/gpt-4o-mini not in the request's allow list");
    expect(r.body.error.message).toContain('sim-gemini/gemini-2.5-flash');
  });
});
