import { z } from 'zod';
import { issueProblems, type ChatRequest, type ChatResponse, type EmbeddingRequest, type EmbeddingResponse, type StreamPart } from '../../core/index.ts';
import { PROVIDER_PROTOCOLS, type ProtocolInfo } from '../../core/protocols.ts';
import { header } from '../shared/http-client.ts';
import { postJson } from '../shared/post-json.ts';
import { createProviderCall, type WireRequest } from '../shared/provider-call.ts';
import { streamEvents } from '../shared/stream-events.ts';
import type { AdapterConfig, AdapterDeps, AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { toEmbeddingResponse, toEmbeddingsBody } from './embeddings.ts';
import { createEntraAuth } from './entra-auth.ts';
import { errorMapper } from './errors.ts';
import { OPENAI_DEFAULTS, OPENAI_PRESETS, PRESET_NAMES, type OpenAIPreset, type PresetName } from './presets.ts';
import { toChatBody, type BodyContext } from './request.ts';
import { toChatResponse } from './response.ts';
import { chatStreamSpec } from './stream.ts';
import { ChatCompletionWire, EmbeddingsWire } from './wire.ts';

export { OPENAI_PRESETS, PRESET_NAMES, type OpenAIPreset, type PresetName } from './presets.ts';

/** config.options for this protocol. */
const OptionsSchema = z.looseObject({
  /** An OpenAI-compatible vendor; the protocol stays `openai`. */
  preset: z.enum(PRESET_NAMES).optional(),
  /** Azure and Azure AI Foundry: the api-version query parameter (default: the preset's). */
  apiVersion: z.string().min(1).optional(),
  /** Azure: model name → deployment name (default: the model name itself). */
  deployments: z.record(z.string(), z.string()).optional(),
  /** Overrides the preset's choice, e.g. max_completion_tokens on a newer Azure api-version. */
  maxTokensField: z.enum(['max_completion_tokens', 'max_tokens']).optional(),
});

export const createOpenAIAdapter: AdapterFactory = (config: AdapterConfig, deps: AdapterDeps = {}): ProviderAdapter => {
  const parsedOptions = OptionsSchema.safeParse(config.options ?? {});
  if (!parsedOptions.success) {
    throw new Error(`provider ${config.id}: invalid openai options: ${issueProblems(parsedOptions.error.issues).map(([field, message]) => `${field}: ${message}`).join('; ')}`);
  }
  const options = parsedOptions.data;
  const presetName: PresetName | undefined = options.preset;
  const preset: OpenAIPreset = presetName ? OPENAI_PRESETS[presetName] : OPENAI_DEFAULTS;
  const protocolEntry: ProtocolInfo = PROVIDER_PROTOCOLS[presetName ?? 'openai'];
  const baseUrl = (config.baseUrl || protocolEntry.defaultBaseUrl || '').replace(/\/+$/, '');
  if (!baseUrl) throw new Error(`provider ${config.id}: baseUrl is required for the ${presetName ?? 'openai'} preset`);

  const provider = config.id;
  // Entra ID (config `credentials: {type: entra}`) replaces the api-key: a bearer token per call.
  const entra = config.credentials?.type === 'entra' ? createEntraAuth(provider, config.credentials, { now: deps.now, tokenSource: deps.entraTokenSource }) : undefined;
  const call = createProviderCall(config, deps, errorMapper(provider), baseUrl, entra);
  const ctx: BodyContext = {
    provider,
    preset,
    presetName,
    maxTokensField: options.maxTokensField ?? preset.maxTokensField,
  };
  // Per-call headers may add tracing ids, but never replace the credentials.
  const authHeaders: Record<string, string> = !config.apiKey || entra
    ? {}
    : preset.auth === 'api-key'
      ? { 'api-key': config.apiKey }
      : { authorization: `Bearer ${config.apiKey}` };

  /** `/chat/completions` or `/embeddings`; Azure addresses a deployment and pins an api-version. */
  function pathFor(endpoint: 'chat/completions' | 'embeddings', model: string): string {
    const apiVersion = options.apiVersion ?? preset.apiVersion;
    const query = apiVersion === undefined ? '' : `?api-version=${encodeURIComponent(apiVersion)}`;
    if (!preset.azureDeployments) return `/${endpoint}${query}`;
    const deployment = options.deployments?.[model] ?? model;
    return `/openai/deployments/${encodeURIComponent(deployment)}/${endpoint}${query}`;
  }

  const chatRequest = (req: ChatRequest, opts: CallOptions, stream: boolean): WireRequest => ({
    path: pathFor('chat/completions', opts.model),
    body: () => toChatBody(req, opts, ctx, stream),
    headers: authHeaders,
    opts,
  });

  const adapter: ProviderAdapter = {
    id: provider,
    protocol: 'openai',
    baseUrl,

    async generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const { data, headers } = await postJson(call, chatRequest(req, opts, false), ChatCompletionWire, 'chat completion body');
      return toChatResponse(provider, data, { model: opts.model, requestId: header(headers, 'x-request-id') });
    },

    stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart> {
      return streamEvents(call, chatRequest(req, opts, true), chatStreamSpec(opts.model));
    },

    close: () => call.http.close(),
  };

  if (!preset.unsupported.includes('embeddings')) {
    adapter.embed = async (req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> => {
      const { data } = await postJson(
        call,
        { path: pathFor('embeddings', opts.model), body: () => toEmbeddingsBody(req, opts, ctx), headers: authHeaders, opts },
        EmbeddingsWire,
        'embeddings body',
      );
      return toEmbeddingResponse(provider, data, req.input.length, opts.model);
    };
  }
  return adapter;
};

/** A factory for one OpenAI-compatible vendor: the openai adapter with `options.preset` fixed. */
export function createOpenAICompatibleAdapter(presetName: PresetName): AdapterFactory {
  return (config, deps) => createOpenAIAdapter({ ...config, options: { ...config.options, preset: presetName } }, deps);
}
