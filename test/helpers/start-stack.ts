import { Writable } from 'node:stream';
import { createApp, type App } from '../../src/app.ts';
import { defaultConfig, parseConfig, type Config, type ConfigInput } from '../../src/config/index.ts';
import { SIM_PROTOCOLS, type SimProtocol } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

export interface Stack {
  app: App;
  url: string;
  sims: Record<SimProtocol, Simulator>;
  config: Config;
  /** Everything the gateway logged, one JSON line each. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * The out-of-the-box stack on loopback: the four simulators and a gateway (port 0) routing to them.
 * `edit` may change the default config (add keys, routes, timeouts) before it is validated.
 */
export async function startStack(edit?: (c: ConfigInput) => ConfigInput | void): Promise<Stack> {
  const sims = {} as Record<SimProtocol, Simulator>;
  for (const p of SIM_PROTOCOLS) sims[p] = await startSimulator({ protocol: p, port: 0 });
  const urls = Object.fromEntries(SIM_PROTOCOLS.map((p) => [p, sims[p].url])) as Record<SimProtocol, string>;
  let input = defaultConfig(urls, {});
  input = edit?.(input) ?? input;
  const config = parseConfig(input, {});
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const app = await createApp({ config, listen: { host: '127.0.0.1', port: 0 }, logger: createLogger({ level: 'debug', destination }) });
  return {
    app,
    url: app.server.url,
    sims,
    config,
    logs,
    close: async () => {
      await app.close(0);
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}
