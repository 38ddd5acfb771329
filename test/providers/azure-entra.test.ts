/**
 * Azure OpenAI and Azure AI Foundry with Microsoft Entra ID: the real @azure/identity fetches a token from a
 * managed-identity endpoint on loopback (App Service's IDENTITY_ENDPOINT protocol, the one credential source that
 * speaks plain HTTP), the gateway sends it as a bearer token in place of the api-key, and a token nearing its
 * expiry is renewed before any request fails.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.ts';
import { GatewayError } from '../../src/core/index.ts';
import { createOpenAIAdapter } from '../../src/providers/openai/index.ts';
import type { CallOptions } from '../../src/providers/spec.ts';
import type { SimRequest } from '../../src/simulator/protocol.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const TIMEOUTS = { connectMs: 2000, firstByteMs: 5000, idleMs: 5000, totalMs: 10_000 };
const IDENTITY_HEADER = 'identity-header-secret';
const opts: CallOptions = { model: 'gpt-4o-mini', capabilities: ['tools', 'streaming'] };
const hello = { messages: [{ role: 'user' as const, content: 'hello' }] };

let identity: Server;
const issued: string[] = [];
const savedEnv = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
let stack: Stack;
let client: OpenAI;

beforeAll(async () => {
  // App Service's managed identity endpoint: GET ?resource=…&api-version=2019-08-01 with X-IDENTITY-HEADER.
  identity = createServer((req, res) => {
    if (req.headers['x-identity-header'] !== IDENTITY_HEADER) {
      res.writeHead(401).end();
      return;
    }
    const token = `entra-token-${issued.length + 1}`;
    issued.push(token);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: 'https://cognitiveservices.azure.com/', token_type: 'Bearer' }));
  });
  await new Promise<void>((r) => identity.listen(0, '127.0.0.1', r));
  process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${(identity.address() as AddressInfo).port}/msi/token`;
  process.env.IDENTITY_HEADER = IDENTITY_HEADER;

  stack = await startStack((c) => {
    const sim = c.providers!.find((p) => p.id === 'sim-openai')!;
    const model = { id: 'gpt-4o-mini', price: { input: 0.15, output: 0.6 }, capabilities: ['tools' as const] };
    c.providers!.push(
      { id: 'azure-entra', protocol: 'azure', baseUrl: new URL(sim.baseUrl!).origin, credentials: { type: 'entra' }, models: [model] },
      { id: 'foundry-entra', protocol: 'azure-foundry', baseUrl: sim.baseUrl!, credentials: { type: 'entra' }, models: [model] },
    );
    c.routes = [
      ...(c.routes ?? []),
      { name: 'azure', targets: [{ provider: 'azure-entra', model: 'gpt-4o-mini' }] },
      { name: 'foundry', targets: [{ provider: 'foundry-entra', model: 'gpt-4o-mini' }] },
    ];
  });
  client = new OpenAI({ apiKey: 'local', baseURL: `${stack.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await stack?.close();
  identity?.close();
  for (const [k, v] of [['IDENTITY_ENDPOINT', savedEnv.endpoint], ['IDENTITY_HEADER', savedEnv.header]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

async function received<T>(fn: () => Promise<T>): Promise<{ result: T; requests: SimRequest[] }> {
  const requests: SimRequest[] = [];
  const on = (r: SimRequest) => requests.push(r);
  stack.sims.openai.events.on('request', on);
  try {
    return { result: await fn(), requests };
  } finally {
    stack.sims.openai.events.off('request', on);
  }
}

describe('Entra ID through the gateway (real @azure/identity, managed identity)', () => {
  it('Azure OpenAI: a bearer token from the identity endpoint, no api-key, chat and stream', async () => {
    const { result, requests } = await received(() => client.chat.completions.create({ model: 'azure', messages: hello.messages }));
    expect(result.choices[0]!.message.content).toBeTruthy();
    expect(requests).toHaveLength(1);
    const sent = requests[0]!;
    expect(sent.path).toBe('/openai/deployments/gpt-4o-mini/chat/completions');
    expect(sent.query.get('api-version')).toBe('2024-10-21');
    expect(sent.headers.authorization).toBe(`Bearer ${issued[0]}`);
    expect(sent.headers['api-key']).toBeUndefined();

    const stream = await client.chat.completions.create({ model: 'azure', messages: hello.messages, stream: true, stream_options: { include_usage: true } });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).not.toBe('');
    // The token is kept between calls: one fetch served both.
    expect(issued).toHaveLength(1);
  });

  it('AI Foundry model inference: the model in the body, its api-version, the same token source', async () => {
    const { requests } = await received(() => client.chat.completions.create({ model: 'foundry', messages: hello.messages }));
    const sent = requests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.query.get('api-version')).toBe('2024-05-01-preview');
    expect((sent.body as { model: string }).model).toBe('gpt-4o-mini');
    expect(sent.headers.authorization).toMatch(/^Bearer entra-token-\d+$/);
  });
});

describe('Entra ID tokens in the adapter (injected token source and clock)', () => {
  it('renews a token five minutes before it expires, in the background, with no failed request', async () => {
    let t = 1_000_000;
    const gets: number[] = [];
    const adapter = createOpenAIAdapter(
      { id: 'az', baseUrl: new URL(stack.sims.openai.url).origin, timeouts: TIMEOUTS, options: { preset: 'azure' }, credentials: { type: 'entra' } },
      {
        now: () => t,
        entraTokenSource: {
          getToken: () => {
            gets.push(t);
            return Promise.resolve({ token: `tok-${gets.length}`, expiresOnTimestamp: t + 60 * 60_000 });
          },
        },
      },
    );
    try {
      const auths: Array<string | undefined> = [];
      const send = async () => {
        const { requests } = await received(() => adapter.generate(hello, opts));
        auths.push(requests[0]!.headers.authorization as string | undefined);
      };
      await send();
      t += 50 * 60_000; // 10 minutes left: still served from the cache
      await send();
      t += 6 * 60_000; // 4 minutes left: served, and renewed behind it
      await send();
      await send();
      expect(auths).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
      expect(gets).toHaveLength(2);
      t += 3 * 60 * 60_000; // long past both: a blocking load, still no failure
      await send();
      expect(auths.at(-1)).toBe('Bearer tok-3');
    } finally {
      await adapter.close();
    }
  });

  it('a token that cannot be had fails the call as auth, retryable, without the cause in the message', async () => {
    const secret = 'client-secret-value-123';
    const adapter = createOpenAIAdapter(
      { id: 'az', baseUrl: new URL(stack.sims.openai.url).origin, timeouts: TIMEOUTS, options: { preset: 'azure' }, credentials: { type: 'entra', clientSecret: secret, tenantId: 't', clientId: 'c' } },
      { entraTokenSource: { getToken: () => Promise.reject(new Error(`AADSTS7000215: Invalid client secret ${secret}`)) } },
    );
    try {
      const err = await adapter.generate(hello, opts).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).kind).toBe('auth');
      expect((err as GatewayError).retryable).toBe(true);
      expect((err as GatewayError).message).not.toContain(secret);
    } finally {
      await adapter.close();
    }
  });
});

describe('credentials in config', () => {
  const provider = (p: Record<string, unknown>) => ({ providers: [{ id: 'p', models: [{ id: 'm' }], ...p }] });

  it('takes entra on azure and azure-foundry, refuses it elsewhere naming the key', () => {
    expect(() => parseConfig(provider({ protocol: 'azure', baseUrl: 'https://r.openai.azure.com', credentials: { type: 'entra' } }), {})).not.toThrow();
    expect(() => parseConfig(provider({ protocol: 'azure-foundry', baseUrl: 'https://r.services.ai.azure.com/models', credentials: { type: 'entra', clientId: 'x' } }), {})).not.toThrow();
    expect(() => parseConfig(provider({ protocol: 'openai', credentials: { type: 'entra' } }), {})).toThrow(/providers\[0\]\.credentials\.type/);
    expect(() => parseConfig(provider({ protocol: 'azure', baseUrl: 'https://r.openai.azure.com', credentials: { type: 'aws' } }), {})).toThrow(/"entra"/);
  });

  it('refuses an api key beside credentials, and AWS keys without their pair', () => {
    expect(() => parseConfig(provider({ protocol: 'azure', baseUrl: 'https://r.openai.azure.com', apiKey: 'k', credentials: { type: 'entra' } }), {})).toThrow(/apiKey/);
    expect(() => parseConfig(provider({ protocol: 'bedrock', region: 'us-east-1', credentials: { type: 'aws', accessKeyId: 'AKIA' } }), {})).toThrow(/secretAccessKey/);
    expect(() => parseConfig(provider({ protocol: 'bedrock' }), {})).toThrow(/region/);
    expect(() => parseConfig(provider({ protocol: 'vertex' }), {})).toThrow(/project/);
  });
});
