/**
 * The gateway service over the real provider adapters and the four simulators on loopback, with an
 * injected fake clock for the router (breakers, retry-after, latency windows) while HTTP stays real.
 */
import { defaultConfig, parseConfig, type ConfigInput } from '../../src/config/index.ts';
import type { CompletionEvent, GatewayRequest } from '../../src/gateway/completion.ts';
import { createGateway, type Gateway } from '../../src/gateway/gateway-service.ts';
import { createProviderRegistry } from '../../src/providers/registry.ts';
import { SIM_PROTOCOLS, type SimProtocol } from '../../src/simulator/protocol.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';

export interface RouterStack {
  gateway: Gateway;
  sims: Record<SimProtocol, Simulator>;
  clock: FakeClock;
  close(): Promise<void>;
}

export async function startRouterStack(edit?: (c: ConfigInput) => void): Promise<RouterStack> {
  const sims = {} as Record<SimProtocol, Simulator>;
  for (const p of SIM_PROTOCOLS) sims[p] = await startSimulator({ protocol: p, port: 0 });
  const input = defaultConfig(
    { openai: sims.openai.url, anthropic: sims.anthropic.url, gemini: sims.gemini.url, ollama: sims.ollama.url },
    {},
  );
  edit?.(input);
  const config = parseConfig(input, {});
  const clock = createFakeClock(1_000_000);
  const gateway = createGateway({ config, registry: createProviderRegistry(config.providers), now: clock.now, sleep: clock.sleep });
  return {
    gateway,
    sims,
    clock,
    close: async () => {
      await gateway.close();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}

export const ask = (content = 'Tell me about routing', extra: Partial<GatewayRequest> = {}): GatewayRequest => ({
  chat: { messages: [{ role: 'user', content }] },
  ...extra,
});

export async function collect(events: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

export const textOf = (events: CompletionEvent[]) => events.map((e) => (e.type === 'text-delta' ? e.text : '')).join('');
