import {
  assertSupported,
  GatewayError,
  type ChatRequest,
  type ChatResponse,
  type EmbeddingRequest,
  type EmbeddingResponse,
  type StreamPart,
} from '../../core/index.ts';
import { header } from '../shared/http-client.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import { postJson } from '../shared/post-json.ts';
import { createProviderCall, type WireRequest } from '../shared/provider-call.ts';
import { streamEvents } from '../shared/stream-events.ts';
import type { AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { errorMapper } from './errors.ts';
import { toGeminiRequest } from './request.ts';
import { toChatResponse } from './response.ts';
import { geminiStreamSpec } from './stream.ts';
import { BatchEmbedContentsResponseSchema, GenerateContentResponseSchema } from './wire.ts';

/**
 * Gemini Developer API adapter. `baseUrl` includes the API version
 * (https://generativelanguage.googleapis.com/v1beta); paths are `/models/{model}:{method}`.
 */
export const createGeminiAdapter: AdapterFactory = (config, deps = {}): ProviderAdapter => {
  const provider = config.id;
  const call = createProviderCall(config, deps, errorMapper(provider));
  const keyHeader: Record<string, string> = config.apiKey !== undefined ? { 'x-goog-api-key': config.apiKey } : {};

  /** Resource name of the model: a bare id lives under `models/`; `models/x` and `tunedModels/x` are kept. */
  const modelName = (model: string): string =>
    /^(models|tunedModels)\//.test(model) ? model : `models/${model}`;
  const pathFor = (model: string, method: string): string =>
    '/' + modelName(model).split('/').map(encodeURIComponent).join('/') + `:${method}`;

  const chatRequest = (req: ChatRequest, opts: CallOptions, method: string): WireRequest => ({
    path: pathFor(opts.model, method),
    body: () => {
      assertSupported(req, opts.capabilities, provider);
      return toGeminiRequest(provider, req);
    },
    headers: keyHeader,
    opts,
  });

  async function generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
    const { data, headers } = await postJson(call, chatRequest(req, opts, 'generateContent'), GenerateContentResponseSchema, 'GenerateContentResponse');
    return toChatResponse(provider, data, opts.model, header(headers, 'x-goog-request-id'));
  }

  function stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart> {
    return streamEvents(call, chatRequest(req, opts, 'streamGenerateContent?alt=sse'), geminiStreamSpec(opts.model));
  }

  async function embed(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
    if (!opts.capabilities.includes('embeddings')) {
      throw new GatewayError('unsupported_feature', `${provider}: ${opts.model} does not support embeddings`, {
        provider,
        param: 'embeddings',
      });
    }
    const model = modelName(opts.model);
    // Gemini's per-input fields (taskType, title, …) live on each request of the batch, so that is
    // where providerOptions.gemini goes; the batch body itself has nothing but `requests`.
    const extra = req.providerOptions?.gemini ?? {};
    const body = {
      requests: req.input.map((text) => ({
        model,
        content: { parts: [{ text }] },
        ...(req.dimensions !== undefined && { outputDimensionality: req.dimensions }),
        ...extra,
      })),
    };
    const { data } = await postJson(
      call,
      { path: pathFor(opts.model, 'batchEmbedContents'), body: () => body, headers: keyHeader, opts },
      BatchEmbedContentsResponseSchema,
      'batchEmbedContents reply',
    );
    if (data.embeddings.length !== req.input.length) {
      throw invalidResponse(provider, `batchEmbedContents returned ${data.embeddings.length} embeddings for ${req.input.length} inputs`);
    }
    return {
      // The batch answers in request order, so position i is input i.
      embeddings: data.embeddings.map((e) => e.values),
      model: opts.model,
      // Gemini reports no token usage for embeddings: ~4 characters a token, flagged as our estimate.
      usage: { inputTokens: req.input.reduce((n, s) => n + Math.ceil(s.length / 4), 0), estimated: true },
    };
  }

  return {
    id: provider,
    protocol: 'gemini',
    baseUrl: config.baseUrl,
    generate,
    stream,
    embed,
    close: () => call.http.close(),
  };
};
