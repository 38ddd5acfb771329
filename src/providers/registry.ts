import type { ProviderConfig } from '../config/index.ts';
import { GatewayError } from '../core/index.ts';
import { createRedactor } from '../core/redact-secrets.ts';
import { createAnthropicAdapter } from './anthropic/index.ts';
import { createGeminiAdapter } from './gemini/index.ts';
import { createOllamaAdapter } from './ollama/index.ts';
import { createOpenAIAdapter } from './openai/index.ts';
import { credentialValues, withRedaction } from './shared/redacting-adapter.ts';
import type { AdapterConfig, AdapterDeps, AdapterFactory, ProviderAdapter } from './spec.ts';

/** The only module that imports concrete provider folders: config `protocol` → adapter factory. */
const FACTORIES: Record<ProviderConfig['protocol'], { factory: AdapterFactory; baseUrl?: string; preset?: string }> = {
  openai: { factory: createOpenAIAdapter, baseUrl: 'https://api.openai.com/v1' },
  anthropic: { factory: createAnthropicAdapter, baseUrl: 'https://api.anthropic.com' },
  gemini: { factory: createGeminiAdapter, baseUrl: 'https://generativelanguage.googleapis.com/v1beta' },
  ollama: { factory: createOllamaAdapter, baseUrl: 'http://127.0.0.1:11434' },
  azure: { factory: createOpenAIAdapter, preset: 'azure' },
  groq: { factory: createOpenAIAdapter, preset: 'groq' },
  mistral: { factory: createOpenAIAdapter, preset: 'mistral' },
  deepseek: { factory: createOpenAIAdapter, preset: 'deepseek' },
  together: { factory: createOpenAIAdapter, preset: 'together' },
  openrouter: { factory: createOpenAIAdapter, preset: 'openrouter' },
  vllm: { factory: createOpenAIAdapter, preset: 'vllm' },
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

export function createProviderRegistry(providers: readonly ProviderConfig[], deps: RegistryDeps = {}): ProviderRegistry {
  const { secrets = [], ...adapterDeps } = deps;
  const configs: Array<{ factory: AdapterFactory; config: AdapterConfig }> = providers.map((p) => {
    const entry = FACTORIES[p.protocol];
    const baseUrl = p.baseUrl ?? entry.baseUrl;
    const options = entry.preset ? { preset: entry.preset, ...p.options } : p.options;
    const config: AdapterConfig = {
      id: p.id,
      // Presets know their vendor's URL; the adapter fills it in when baseUrl is empty.
      baseUrl: baseUrl ?? '',
      apiKey: p.apiKey,
      headers: p.headers,
      timeouts: p.timeouts,
      maxConnections: p.maxConnections,
      options,
    };
    return { factory: entry.factory, config };
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
