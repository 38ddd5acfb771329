import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigSchema, type Config, type ConfigInput } from '../../src/config/index.ts';
import { GatewayError, collectStream, emptyUsage, type ChatRequest, type StreamPart } from '../../src/core/index.ts';
import { createGateway, servicesOf, type GatewayCore } from '../../src/gateway/gateway-service.ts';
import type { ProviderRegistry } from '../../src/providers/registry.ts';
import type { CallOptions, ProviderAdapter } from '../../src/providers/spec.ts';
import { createAuthenticator } from '../../src/server/authenticator.ts';
import { createGraphQLEndpoint, type GraphQLEndpoint } from '../../src/server/graphql/graphql-endpoint.ts';

export const ADMIN_KEY = 'sk-admin-0123456789abcdef';
export const CLIENT_KEY = 'sk-client-0123456789abcdef';
export const UPSTREAM_KEY = 'sk-upstream-secret-do-not-leak';

/** What the fake adapter does for one call. */
export interface Script {
  /** Parts to stream (generate folds them); defaults to a short "Hello world" answer. */
  parts?: StreamPart[];
  /** Pause before each part. */
  delayMs?: number;
  /** Fail at once with this error (generate rejects; stream yields it as its only part). */
  fail?: GatewayError;
}

export interface RecordedCall {
  provider: string;
  model: string;
  chat: ChatRequest;
  signal: AbortSignal | undefined;
  /** Set when the call's signal fired. */
  aborted: boolean;
}

export const finish = (text = ''): StreamPart => ({
  type: 'finish',
  finishReason: 'stop',
  usage: { ...emptyUsage(), inputTokens: 12, outputTokens: Math.max(1, text.length), cachedInputTokens: 2 },
  model: 'upstream-model-1',
  providerRequestId: 'req_123',
});

export const answer = (...texts: string[]): StreamPart[] => [
  { type: 'start', model: 'upstream-model-1', providerRequestId: 'req_123' },
  ...texts.map((text): StreamPart => ({ type: 'text-delta', text })),
  finish(texts.join('')),
];

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** A ProviderRegistry of scripted adapters: tests say per provider what each call does and see every call. */
export class FakeRegistry implements ProviderRegistry {
  readonly calls: RecordedCall[] = [];
  private readonly scripts = new Map<string, (call: RecordedCall) => Script>();
  private readonly adapters = new Map<string, ProviderAdapter>();

  constructor(providers: Array<{ id: string; protocol: string }>) {
    for (const p of providers) this.adapters.set(p.id, this.adapter(p.id, p.protocol));
  }

  /** What calls to `provider` do from now on. */
  script(provider: string, script: Script | ((call: RecordedCall) => Script)): void {
    this.scripts.set(provider, typeof script === 'function' ? script : () => script);
  }

  private record(provider: string, chat: ChatRequest, opts: CallOptions): RecordedCall {
    const call: RecordedCall = { provider, model: opts.model, chat, signal: opts.signal, aborted: false };
    opts.signal?.addEventListener('abort', () => { call.aborted = true; }, { once: true });
    this.calls.push(call);
    return call;
  }

  private adapter(id: string, protocol: string): ProviderAdapter {
    const record = (chat: ChatRequest, opts: CallOptions) => this.record(id, chat, opts);
    const scriptOf = (call: RecordedCall): Script => this.scripts.get(id)?.(call) ?? {};
    async function* stream(chat: ChatRequest, opts: CallOptions): AsyncGenerator<StreamPart> {
      const call = record(chat, opts);
      const script = scriptOf(call);
      if (script.fail) {
        yield { type: 'error', error: script.fail };
        return;
      }
      for (const part of script.parts ?? answer('Hello', ' world')) {
        if (script.delayMs) await sleep(script.delayMs, opts.signal);
        if (opts.signal?.aborted) {
          yield { type: 'error', error: new GatewayError('cancelled', 'aborted', { provider: id }) };
          return;
        }
        yield part;
      }
    }
    return {
      id,
      protocol: protocol as ProviderAdapter['protocol'],
      baseUrl: `http://${id}.invalid`,
      generate: (chat, opts) => collectStream(stream(chat, opts)),
      stream,
      close: async () => undefined,
    };
  }

  get(id: string): ProviderAdapter {
    const a = this.adapters.get(id);
    if (!a) throw new GatewayError('not_found', `unknown provider "${id}"`);
    return a;
  }
  has(id: string): boolean {
    return this.adapters.has(id);
  }
  all(): ProviderAdapter[] {
    return [...this.adapters.values()];
  }
  async close(): Promise<void> {}
}

export const baseConfig = (): ConfigInput => ({
  server: { graphql: { maxDepth: 8, maxComplexity: 2_000 } },
  providers: [
    {
      id: 'alpha',
      protocol: 'openai',
      baseUrl: 'http://alpha.invalid/v1',
      apiKey: UPSTREAM_KEY,
      models: [
        { id: 'm1', upstream: 'alpha-m1-2025', contextWindow: 8_000, maxOutputTokens: 1_000, price: { input: 1, output: 2 }, capabilities: ['streaming'] },
        { id: 'm2', capabilities: ['streaming', 'tools'] },
      ],
    },
    {
      id: 'beta',
      protocol: 'anthropic',
      apiKey: UPSTREAM_KEY,
      models: [{ id: 'm1', contextWindow: 100_000, capabilities: ['streaming', 'tools', 'vision'] }],
    },
  ],
  routes: [
    { name: 'default', targets: [{ provider: 'alpha', model: 'm1' }, { provider: 'beta', model: 'm1' }] },
    { name: 'single', targets: [{ provider: 'alpha', model: 'm1' }], maxAttempts: 1 },
  ],
  keys: [
    { key: ADMIN_KEY, name: 'ops', scope: 'admin' },
    { key: CLIENT_KEY, name: 'app', scope: 'client' },
  ],
});

export interface Harness {
  url: string;
  wsUrl: string;
  config: Config;
  gateway: GatewayCore;
  registry: FakeRegistry;
  endpoint: GraphQLEndpoint;
  logged: unknown[][];
  /** POSTs an operation as JSON; returns the status and parsed body. */
  gql(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<{ status: number; body: GraphQLBody }>;
  close(): Promise<void>;
}

export interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, unknown> }>;
}

/** Gateway with a fake registry, the GraphQL endpoint, and a tiny node:http server on loopback port 0. */
export async function startHarness(overrides: Partial<ConfigInput> = {}): Promise<Harness> {
  const config = ConfigSchema.parse({ ...baseConfig(), ...overrides });
  const registry = new FakeRegistry(config.providers);
  const gateway = createGateway({ config, registry, random: () => 0 });
  const logged: unknown[][] = [];
  const logger = { warn: (...a: unknown[]) => logged.push(a), error: (...a: unknown[]) => logged.push(a) };
  const endpoint = await createGraphQLEndpoint({ services: servicesOf(gateway), config, auth: createAuthenticator(config.keys), logger });
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/graphql') {
      res.writeHead(404).end();
      return;
    }
    let body = '';
    for await (const chunk of req) body += chunk;
    await endpoint.handleHttp(req, res, body);
  });
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/graphql') endpoint.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    config,
    gateway,
    registry,
    endpoint,
    logged,
    async gql(query, variables, key = ADMIN_KEY) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(key && { authorization: `Bearer ${key}` }) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await res.json()) as GraphQLBody };
    },
    async close() {
      await endpoint.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
