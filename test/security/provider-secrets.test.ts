import { createClient } from 'graphql-ws';
import OpenAI from 'openai';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/core/index.ts';
import { createRedactor, REDACTED, redactSecrets } from '../../src/core/redact-secrets.ts';
import { credentialValues, redactError } from '../../src/providers/shared/redacting-adapter.ts';
import { startReplayServer, type ReplayServer } from '../helpers/replay-server.ts';
import { startTestSdk, type TestSdk } from '../observability/otel-test-sdk.ts';
import { startStack, startStack as startObservedStack, type Stack, type Stack as ObservedStack } from '../helpers/start-stack.ts';

// The provider key every `leaky-*` deployment sends to the OpenAI simulator; with the `echoHeaders` fault the
// simulator quotes it back in its error bodies, as a careless upstream or proxy would.
const PROVIDER_KEY = 'sk-test-SECRET1234567890abcdef';
const ADMIN = 'sk-admin-gateway-0123456789abcdef';
const LEAKS = [PROVIDER_KEY, 'SECRET1234567890', 'Bearer sk-'];
const hi = [{ role: 'user' as const, content: 'hi' }];
const MODEL = { id: 'gpt-4o-mini', contextWindow: 128_000, price: { input: 0.15, output: 0.6 } };
const DEPLOYMENTS = ['rest', 'rest-stream', 'sdk', 'gql', 'gql-ws', 'failover', 'echo', 'mid-stream'] as const;

let stack: Stack;
let upstream: ReplayServer;

function expectClean(what: string, text: string): void {
  for (const leak of LEAKS) expect(text, `${what} leaks ${leak}`).not.toContain(leak);
}

async function rest(model: string, stream = false, key = ADMIN): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model, messages: hi, stream }),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function gql(query: string, variables: Record<string, unknown>): Promise<{ text: string; json: any }> {
  const res = await fetch(`${stack.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  return { text, json: JSON.parse(text) };
}

const CREATE = `mutation($input: CompletionInput!) { createCompletion(input: $input) { id finishReason message { content } } }`;
const SUBSCRIBE = `subscription($input: CompletionInput!) { completionStream(input: $input) {
  __typename
  ... on TextDeltaEvent { text }
  ... on SwitchEvent { reason errorCode }
  ... on CompletionDoneEvent { completion { id finishReason } }
  ... on CompletionErrorEvent { code message partialText } } }`;

async function subscribe(model: string): Promise<any[]> {
  const client = createClient({
    url: `${stack.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${ADMIN}` },
  });
  try {
    const events: any[] = [];
    for await (const result of client.iterate({ query: SUBSCRIBE, variables: { input: { model, messages: [{ role: 'USER', content: 'hi' }] } } })) {
      events.push(result);
    }
    return events;
  } finally {
    await client.dispose();
  }
}

beforeAll(async () => {
  // An OpenAI-compatible upstream whose non-streamed answer has `finish_reason: null` and whose stream never names one.
  upstream = await startReplayServer((req) => {
    const stream = (req.json as { stream?: boolean } | undefined)?.stream === true;
    if (!stream) {
      return { chunks: [JSON.stringify({ id: 'c1', object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'partial' }, finish_reason: null }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } })] };
    }
    const chunk = (delta: unknown) => `data: ${JSON.stringify({ id: 'c2', object: 'chat.completion.chunk', model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
    return { headers: { 'content-type': 'text/event-stream' }, chunks: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'partial' }), 'data: [DONE]\n\n'] };
  });
  stack = await startStack((c) => {
    const simOpenAI = c.providers!.find((p) => p.id === 'sim-openai')!;
    // One deployment per case: an auth failure opens that deployment's circuit for authBrokenMs.
    for (const d of DEPLOYMENTS) c.providers!.push({ id: `leaky-${d}`, protocol: 'openai', baseUrl: simOpenAI.baseUrl, apiKey: PROVIDER_KEY, models: [MODEL] });
    c.providers!.push({ id: 'null-finish', protocol: 'openai', baseUrl: upstream.url, apiKey: 'sk-null-finish-0123456789', models: [MODEL] });
    c.routes!.push({ name: 'failover', strategy: 'priority', targets: [{ provider: 'leaky-failover', model: 'gpt-4o-mini' }, { provider: 'sim-anthropic', model: 'claude-haiku-4-5' }] });
    c.keys = [{ key: ADMIN, name: 'ops', scope: 'admin' }];
  });
});
afterAll(async () => {
  await stack?.close();
  await upstream?.close();
});

describe('redactSecrets', () => {
  it('masks configured secrets by value, also URL- and JSON-escaped, longest first', () => {
    const r = createRedactor(['plain-secret-value', 'with"quote/and space', undefined, 'short']);
    expect(r('key plain-secret-value and plain-secret-value')).toBe(`key ${REDACTED} and ${REDACTED}`);
    expect(r('url ?x=with%22quote%2Fand%20space')).toBe(`url ?x=${REDACTED}`);
    expect(r(JSON.stringify({ v: 'with"quote/and space' }))).toBe(`{"v":"${REDACTED}"}`);
    // Shorter than MIN_SECRET_LENGTH: not masked by value (it would mask ordinary words).
    expect(r('a short word')).toBe('a short word');
    expect(createRedactor(['abcdefgh-long', 'abcdefgh-long-er'])('abcdefgh-long-er')).toBe(REDACTED);
  });

  it('masks authorization-like text that no config names', () => {
    const cases: Array<[string, string]> = [
      ['Incorrect API key provided: Bearer abc.def-123', `Incorrect API key provided: Bearer ${REDACTED}`],
      ['Authorization: Basic dXNlcjpwYXNzd29yZA==', `Authorization: ${REDACTED}`],
      ['authorization: token-without-scheme-123', `authorization: ${REDACTED}`],
      ['{"authorization":"Bearer sk-abc123456789","host":"h"}', `{"authorization":"${REDACTED}","host":"h"}`],
      ['x-api-key: sk-ant-api03-AAAAAAAAAAAA', `x-api-key: ${REDACTED}`],
      ['api-key: 0123456789abcdef', `api-key: ${REDACTED}`],
      ["{'x-goog-api-key': 'AIzaSyA-abcdefghijklmnopqrstuvwxyz0'}", `{'x-goog-api-key': '${REDACTED}'}`],
      ['GET /v1beta/models/m:generateContent?key=AIzaSecret&alt=sse', `GET /v1beta/models/m:generateContent?key=${REDACTED}&alt=sse`],
      ['your key sk-proj-AbCdEf123456 is invalid', `your key ${REDACTED} is invalid`],
      ['masked sk-abc***********wxyz here', `masked ${REDACTED} here`],
      ['bad key sk-ant-api03-xyzxyzxyz', `bad key ${REDACTED}`],
      ['proxy at https://user:hunter2@proxy.example/v1 failed', `proxy at https://user:${REDACTED}@proxy.example/v1 failed`],
      ['password=hunter2&user=me', `password=${REDACTED}&user=me`],
    ];
    for (const [input, want] of cases) expect(redactSecrets(input), input).toBe(want);
  });

  it('leaves ordinary error text alone and is idempotent', () => {
    const r = createRedactor(['sk-test-SECRET1234567890abcdef']);
    for (const text of [
      'sim-openai: Rate limit reached for requests. Please try again in 1.5s.',
      'This model maximum context length is 128000 tokens; the messages resulted in 130000 tokens.',
      'The model `gpt-4o-mini` does not exist or you do not have access to it.',
      'monkey=1 and token count 12',
      '',
    ]) {
      expect(r(text)).toBe(text);
    }
    const once = r('Incorrect API key provided: Bearer sk-test-SECRET1234567890abcdef; headers {"authorization":"Bearer sk-test-SECRET1234567890abcdef"}');
    expect(once).toBe(`Incorrect API key provided: Bearer ${REDACTED}; headers {"authorization":"Bearer ${REDACTED}"}`);
    expect(r(once)).toBe(once);
  });
});

describe('the provider layer\'s redaction', () => {
  it('collects every credential of a provider config', () => {
    const values = credentialValues({
      apiKey: 'sk-config-key-000000',
      baseUrl: 'https://user:url-password-1@proxy.example/v1?api_key=query-key-22222&region=eu',
      headers: { 'OpenAI-Organization': 'org-not-a-secret', 'X-Proxy-Authorization': 'Bearer proxy-token-3333' },
      options: { apiVersion: '2024-10-21', nested: { clientSecret: 'nested-secret-4444' } },
    });
    expect(values).toEqual(
      expect.arrayContaining(['sk-config-key-000000', 'url-password-1', 'query-key-22222', 'Bearer proxy-token-3333', 'proxy-token-3333', 'nested-secret-4444']),
    );
    expect(values).not.toContain('org-not-a-secret');
    expect(values).not.toContain('2024-10-21');
  });

  it('redacts the message, cause chain and stack of an error, keeping its kind and fields', () => {
    const redact = createRedactor(['configured-secret-value']);
    const socket = Object.assign(new Error('connect to https://u:configured-secret-value@h failed'), { code: 'ECONNRESET' });
    const err = new GatewayError('provider_auth', 'p: Incorrect API key provided: configured-secret-value', {
      provider: 'p',
      status: 401,
      cause: new Error('outer configured-secret-value', { cause: socket }),
    });
    const out = redactError(err, redact, 'p');
    expect(out).toMatchObject({ kind: 'provider_auth', status: 401, provider: 'p', retryable: true });
    const everything = [out.message, out.stack, (out.cause as Error).message, (out.cause as Error).stack, ((out.cause as Error).cause as Error).message].join('\n');
    expect(everything).not.toContain('configured-secret-value');
    expect(((out.cause as Error).cause as { code?: string }).code).toBe('ECONNRESET');
  });
});

describe('provider error text that quotes the provider key', () => {
  it('the simulator really quotes the key back (so the cases below test something)', async () => {
    stack.sims.openai.setFaults({ status: 401, echoHeaders: true });
    try {
      const res = await fetch(`${stack.sims.openai.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${PROVIDER_KEY}` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: hi }),
      });
      expect(res.status).toBe(401);
      expect(await res.text()).toContain(`Incorrect API key provided: Bearer ${PROVIDER_KEY}`);
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('an upstream 401 becomes a 502 provider_auth error without the key: REST, streamed REST, GraphQL, graphql-ws, logs', async () => {
    stack.sims.openai.setFaults({ status: 401, echoHeaders: true });
    try {
      const plain = await rest('leaky-rest/gpt-4o-mini');
      expect(plain.status).toBe(502);
      expectClean('REST body', plain.text);
      const body = JSON.parse(plain.text);
      expect(body.error).toMatchObject({ code: 'provider_auth', type: 'server_error' });
      expect(body.error.message).toMatch(/rejected the gateway's credentials/);

      const streamed = await rest('leaky-rest-stream/gpt-4o-mini', true);
      expect(streamed.status).toBe(502);
      expectClean('streamed REST body', streamed.text);

      const sdkError = await new OpenAI({ apiKey: ADMIN, baseURL: `${stack.url}/v1`, maxRetries: 0 }).chat.completions
        .create({ model: 'leaky-sdk/gpt-4o-mini', messages: hi })
        .catch((e: unknown) => e);
      expect(sdkError).toBeInstanceOf(OpenAI.InternalServerError);
      expect(sdkError).not.toBeInstanceOf(OpenAI.AuthenticationError);
      expectClean('SDK error', `${(sdkError as Error).message} ${JSON.stringify((sdkError as InstanceType<typeof OpenAI.APIError>).error)}`);

      const graph = await gql(CREATE, { input: { model: 'leaky-gql/gpt-4o-mini', messages: [{ role: 'USER', content: 'hi' }] } });
      expectClean('GraphQL response', graph.text);
      expect(graph.json.errors[0].extensions.code).toBe('PROVIDER_AUTH');

      const events = await subscribe('leaky-gql-ws/gpt-4o-mini');
      expectClean('graphql-ws events', JSON.stringify(events));
      const terminal = events.at(-1).data.completionStream;
      expect(terminal).toMatchObject({ __typename: 'CompletionErrorEvent', code: 'PROVIDER_AUTH' });

      expect(stack.logs.length).toBeGreaterThan(0);
      expectClean('gateway logs', stack.logs.join('\n'));
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('a provider_auth failure fails over to the next target', async () => {
    stack.sims.openai.setFaults({ status: 401, echoHeaders: true });
    try {
      const res = await rest('failover');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-switchboard-provider')).toBe('sim-anthropic');
      expect(res.headers.get('x-switchboard-attempt-log')).toMatch(/^leaky-failover\/gpt-4o-mini;status=provider_auth/);
      expectClean('attempt log', res.headers.get('x-switchboard-attempt-log') ?? '');
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it("the client's own bad key is still a 401 from the gateway", async () => {
    const res = await rest('leaky-rest/gpt-4o-mini', false, 'sk-wrong-client-key-000000000');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text).error.code).toBe('auth');
  });

  it('an upstream 400 that lists the request headers reaches no client response and no log', async () => {
    stack.sims.openai.setFaults({ status: 400, echoHeaders: true });
    try {
      const plain = await rest('leaky-echo/gpt-4o-mini');
      expect(plain.status).toBe(400);
      expectClean('REST body', plain.text);
      expect(JSON.parse(plain.text).error.message).toContain('Request headers were');

      const streamed = await rest('leaky-echo/gpt-4o-mini', true);
      expect(streamed.status).toBe(400);
      expectClean('streamed REST body', streamed.text);

      const graph = await gql(CREATE, { input: { model: 'leaky-echo/gpt-4o-mini', messages: [{ role: 'USER', content: 'hi' }] } });
      expect(graph.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expectClean('GraphQL response', graph.text);

      expectClean('graphql-ws events', JSON.stringify(await subscribe('leaky-echo/gpt-4o-mini')));
      expectClean('gateway logs', stack.logs.join('\n'));
    } finally {
      stack.sims.openai.setFaults({});
    }
  });

  it('a mid-stream error event that lists the request headers ends the stream without them', async () => {
    stack.sims.openai.setFaults({ errorAfterChunks: 2, echoHeaders: true });
    try {
      const streamed = await rest('leaky-mid-stream/gpt-4o-mini', true);
      expect(streamed.status).toBe(200);
      expect(streamed.text).toContain('data: {"error"');
      expect(streamed.text).not.toContain('[DONE]');
      expectClean('streamed error frame', streamed.text);

      const events = await subscribe('leaky-mid-stream/gpt-4o-mini');
      expect(events.at(-1).data.completionStream.__typename).toBe('CompletionErrorEvent');
      expectClean('graphql-ws events', JSON.stringify(events));
      expectClean('gateway logs', stack.logs.join('\n'));
    } finally {
      stack.sims.openai.setFaults({});
    }
  });
});

describe('an upstream finish_reason of null', () => {
  it('is not passed off as stop: REST renders null (streamed and not), GraphQL says OTHER', async () => {
    const sdk = new OpenAI({ apiKey: ADMIN, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const res = await sdk.chat.completions.create({ model: 'null-finish/gpt-4o-mini', messages: hi });
    expect(res.choices[0]!.message.content).toBe('partial');
    expect(res.choices[0]!.finish_reason).toBeNull();

    const stream = await sdk.chat.completions.create({ model: 'null-finish/gpt-4o-mini', messages: hi, stream: true });
    const finishes: Array<string | null> = [];
    let text = '';
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      text += choice.delta.content ?? '';
      finishes.push(choice.finish_reason);
    }
    expect(text).toBe('partial');
    expect(finishes.every((f) => f === null)).toBe(true);

    const graph = await gql(CREATE, { input: { model: 'null-finish/gpt-4o-mini', messages: [{ role: 'USER', content: 'hi' }] } });
    expect(graph.json.errors).toBeUndefined();
    expect(graph.json.data.createCompletion.finishReason).toBe('OTHER');
  });
});

describe('traces of a provider error that quotes the key', () => {
  let sdk: TestSdk;
  let observed: ObservedStack;
  beforeAll(async () => {
    sdk = startTestSdk();
    observed = await startObservedStack({
      tracer: sdk.tracer,
      edit: (c) => {
        const simOpenAI = c.providers!.find((p) => p.id === 'sim-openai')!;
        c.providers!.push({ id: 'leaky-traced', protocol: 'openai', baseUrl: simOpenAI.baseUrl, apiKey: PROVIDER_KEY, models: [MODEL] });
        c.providers!.push({ id: 'leaky-traced-400', protocol: 'openai', baseUrl: simOpenAI.baseUrl, apiKey: PROVIDER_KEY, models: [MODEL] });
      },
    });
  });
  afterAll(async () => {
    await observed?.close();
    await sdk?.shutdown();
  });

  it('no span attribute, event or status carries the key (401 and 400 echoes)', async () => {
    const bodies: string[] = [];
    for (const [status, model] of [[401, 'leaky-traced/gpt-4o-mini'], [400, 'leaky-traced-400/gpt-4o-mini']] as const) {
      observed.sims.openai.setFaults({ status, echoHeaders: true });
      try {
        const res = await observed.post('/v1/chat/completions', { model, messages: hi });
        expect(res.status).toBe(status === 401 ? 502 : 400);
        bodies.push(res.text);
      } finally {
        observed.sims.openai.setFaults({});
      }
    }
    const spans = sdk.spans();
    expect(spans.length).toBeGreaterThan(0);
    const dump = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links })));
    expect(dump).toContain('provider_auth');
    expectClean('spans', dump);
    expectClean('REST bodies', bodies.join('\n'));
    expectClean('gateway logs', observed.logs.join('\n'));
  });
});
