import type { ProviderConfig } from '../config/index.ts';
import { GatewayError } from '../core/index.ts';
import { PROVIDER_PROTOCOLS, wireProtocolOf, type ProtocolInfo, type WireProtocol } from '../core/protocols.ts';
import { createRedactor } from '../core/redact-secrets.ts';
import { credentialValues, withRedaction } from './shared/redacting-adapter.ts';
import type { AdapterConfig, AdapterDeps, AdapterFactory, ProviderAdapter } from './spec.ts';

/**
 * The only module that imports concrete provider folders: one factory per wire protocol of the
 * protocol table (src/core/protocols.ts). The record is exhaustive, so a table entry without its
 * adapter does not compile. Each folder is imported when a configured provider speaks it, so a gateway
 * holds only the adapters it uses in memory.
 */
const FACTORIES: Record<WireProtocol, () => Promise<AdapterFactory>> = {
  openai: async () => (await import('./openai/index.ts')).createOpenAIAdapter,
  anthropic: async () => (await import('./anthropic/index.ts')).createAnthropicAdapter,
  gemini: async () => (await import('./gemini/index.ts')).createGeminiAdapter,
  ollama: async () => (await import('./ollama/index.ts')).createOllamaAdapter,
  bedrock: async () => (await import('./bedrock/index.ts')).createBedrockAdapter,
  vertex: async () => (await import('./vertex/index.ts')).createVertexAdapter,
};

export interface ProviderRegistry {
  get(id: string): ProviderAdapter;
  has(id: string): boolean;
  all(): ProviderAdapter[];
  close(): Promise<void>;
}

export interface RegistryDeps extends AdapterDeps {
  /** More values to mask in provider errors besides the providers' own credentials (the gateway's API keys). */
  secrets?: readonly string[] | undefined;
}

export async function createProviderRegistry(providers: readonly ProviderConfig[], deps: RegistryDeps = {}): Promise<ProviderRegistry> {
  const { secrets = [], ...adapterDeps } = deps;
  const wanted = [...new Set(providers.map((p) => wireProtocolOf(p.protocol)))];
  const loaded = new Map(await Promise.all(wanted.map(async (w) => [w, await FACTORIES[w]()] as const)));
  const configs: Array<{ factory: AdapterFactory; config: AdapterConfig }> = providers.map((p) => {
    const entry: ProtocolInfo = PROVIDER_PROTOCOLS[p.protocol];
    const options = entry.presetOf ? { preset: p.protocol, ...p.options } : p.options;
    const config: AdapterConfig = {
      id: p.id,
      // Empty where the protocol has no default (Azure): the adapter then refuses to start.
      baseUrl: p.baseUrl ?? entry.defaultBaseUrl ?? '',
      apiKey: p.apiKey,
      headers: p.headers,
      timeouts: p.timeouts,
      maxConnections: p.maxConnections,
      options,
      region: p.region,
      project: p.project,
      location: p.location,
      credentials: p.credentials,
    };
    return { factory: loaded.get(wireProtocolOf(p.protocol))!, config };
  });
  // Every provider's credentials, collected once: an upstream may quote another deployment's key
  // (a shared proxy), so each adapter masks them all.
  const redact = createRedactor([...configs.flatMap((c) => credentialValues(c.config)), ...secrets]);
  const adapters = new Map<string, ProviderAdapter>();
  for (const { factory, config } of configs) adapters.set(config.id, withRedaction(factory(config, adapterDeps), redact));
  return {
    get(id) {
      const a = adapters.get(id);
      if (!a) throw new GatewayError('not_found', `unknown provider "${id}"`);
      return a;
    },
    has: (id) => adapters.has(id),
    all: () => [...adapters.values()],
    close: async () => {
      await Promise.allSettled([...adapters.values()].map((a) => a.close()));
    },
  };
}
