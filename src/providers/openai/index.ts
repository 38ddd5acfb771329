import { z } from 'zod';
import type { ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse, StreamPart } from '../../core/index.ts';
import type { AdapterConfig, AdapterDeps, AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { toEmbeddingResponse, toEmbeddingsBody } from './embeddings.ts';
import { httpError, invalidResponse, streamError } from './errors.ts';
import { createHttpClient, header, tryParseJson, type HttpResponse } from './http.ts';
import { OPENAI_DEFAULTS, OPENAI_PRESETS, PRESET_NAMES, type OpenAIPreset, type PresetName } from './presets.ts';
import { toChatBody, type BodyContext } from './request.ts';
import { toChatResponse } from './response.ts';
import { streamChat } from './stream.ts';

export { OPENAI_PRESETS, PRESET_NAMES, type OpenAIPreset, type PresetName } from './presets.ts';

/** config.options for this protocol. */
const OptionsSchema = z.looseObject({
  /** An OpenAI-compatible vendor; the protocol stays `openai`. */
  preset: z.enum(PRESET_NAMES).optional(),
  /** Azure: the api-version query parameter. */
  apiVersion: z.string().min(1).default('2024-10-21'),
  /** Azure: model name → deployment name (default: the model name itself). */
  deployments: z.record(z.string(), z.string()).optional(),
  /** Overrides the preset's choice, e.g. max_completion_tokens on a newer Azure api-version. */
  maxTokensField: z.enum(['max_completion_tokens', 'max_tokens']).optional(),
});

export const createOpenAIAdapter: AdapterFactory = (config: AdapterConfig, deps: AdapterDeps = {}): ProviderAdapter => {
  const parsedOptions = OptionsSchema.safeParse(config.options ?? {});
  if (!parsedOptions.success) {
    throw new Error(`provider ${config.id}: invalid openai options: ${parsedOptions.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const options = parsedOptions.data;
  const presetName: PresetName | undefined = options.preset;
  const preset: OpenAIPreset = presetName ? OPENAI_PRESETS[presetName] : OPENAI_DEFAULTS;
  const baseUrl = (config.baseUrl || preset.baseUrl).replace(/\/+$/, '');
  if (!baseUrl) throw new Error(`provider ${config.id}: baseUrl is required for the ${presetName ?? 'openai'} preset`);

  const provider = config.id;
  const http = createHttpClient({
    baseUrl,
    provider,
    timeouts: config.timeouts,
    headers: config.headers,
    maxConnections: config.maxConnections,
    dispatcher: deps.dispatcher,
  });
  const ctx: BodyContext = {
    provider,
    preset,
    presetName,
    maxTokensField: options.maxTokensField ?? preset.maxTokensField,
  };

  function authHeaders(): Record<string, string> {
    if (!config.apiKey) return {};
    return preset.auth === 'api-key' ? { 'api-key': config.apiKey } : { authorization: `Bearer ${config.apiKey}` };
  }

  /** `/chat/completions` or `/embeddings`; Azure addresses a deployment and pins an api-version. */
  function pathFor(endpoint: 'chat/completions' | 'embeddings', model: string): string {
    if (!preset.azureDeployments) return `/${endpoint}`;
    const deployment = options.deployments?.[model] ?? model;
    return `/openai/deployments/${encodeURIComponent(deployment)}/${endpoint}?api-version=${encodeURIComponent(options.apiVersion)}`;
  }

  function send(path: string, json: unknown, opts: CallOptions): Promise<HttpResponse> {
    return http.request({
      path,
      json,
      // Per-call headers may add tracing ids, but never replace the credentials.
      headers: { ...opts.headers, ...authHeaders() },
      signal: opts.signal,
      timeouts: opts.timeouts,
    });
  }

  /** Reads a non-streaming reply: an error status → GatewayError, else the parsed JSON body. */
  async function readJson(res: HttpResponse): Promise<unknown> {
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw httpError(provider, res, text);
    const json = tryParseJson(text);
    if (json === undefined) throw invalidResponse(provider, 'response body is not JSON');
    // Some compatible servers answer 200 with an error envelope instead of a status.
    if (typeof json === 'object' && json !== null && 'error' in json && json.error != null && !('choices' in json) && !('data' in json)) {
      throw streamError(provider, json);
    }
    return json;
  }

  const adapter: ProviderAdapter = {
    id: provider,
    protocol: 'openai',
    baseUrl,

    async generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const body = toChatBody(req, opts, ctx, false);
      const res = await send(pathFor('chat/completions', opts.model), body, opts);
      const json = await readJson(res);
      return toChatResponse(provider, json, { model: opts.model, requestId: header(res.headers, 'x-request-id') });
    },

    stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart> {
      return streamChat(provider, http, opts.model, async () => {
        const body = toChatBody(req, opts, ctx, true);
        return send(pathFor('chat/completions', opts.model), body, opts);
      });
    },

    async close(): Promise<void> {
      await http.close();
    },
  };

  if (!preset.unsupported.includes('embeddings')) {
    adapter.embed = async (req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> => {
      const body = toEmbeddingsBody(req, opts, ctx);
      const res = await send(pathFor('embeddings', opts.model), body, opts);
      return toEmbeddingResponse(provider, await readJson(res), req.input.length, opts.model);
    };
  }
  return adapter;
};

/** A factory for one OpenAI-compatible vendor: the openai adapter with `options.preset` fixed. */
export function createOpenAICompatibleAdapter(presetName: PresetName): AdapterFactory {
  return (config, deps) => createOpenAIAdapter({ ...config, options: { ...config.options, preset: presetName } }, deps);
}
