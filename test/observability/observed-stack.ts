import { Writable } from 'node:stream';
import type { Tracer } from '@opentelemetry/api';
import { createApp, type App } from '../../src/app.ts';
import { defaultConfig, parseConfig, type Config, type ConfigInput } from '../../src/config/index.ts';
import { SIM_PROTOCOLS, type SimProtocol } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import type { LedgerSink } from '../../src/usage/ledger-sink.ts';

export interface ObservedStack {
  app: App;
  url: string;
  sims: Record<SimProtocol, Simulator>;
  config: Config;
  logs: string[];
  /** POST a JSON body; returns status, headers and the parsed body (or the raw text of a stream). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; json: any; text: string }>;
  gql(query: string, variables?: Record<string, unknown>, key?: string): Promise<{ data?: any; errors?: any[] }>;
  close(): Promise<void>;
}

export interface ObservedStackOptions {
  tracer?: Tracer;
  ledgerSink?: LedgerSink;
  edit?: (c: ConfigInput) => ConfigInput | void;
  /** Simulators to reuse (a second instance over the same upstreams). */
  sims?: Record<SimProtocol, Simulator>;
}

/** The out-of-the-box stack (simulators + app on port 0) with observability options for tests. */
export async function startObservedStack(opts: ObservedStackOptions = {}): Promise<ObservedStack> {
  const ownSims = !opts.sims;
  const sims = opts.sims ?? ({} as Record<SimProtocol, Simulator>);
  if (ownSims) for (const p of SIM_PROTOCOLS) sims[p] = await startSimulator({ protocol: p, port: 0 });
  const urls = Object.fromEntries(SIM_PROTOCOLS.map((p) => [p, sims[p].url])) as Record<SimProtocol, string>;
  let input = defaultConfig(urls, {});
  input = opts.edit?.(input) ?? input;
  const config = parseConfig(input, {});
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
    logger: createLogger({ level: 'info', destination }),
    observability: { tracer: opts.tracer, ledgerSink: opts.ledgerSink, defaultMetrics: false, flushIntervalMs: 60_000 },
  });
  const url = app.server.url;
  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  }
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
    async close() {
      await app.close(0);
      if (ownSims) await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}

/** The reply texts and usage of a REST SSE stream. */
export function parseSse(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}
