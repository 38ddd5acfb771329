/**
 * The Vertex AI simulator driven by the official clients: @google/genai in Vertex mode (Gemini publisher) and
 * @anthropic-ai/vertex-sdk (Claude on Vertex), both authenticating through google-auth-library against the
 * simulator's OAuth token endpoint with the service account the simulator hands out.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { ApiError, GoogleGenAI, type GenerateContentParameters } from '@google/genai';
import { gaxios, GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

const CLOUD = 'https://www.googleapis.com/auth/cloud-platform';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const GEMINI = 'gemini-2.5-flash';
const CLAUDE = 'claude-haiku-4-5@20251001';
const PROJECT = 'sim-project';

interface ServiceAccount {
  type: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

async function serviceAccountOf(sim: Simulator): Promise<ServiceAccount> {
  return (await (await fetch(`${sim.url}/service-account.json`)).json()) as ServiceAccount;
}

/**
 * google-auth-library always posts to Google's token URL and ignores the key file's `token_uri`; its supported
 * hook is the client's transporter, so this one sends token requests to `tokenUri` instead.
 */
function transporterTo(tokenUri: string): InstanceType<typeof gaxios.Gaxios> {
  const t = new gaxios.Gaxios();
  t.interceptors.request.add({
    resolved: async (opts) => {
      if (opts.url.href === GOOGLE_TOKEN_URL) opts.url = new URL(tokenUri);
      return opts;
    },
  });
  return t;
}

function googleAuth(sa: ServiceAccount): GoogleAuth {
  return new GoogleAuth({ credentials: sa, scopes: [CLOUD], clientOptions: { transporter: transporterTo(sa.token_uri) } });
}

function genai(sim: Simulator, sa: ServiceAccount, headers?: Record<string, string>): GoogleGenAI {
  return new GoogleGenAI({
    vertexai: true,
    project: PROJECT,
    location: 'us-central1',
    httpOptions: { baseUrl: sim.url, ...(headers && { headers }) },
    googleAuthOptions: { credentials: sa, scopes: [CLOUD], clientOptions: { transporter: transporterTo(sa.token_uri) } },
  });
}

/** A JWT bearer assertion as a service account signs one (RS256), for calling the token endpoint directly. */
function assertion(sa: ServiceAccount, claims: Record<string, unknown> = {}): string {
  const iat = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ iss: sa.client_email, scope: CLOUD, aud: GOOGLE_TOKEN_URL, iat, exp: iat + 3600, ...claims })}`;
  return `${body}.${sign('sha256', Buffer.from(body), sa.private_key).toString('base64url')}`;
}

async function tokenRequest(sim: Simulator, jwt: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${sim.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwt }).toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function modelUrl(sim: Simulator, publisher: string, model: string, verb: string): string {
  return `${sim.url}/v1/projects/${PROJECT}/locations/us-central1/publishers/${publisher}/models/${model}:${verb}`;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

let sim: Simulator;
let sa: ServiceAccount;
let ai: GoogleGenAI;
let claude: AnthropicVertex;
const paths: string[] = [];

beforeAll(async () => {
  sim = await startSimulator({ protocol: 'vertex', port: 0 });
  sim.events.on('request', (r: { path: string }) => paths.push(r.path));
  sa = await serviceAccountOf(sim);
  ai = genai(sim, sa);
  claude = new AnthropicVertex({ baseURL: `${sim.url}/v1`, region: 'us-east5', projectId: PROJECT, googleAuth: googleAuth(sa), maxRetries: 0 });
});

afterAll(async () => {
  await sim.close();
});

describe('vertex simulator: the service account and the token endpoint', () => {
  it('hands out a service-account key file whose token_uri is the simulator', () => {
    expect(sa.type).toBe('service_account');
    expect(sa.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(sa.token_uri).toBe(`${sim.url}/token`);
  });

  it('issues a bearer token for an assertion signed with that key, and refuses one signed by another key', async () => {
    const ok = await tokenRequest(sim, assertion(sa));
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(ok.json.access_token).toMatch(/^ya29\./);

    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = await tokenRequest(sim, assertion({ ...sa, private_key: other }));
    expect(forged).toEqual({ status: 400, json: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } });
  });

  it('checks iss, aud, scope and the assertion times', async () => {
    const iat = Math.floor(Date.now() / 1000);
    expect((await tokenRequest(sim, assertion(sa, { iss: 'someone@else.iam.gserviceaccount.com' }))).json.error_description).toBe('Invalid grant: account not found');
    expect((await tokenRequest(sim, assertion(sa, { aud: 'https://example.com/token' }))).json.error_description).toMatch(/audience/);
    expect((await tokenRequest(sim, assertion(sa, { aud: sa.token_uri }))).status).toBe(200);
    expect((await tokenRequest(sim, assertion(sa, { scope: '' }))).json.error).toBe('invalid_scope');
    expect((await tokenRequest(sim, assertion(sa, { iat: iat - 7200, exp: iat - 3600 }))).json.error_description).toMatch(/short-lived token/);
    expect((await tokenRequest(sim, assertion(sa, { exp: iat + 7200 }))).json.error_description).toMatch(/short-lived token/);
  });

  it('rejects a JWT signed by another key through the SDK', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const err = await rejection(genai(sim, { ...sa, private_key: other }).models.generateContent({ model: GEMINI, contents: 'hi' }));
    expect(String(err)).toContain('Invalid JWT Signature');
  });

  it('answers a missing, unknown or expired token with 401 UNAUTHENTICATED', async () => {
    let t = Date.now();
    const clocked = await startSimulator({ protocol: 'vertex', port: 0, now: () => t, tokenLifetimeS: 60 });
    try {
      const csa = await serviceAccountOf(clocked);
      const { json } = await tokenRequest(clocked, assertion(csa));
      const token = json.access_token as string;
      const stale = genai(clocked, csa, { authorization: `Bearer ${token}` });
      expect((await stale.models.generateContent({ model: GEMINI, contents: 'hi' })).text?.length).toBeGreaterThan(0);
      t += 61_000;
      const err = await rejection(stale.models.generateContent({ model: GEMINI, contents: 'hi' }));
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(401);
      const body = JSON.parse((err as ApiError).message) as { error: { status: string; details: Array<{ reason?: string }> } };
      expect(body.error.status).toBe('UNAUTHENTICATED');
      expect(body.error.details[0]!.reason).toBe('ACCESS_TOKEN_EXPIRED');

      const call = (authorization?: string) =>
        fetch(modelUrl(clocked, 'google', GEMINI, 'generateContent'), {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
          body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
        });
      const missing = await call();
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await call('Bearer ya29.not-issued-here')).status).toBe(401);
    } finally {
      await clocked.close();
    }
  });
});

describe('vertex simulator: Gemini publisher through @google/genai', () => {
  it('answers generateContent at the publisher path with Vertex usage metadata', async () => {
    const before = paths.length;
    const res = await ai.models.generateContent({ model: GEMINI, contents: 'Hello there', config: { systemInstruction: 'Be brief.' } });
    expect(res.text?.length).toBeGreaterThan(0);
    expect(res.candidates?.[0]?.finishReason).toBe('STOP');
    const u = res.usageMetadata!;
    expect(u.totalTokenCount).toBe(u.promptTokenCount! + u.candidatesTokenCount!);
    expect(u.trafficType).toBe('ON_DEMAND');
    expect(res.createTime).toBeDefined();
    expect(paths.slice(before)).toContain(`/v1beta1/projects/${PROJECT}/locations/us-central1/publishers/google/models/${GEMINI}:generateContent`);
  });

  it('streams over SSE: the pieces join to the non-streamed text, the last chunk carries the final usage', async () => {
    const params: GenerateContentParameters = { model: GEMINI, contents: 'Tell me about routing' };
    const plain = await ai.models.generateContent(params);
    const chunks = [];
    for await (const c of await ai.models.generateContentStream({ ...params, config: { httpOptions: { headers: { 'x-sim-chunk-count': '3' } } } })) chunks.push(c);
    expect(chunks).toHaveLength(3);
    expect(chunks.map((c) => c.text ?? '').join('')).toBe(plain.text);
    expect(chunks.at(-1)!.usageMetadata).toEqual(plain.usageMetadata);
  });

  it('round-trips a function call with its thought signature, and refuses a corrupted one', async () => {
    const tools = [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }] }];
    const config = { tools, thinkingConfig: { thinkingBudget: 512 } };
    const first = await ai.models.generateContent({ model: GEMINI, contents: 'Use the tool for Paris', config });
    const modelTurn = first.candidates![0]!.content!;
    const call = modelTurn.parts!.find((p) => p.functionCall)!;
    expect(call.thoughtSignature).toMatch(/\S+/);
    const turn = (parts: typeof modelTurn.parts) => [
      { role: 'user', parts: [{ text: 'Use the tool for Paris' }] },
      { role: 'model', parts },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: '18C clear' } } }] },
    ];
    const answer = await ai.models.generateContent({ model: GEMINI, contents: turn(modelTurn.parts), config });
    expect(answer.text).toContain('18C clear');
    const corrupted = modelTurn.parts!.map((p) => (p.functionCall ? { ...p, thoughtSignature: 'AAAA' } : p));
    const err = await rejection(ai.models.generateContent({ model: GEMINI, contents: turn(corrupted), config }));
    expect((err as ApiError).status).toBe(400);
  });

  it('maps an injected 429 to RESOURCE_EXHAUSTED with RetryInfo and retry-after, and 503 to UNAVAILABLE', async () => {
    const err = (await rejection(
      ai.models.generateContent({ model: GEMINI, contents: 'hi', config: { httpOptions: { headers: { 'x-sim-status': '429', 'x-sim-retry-after-s': '3' } } } }),
    )) as ApiError;
    expect(err.status).toBe(429);
    const body = JSON.parse(err.message) as { error: { status: string; details: unknown[] } };
    expect(body.error.status).toBe('RESOURCE_EXHAUSTED');
    expect(body.error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' });
    const unavailable = (await rejection(ai.models.generateContent({ model: GEMINI, contents: 'hi', config: { httpOptions: { headers: { 'x-sim-status': '503' } } } }))) as ApiError;
    expect(unavailable.status).toBe(503);
    expect(unavailable.message).toContain('UNAVAILABLE');
  });

  it('ends a stream with an error chunk after N chunks, and cuts one mid-stream', async () => {
    const chunks: string[] = [];
    const failing = (async () => {
      const stream = await ai.models.generateContentStream({ model: GEMINI, contents: 'long story', config: { httpOptions: { headers: { 'x-sim-error-after-chunks': '2' } } } });
      for await (const c of stream) chunks.push(c.text ?? '');
    })();
    expect(String(await rejection(failing))).toMatch(/overloaded|UNAVAILABLE|503/);
    expect(chunks).toHaveLength(2);

    const cut = (async () => {
      const stream = await ai.models.generateContentStream({ model: GEMINI, contents: 'long story', config: { httpOptions: { headers: { 'x-sim-disconnect-after-chunks': '1' } } } });
      for await (const c of stream) void c;
    })();
    await rejection(cut);
  });

  it('serves text embeddings through :predict', async () => {
    const token = (await tokenRequest(sim, assertion(sa))).json.access_token as string;
    const predict = (model: string, body: unknown) =>
      fetch(modelUrl(sim, 'google', model, 'predict'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const res = await predict('text-embedding-005', { instances: [{ content: 'one two three', task_type: 'RETRIEVAL_QUERY' }, { content: 'four' }], parameters: { outputDimensionality: 16 } });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { predictions: Array<{ embeddings: { values: number[]; statistics: { token_count: number; truncated: boolean } } }> };
    expect(json.predictions).toHaveLength(2);
    expect(json.predictions[0]!.embeddings.values).toHaveLength(16);
    expect(json.predictions.map((p) => p.embeddings.statistics)).toEqual([{ truncated: false, token_count: 3 }, { truncated: false, token_count: 1 }]);
    expect((await predict('gemini-embedding-001', { instances: [{ content: 'a' }, { content: 'b' }] })).status).toBe(400);
  });
});

describe('vertex simulator: Claude through @anthropic-ai/vertex-sdk', () => {
  it('answers messages.create at the anthropic publisher path (rawPredict)', async () => {
    const before = paths.length;
    const msg = await claude.messages.create({ model: CLAUDE, max_tokens: 200, messages: [{ role: 'user', content: 'Hello Claude' }] });
    expect(msg.type).toBe('message');
    expect(msg.model).toBe(CLAUDE);
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(paths.slice(before)).toContain(`/v1/projects/${PROJECT}/locations/us-east5/publishers/anthropic/models/${CLAUDE}:rawPredict`);
  });

  it('streams with streamRawPredict: the text equals the non-streamed reply', async () => {
    const params = { model: CLAUDE, max_tokens: 200, messages: [{ role: 'user' as const, content: 'Stream please' }] };
    const plain = await claude.messages.create(params);
    const before = paths.length;
    const streamed = await claude.messages.stream(params).finalMessage();
    expect(streamed.content).toEqual(plain.content);
    expect(streamed.usage.output_tokens).toBe(plain.usage.output_tokens);
    expect(paths.slice(before).some((p) => p.endsWith(':streamRawPredict'))).toBe(true);
  });

  it('signs thinking and reads prompt-cache tokens back on a repeat', async () => {
    const system = [{ type: 'text' as const, text: 'You are a careful assistant. '.repeat(20), cache_control: { type: 'ephemeral' as const } }];
    const params = { model: CLAUDE, max_tokens: 2048, system, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: 'Why is the sky blue?' }] };
    const first = await claude.messages.create(params);
    const thinking = first.content.find((b) => b.type === 'thinking');
    expect(thinking && 'signature' in thinking ? thinking.signature : '').toMatch(/\S+/);
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    const again = await claude.messages.create(params);
    expect(again.usage.cache_read_input_tokens).toBe(first.usage.cache_creation_input_tokens);
  });

  it('refuses a body with model or without anthropic_version, and answers a 429 as Google does', async () => {
    const token = (await tokenRequest(sim, assertion(sa))).json.access_token as string;
    const raw = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(modelUrl(sim, 'anthropic', CLAUDE, 'rawPredict'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify(body) });
    const base = { max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] };
    expect((await raw({ ...base, anthropic_version: 'vertex-2023-10-16' })).status).toBe(200);
    const withModel = await raw({ ...base, anthropic_version: 'vertex-2023-10-16', model: CLAUDE });
    expect(withModel.status).toBe(400);
    expect(await withModel.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('model') } });
    const noVersion = await raw(base);
    expect(noVersion.status).toBe(400);
    expect(JSON.stringify(await noVersion.json())).toContain('anthropic_version');
    const limited = await raw({ ...base, anthropic_version: 'vertex-2023-10-16' }, { 'x-sim-status': '429', 'x-sim-retry-after-s': '2' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toMatchObject({ error: { code: 429, status: 'RESOURCE_EXHAUSTED' } });
  });

  it('sends Anthropic error events mid-stream', async () => {
    const failing = claude.messages.stream(
      { model: CLAUDE, max_tokens: 200, messages: [{ role: 'user', content: 'a long story' }] },
      { headers: { 'x-sim-error-after-chunks': '2' } },
    );
    expect(String(await rejection(failing.finalMessage()))).toMatch(/overloaded/i);
  });
});
