/**
 * The protocol table: every value a provider's `protocol` may take in config, with the facts about it
 * that modules other than its adapter need. The config enum, the provider registry, the telemetry
 * `gen_ai.system` names, the stream continuation style and the default base URLs are all read from
 * here. Adding a wire protocol is a folder under src/providers/ plus one entry here (the registry's
 * exhaustive factory record then asks for its factory); an OpenAI-compatible vendor is one entry with
 * `presetOf: 'openai'` plus its preset in src/providers/openai/presets.ts.
 *
 * Pure data, so that config, telemetry and the gateway can read it without importing adapter code.
 */

/** How a broken stream is continued on another target (see src/gateway/continuation.ts). */
export type ContinuationStyle =
  /** The partial text goes back as a trailing assistant message, which the model continues natively. */
  | 'prefill'
  /** The partial text goes back as an assistant turn followed by a user message asking to continue. */
  | 'instruction';

export interface ProtocolInfo {
  /** Set for an OpenAI-compatible vendor: a preset over the `openai` adapter, not a protocol of its own. */
  readonly presetOf?: 'openai';
  /** The OpenTelemetry semconv `gen_ai.system` value for calls over it. */
  readonly genAiSystem: string;
  readonly continuation: ContinuationStyle;
  /** Used when the provider's config has no `baseUrl`; absent where every deployment has its own host (Azure). */
  readonly defaultBaseUrl?: string;
}

export const PROVIDER_PROTOCOLS = {
  openai: { genAiSystem: 'openai', continuation: 'instruction', defaultBaseUrl: 'https://api.openai.com/v1' },
  // Anthropic continues a trailing assistant message (a "prefill").
  anthropic: { genAiSystem: 'anthropic', continuation: 'prefill', defaultBaseUrl: 'https://api.anthropic.com' },
  gemini: { genAiSystem: 'gcp.gemini', continuation: 'instruction', defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta' },
  ollama: { genAiSystem: 'ollama', continuation: 'instruction', defaultBaseUrl: 'http://127.0.0.1:11434' },
  // Hosts depend on the region (bedrock-runtime.<region>.amazonaws.com) or the location
  // (<location>-aiplatform.googleapis.com): the adapters derive them when config gives no baseUrl.
  // Bedrock's Converse API continues a trailing assistant message for the models that allow it, but not
  // for all (Llama, Cohere), so a broken stream continues by instruction.
  bedrock: { genAiSystem: 'aws.bedrock', continuation: 'instruction' },
  vertex: { genAiSystem: 'gcp.vertex_ai', continuation: 'instruction' },
  // Every Azure resource has its own host (https://<resource>.openai.azure.com): config must give it.
  azure: { presetOf: 'openai', genAiSystem: 'az.ai.openai', continuation: 'instruction' },
  groq: { presetOf: 'openai', genAiSystem: 'groq', continuation: 'instruction', defaultBaseUrl: 'https://api.groq.com/openai/v1' },
  mistral: { presetOf: 'openai', genAiSystem: 'mistral_ai', continuation: 'instruction', defaultBaseUrl: 'https://api.mistral.ai/v1' },
  // DeepSeek serves the same API with or without /v1 (the path is not a model version there).
  deepseek: { presetOf: 'openai', genAiSystem: 'deepseek', continuation: 'instruction', defaultBaseUrl: 'https://api.deepseek.com' },
  together: { presetOf: 'openai', genAiSystem: 'together_ai', continuation: 'instruction', defaultBaseUrl: 'https://api.together.xyz/v1' },
  openrouter: { presetOf: 'openai', genAiSystem: 'openrouter', continuation: 'instruction', defaultBaseUrl: 'https://openrouter.ai/api/v1' },
  vllm: { presetOf: 'openai', genAiSystem: 'vllm', continuation: 'instruction', defaultBaseUrl: 'http://127.0.0.1:8000/v1' },
  // Azure AI Foundry's model inference endpoint (https://<resource>.services.ai.azure.com/models): one host
  // for every model of the resource, the model named in the body.
  'azure-foundry': { presetOf: 'openai', genAiSystem: 'az.ai.inference', continuation: 'instruction' },
  xai: { presetOf: 'openai', genAiSystem: 'xai', continuation: 'instruction', defaultBaseUrl: 'https://api.x.ai/v1' },
  fireworks: { presetOf: 'openai', genAiSystem: 'fireworks', continuation: 'instruction', defaultBaseUrl: 'https://api.fireworks.ai/inference/v1' },
  cerebras: { presetOf: 'openai', genAiSystem: 'cerebras', continuation: 'instruction', defaultBaseUrl: 'https://api.cerebras.ai/v1' },
  perplexity: { presetOf: 'openai', genAiSystem: 'perplexity', continuation: 'instruction', defaultBaseUrl: 'https://api.perplexity.ai' },
  deepinfra: { presetOf: 'openai', genAiSystem: 'deepinfra', continuation: 'instruction', defaultBaseUrl: 'https://api.deepinfra.com/v1/openai' },
  sambanova: { presetOf: 'openai', genAiSystem: 'sambanova', continuation: 'instruction', defaultBaseUrl: 'https://api.sambanova.ai/v1' },
  lmstudio: { presetOf: 'openai', genAiSystem: 'lm_studio', continuation: 'instruction', defaultBaseUrl: 'http://127.0.0.1:1234/v1' },
  llamacpp: { presetOf: 'openai', genAiSystem: 'llama_cpp', continuation: 'instruction', defaultBaseUrl: 'http://127.0.0.1:8080/v1' },
} as const satisfies Record<string, ProtocolInfo>;

type Table = typeof PROVIDER_PROTOCOLS;

/** A value of a provider's `protocol` in config: a wire protocol or an OpenAI-compatible preset. */
export type ProviderProtocol = keyof Table;

/** The protocols with an adapter folder of their own (entries that are not presets). */
export type WireProtocol = { [K in ProviderProtocol]: Table[K] extends { presetOf: string } ? never : K }[ProviderProtocol];

/** The OpenAI-compatible presets. */
export type PresetProtocol = Exclude<ProviderProtocol, WireProtocol>;

/** Every `protocol` config accepts, in table order (for `z.enum`). */
export const PROVIDER_PROTOCOL_NAMES = Object.keys(PROVIDER_PROTOCOLS) as [ProviderProtocol, ...ProviderProtocol[]];

export const WIRE_PROTOCOLS = PROVIDER_PROTOCOL_NAMES.filter((p) => !('presetOf' in PROVIDER_PROTOCOLS[p])) as WireProtocol[];

export const PRESET_PROTOCOLS = PROVIDER_PROTOCOL_NAMES.filter((p) => 'presetOf' in PROVIDER_PROTOCOLS[p]) as PresetProtocol[];

/** The table entry of a protocol name read from anywhere (config, a catalog record); undefined if unknown. */
export function protocolInfo(name: string): ProtocolInfo | undefined {
  return Object.hasOwn(PROVIDER_PROTOCOLS, name) ? PROVIDER_PROTOCOLS[name as ProviderProtocol] : undefined;
}

/** The adapter folder that speaks a protocol: itself, or `openai` for a preset. */
export function wireProtocolOf(name: ProviderProtocol): WireProtocol {
  const info: ProtocolInfo = PROVIDER_PROTOCOLS[name];
  return info.presetOf ?? (name as WireProtocol);
}

/**
 * The protocol's default base URL moved to another origin, keeping its path (`/v1`, `/v1beta`): where
 * a stand-in for the vendor (a simulator, a local proxy) listens.
 */
export function baseUrlAt(origin: string, name: ProviderProtocol): string {
  const info: ProtocolInfo = PROVIDER_PROTOCOLS[name];
  const path = info.defaultBaseUrl === undefined ? '' : new URL(info.defaultBaseUrl).pathname.replace(/\/+$/, '');
  return origin.replace(/\/+$/, '') + path;
}
