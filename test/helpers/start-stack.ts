/**
 * The one "simulators and a gateway" set-up of the tests: every protocol's simulator on loopback and,
 * over them with the out-of-the-box config, either the whole app on port 0 (the default) or, with
 * `http: false`, only the gateway service, for tests that call complete/stream/explain directly.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
import { defaultConfig, parseConfig, type Config, type ConfigInput } from '../../src/config/index.ts';
import type { SimulatorUrls } from '../../src/config/default-config.ts';
import { createGateway, type GatewayCore } from '../../src/gateway/gateway-service.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { SIM_PROTOCOLS, type SimProtocol } from '../../src/simulator/protocol.ts';
import type { Simulator } from '../../src/simulator/simulator-server.ts';
import { startSimulators } from '../../src/simulator/start-simulators.ts';
import { saveServiceAccount } from '../../src/simulator/vertex-auth.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { FakeClock } from './fake-clock.ts';

export type Sims = Record<SimProtocol, Simulator>;
type Observability = NonNullable<AppOptions['observability']>;

/** Changes to the out-of-the-box config before it is validated (keys, routes, timeouts). */
export type EditConfig = (c: ConfigInput) => ConfigInput | void;

interface CommonOptions {
  edit?: EditConfig;
  /** Simulators to reuse (a second gateway over the same upstreams); the stack leaves them running. */
  sims?: Sims;
}

export interface StackOptions extends CommonOptions {
  http?: true;
  /** Spans go here (e.g. an in-memory exporter's tracer). */
  tracer?: Observability['tracer'];
  /** The usage ledger's sink; by default the store's. */
  ledgerSink?: Observability['ledgerSink'];
  /** Where config reloads read from (`app.reloadConfig`, the reloadConfig mutation). */
  reload?: AppOptions['reload'];
}

export interface ServiceStackOptions extends CommonOptions {
  http: false;
  /** The router's clock (breakers, retry-after, latency windows) while HTTP stays real; by default retries do not wait. */
  clock?: FakeClock;
}

interface Common {
  config: Config;
  sims: Sims;
  close(): Promise<void>;
}

export interface Stack extends Common {
  app: App;
  url: string;
  /** Everything the gateway logged, one JSON line each. */
  logs: string[];
  /** POSTs a JSON body; the status, headers and the parsed body (or the raw text of a stream). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  gql(query: string, variables?: Record<string, unknown>, key?: string): Promise<{ data?: any; errors?: any[] }>;
}

export interface ServiceStack extends Common {
  gateway: GatewayCore;
}

/** `provider/model` of the out-of-the-box deployment of each protocol. */
export const SIM_DEPLOYMENTS: Record<SimProtocol, string> = {
  openai: 'sim-openai/gpt-4o-mini',
  anthropic: 'sim-anthropic/claude-haiku-4-5',
  gemini: 'sim-gemini/gemini-2.5-flash',
  ollama: 'sim-ollama/llama3.2',
  bedrock: 'sim-bedrock/claude-haiku-4-5',
  vertex: 'sim-vertex/gemini-2.5-flash',
};

/** The out-of-the-box config's simulator URLs for simulators a test started itself (the Vertex key file included). */
async function urlsOf(sims: Sims): Promise<{ urls: SimulatorUrls; cleanup: () => Promise<void> }> {
  const urls = Object.fromEntries(SIM_PROTOCOLS.filter((p) => sims[p]).map((p) => [p, sims[p].url])) as unknown as SimulatorUrls;
  if (!sims.vertex) return { urls, cleanup: async () => {} };
  const keyFile = join(tmpdir(), `switchboard-test-vertex-${process.pid}-${sims.vertex.port}.json`);
  await saveServiceAccount(sims.vertex.url, keyFile);
  return { urls: { ...urls, vertexKeyFile: keyFile }, cleanup: () => rm(keyFile, { force: true }) };
}

export function startStack(opts?: EditConfig | StackOptions): Promise<Stack>;
export function startStack(opts: ServiceStackOptions): Promise<ServiceStack>;
export async function startStack(arg: EditConfig | StackOptions | ServiceStackOptions = {}): Promise<Stack | ServiceStack> {
  const opts = typeof arg === 'function' ? { edit: arg } : arg;
  let sims: Sims;
  let urls: SimulatorUrls;
  let closeSims: () => Promise<void>;
  if (opts.sims) {
    sims = opts.sims;
    const own = await urlsOf(sims);
    urls = own.urls;
    closeSims = own.cleanup;
  } else {
    const set = await startSimulators();
    sims = set.sims;
    urls = set.urls;
    closeSims = set.close;
  }
  let input = defaultConfig(urls, {});
  input = opts.edit?.(input) ?? input;
  const config = parseConfig(input, {});

  if (opts.http === false) {
    const clock = opts.clock;
    const gateway = createGateway({
      config,
      registry: await createProviderRegistry(config.providers),
      ...(clock ? { now: clock.now, sleep: clock.sleep } : { sleep: async () => {} }),
    });
    return {
      gateway,
      config,
      sims,
      close: async () => {
        await gateway.close();
        await closeSims();
      },
    };
  }

  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const app = await createApp({
    config,
    env: {},
    listen: { host: '127.0.0.1', port: 0 },
    logger: createLogger({ level: 'debug', destination }),
    // No process metrics (one registry per app), and the ledger flushes when read rather than on a timer.
    observability: { tracer: opts.tracer, ledgerSink: opts.ledgerSink, defaultMetrics: false, flushIntervalMs: 60_000 },
    reload: opts.reload,
  });
  const url = app.server.url;
  const post: Stack['post'] = async (path, body, headers = {}) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    app,
    url,
    sims,
    config,
    logs,
    post,
    async gql(query, variables, key) {
      const r = await post('/graphql', { query, variables }, key ? { authorization: `Bearer ${key}` } : {});
      return r.json;
    },
    close: async () => {
      await app.close(0);
      await closeSims();
    },
  };
}

/** The `data:` payloads of a REST SSE stream, without the final `[DONE]`. */
export function parseSse(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}
