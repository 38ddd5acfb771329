import { defaultConfig, parseConfig, type Config } from '../../src/config/index.ts';
import { createGateway, type Gateway } from '../../src/gateway/gateway-service.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { SIM_PROTOCOLS, type SimProtocol } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

export interface SimGateway {
  gateway: Gateway;
  config: Config;
  sims: Record<SimProtocol, Simulator>;
  close(): Promise<void>;
}

/**
 * The four simulators on loopback and a gateway over them with the out-of-the-box config (no HTTP
 * server: these tests wrap the gateway's own complete/stream). Retry waits are skipped.
 */
export async function startSimGateway(): Promise<SimGateway> {
  const sims = {} as Record<SimProtocol, Simulator>;
  await Promise.all(SIM_PROTOCOLS.map(async (p) => (sims[p] = await startSimulator({ protocol: p, port: 0 }))));
  const urls = Object.fromEntries(SIM_PROTOCOLS.map((p) => [p, sims[p].url])) as Record<SimProtocol, string>;
  const config = parseConfig(defaultConfig(urls, {}), {});
  const gateway = createGateway({ config, registry: createProviderRegistry(config.providers), sleep: async () => {} });
  return {
    gateway,
    config,
    sims,
    close: async () => {
      await gateway.close();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}

/** `provider/model` of the out-of-the-box deployment of each protocol. */
export const SIM_DEPLOYMENTS: Record<SimProtocol, string> = {
  openai: 'sim-openai/gpt-4o-mini',
  anthropic: 'sim-anthropic/claude-haiku-4-5',
  gemini: 'sim-gemini/gemini-2.5-flash',
  ollama: 'sim-ollama/llama3.2',
};
