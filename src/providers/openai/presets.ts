import { PRESET_PROTOCOLS, type PresetProtocol } from '../../core/protocols.ts';

/**
 * OpenAI-compatible vendors, as presets over the one `openai` adapter. Each entry records only the
 * differences that change what we put on the wire; where a vendor's documentation does not list a
 * request field we use, we fail closed with unsupported_feature rather than send it and hope.
 */

/** A ChatRequest feature a vendor may be unable to take. */
export type PresetFeature = 'seed' | 'json_schema' | 'embeddings' | 'tools' | 'images' | 'reasoning_effort';

export interface OpenAIPreset {
  /** `bearer`: `Authorization: Bearer <key>`; `api-key`: Azure's `api-key: <key>`. */
  auth: 'bearer' | 'api-key';
  /** Where ChatRequest.maxOutputTokens goes. */
  maxTokensField: 'max_completion_tokens' | 'max_tokens';
  /** Whether `stream_options: {include_usage: true}` may be sent (otherwise usage comes, if at all, unasked). */
  streamOptions: boolean;
  /** Request features the vendor cannot take: a request using one fails with unsupported_feature. */
  unsupported: readonly PresetFeature[];
  /** Most stop sequences the vendor accepts, when it documents a limit. */
  maxStopSequences?: number | undefined;
  /** Vendor's name for ChatRequest.seed when it is not `seed`. */
  seedField?: string | undefined;
  /** Vendor's name for EmbeddingRequest.dimensions when it is not `dimensions`. */
  dimensionsField?: string | undefined;
  /** Azure routes by deployment in the path and versions by query string. */
  azureDeployments?: boolean | undefined;
  /** The `api-version` query parameter the vendor requires (Azure's), unless `options.apiVersion` names another. */
  apiVersion?: string | undefined;
  /**
   * Whether ChatRequest.promptCacheKey goes out as `prompt_cache_key`. Elsewhere it is left out: like a cache
   * breakpoint it is a hint, and the vendors that do not document it cache (if at all) without one.
   */
  promptCacheKey?: boolean | undefined;
}

/** OpenAI itself (no preset). */
export const OPENAI_DEFAULTS: OpenAIPreset = {
  auth: 'bearer',
  // max_tokens is deprecated and rejected by reasoning models (reference §4, unsupported_parameter).
  maxTokensField: 'max_completion_tokens',
  streamOptions: true,
  unsupported: [],
  maxStopSequences: 4,
  promptCacheKey: true,
};

/** The protocol table's presets (src/core/protocols.ts), where their default base URLs live too. */
export const PRESET_NAMES = PRESET_PROTOCOLS as [PresetProtocol, ...PresetProtocol[]];
export type PresetName = PresetProtocol;

export const OPENAI_PRESETS: Record<PresetName, OpenAIPreset> = {
  azure: {
    auth: 'api-key',
    // The default api-version 2024-10-21 (GA) lists max_tokens but not max_completion_tokens;
    // set options.maxTokensField for newer api-versions and reasoning deployments.
    maxTokensField: 'max_tokens',
    // 2024-10-21 defines chatCompletionStreamOptions.include_usage.
    streamOptions: true,
    unsupported: [],
    maxStopSequences: 4,
    azureDeployments: true,
    apiVersion: '2024-10-21',
  },
  'azure-foundry': {
    // The model inference API takes `api-key` (or an Entra ID bearer token, config `credentials`).
    auth: 'api-key',
    maxTokensField: 'max_tokens',
    // 2024-05-01-preview defines no stream_options; usage arrives on the last chunk.
    streamOptions: false,
    unsupported: [],
    apiVersion: '2024-05-01-preview',
  },
  groq: {
    auth: 'bearer',
    // Groq documents max_completion_tokens and marks max_tokens deprecated.
    maxTokensField: 'max_completion_tokens',
    streamOptions: true,
    // Groq has no embeddings endpoint.
    unsupported: ['embeddings'],
    maxStopSequences: 4,
  },
  mistral: {
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    // Mistral validates bodies strictly (422 "Extra inputs are not permitted"); stream_options is not
    // in its schema, and it sends usage on the last chunk unasked.
    streamOptions: false,
    unsupported: [],
    // Mistral's sampling seed is `random_seed`; `seed` would be rejected as an extra input.
    seedField: 'random_seed',
    // Mistral's embeddings take `output_dimension`.
    dimensionsField: 'output_dimension',
  },
  deepseek: {
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    streamOptions: true,
    // DeepSeek's API documents no `seed`, response_format only text/json_object, and no embeddings.
    unsupported: ['seed', 'json_schema', 'embeddings'],
    maxStopSequences: 16,
  },
  together: {
    auth: 'bearer',
    // Together documents max_tokens; max_completion_tokens is not in its reference.
    maxTokensField: 'max_tokens',
    // Not in Together's documented parameters; it sends usage on the final chunk without being asked.
    streamOptions: false,
    unsupported: [],
  },
  openrouter: {
    auth: 'bearer',
    // OpenRouter normalizes on max_tokens across its upstreams.
    maxTokensField: 'max_tokens',
    streamOptions: true,
    unsupported: [],
  },
  vllm: {
    // vLLM only checks a key when started with --api-key; with no key configured no header is sent.
    auth: 'bearer',
    // max_tokens works on every vLLM version; max_completion_tokens only on newer ones.
    maxTokensField: 'max_tokens',
    streamOptions: true,
    unsupported: [],
  },
  xai: {
    auth: 'bearer',
    // xAI's reference lists max_tokens for chat completions; reasoning models also take max_completion_tokens.
    maxTokensField: 'max_tokens',
    streamOptions: true,
    // xAI retired its embeddings endpoint; reasoning_effort is taken by the grok-3-mini family only and
    // rejected by the others, so it is sent as the request gives it.
    unsupported: ['embeddings'],
  },
  fireworks: {
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    // Fireworks puts usage on the last chunk without being asked and does not document stream_options.
    streamOptions: false,
    // No sampling seed in Fireworks' chat reference.
    unsupported: ['seed'],
  },
  cerebras: {
    auth: 'bearer',
    maxTokensField: 'max_completion_tokens',
    // Cerebras sends usage (and time_info) on the last chunk unasked; stream_options is not in its schema.
    streamOptions: false,
    // No embeddings and no image input on Cerebras' inference API.
    unsupported: ['embeddings', 'images'],
    maxStopSequences: 4,
  },
  perplexity: {
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    // Sonar streams carry usage on every chunk; stream_options is not a Sonar parameter.
    streamOptions: false,
    // Sonar has no function calling, no seed and no embeddings endpoint.
    unsupported: ['tools', 'seed', 'embeddings'],
  },
  deepinfra: {
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    streamOptions: true,
    unsupported: [],
    maxStopSequences: 16,
  },
  sambanova: {
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    streamOptions: true,
    // SambaNova Cloud's chat reference has no seed.
    unsupported: ['seed'],
    maxStopSequences: 4,
  },
  lmstudio: {
    // LM Studio ignores the key; one is sent only when configured.
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    streamOptions: true,
    unsupported: [],
  },
  llamacpp: {
    // llama-server checks a key only when started with --api-key.
    auth: 'bearer',
    maxTokensField: 'max_tokens',
    // llama-server puts usage (and timings) on the last chunk whether asked or not.
    streamOptions: false,
    unsupported: [],
  },
};
