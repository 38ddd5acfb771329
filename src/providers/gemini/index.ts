import {
  assertSupported,
  GatewayError,
  type ChatRequest,
  type ChatResponse,
  type EmbeddingRequest,
  type EmbeddingResponse,
  type StreamPart,
} from '../../core/index.ts';
import type { AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { createHttpClient, header, type HttpResponse } from '../shared/http-client.ts';
import { tryParseJson } from '../shared/http-errors.ts';
import { httpError, streamChunkError } from './errors.ts';
import { toGeminiRequest } from './request.ts';
import { toChatResponse } from './response.ts';
import { geminiStream } from './stream.ts';
import { BatchEmbedContentsResponseSchema, ErrorEnvelopeSchema, GenerateContentResponseSchema } from './wire.ts';

/**
 * Gemini Developer API adapter. `baseUrl` includes the API version
 * (https://generativelanguage.googleapis.com/v1beta); paths are `/models/{model}:{method}`.
 */
export const createGeminiAdapter: AdapterFactory = (config, deps = {}): ProviderAdapter => {
  const provider = config.id;
  const client = createHttpClient({
    baseUrl: config.baseUrl,
    provider,
    timeouts: config.timeouts,
    headers: config.headers,
    maxConnections: config.maxConnections,
    dispatcher: deps.dispatcher,
  });

  const headersFor = (opts: CallOptions): Record<string, string> => ({
    ...opts.headers,
    ...(config.apiKey !== undefined && { 'x-goog-api-key': config.apiKey }),
  });

  /** Resource name of the model: a bare id lives under `models/`; `models/x` and `tunedModels/x` are kept. */
  const modelName = (model: string): string =>
    /^(models|tunedModels)\//.test(model) ? model : `models/${model}`;
  const pathFor = (model: string, method: string): string =>
    '/' + modelName(model).split('/').map(encodeURIComponent).join('/') + `:${method}`;

  function prepare(req: ChatRequest, opts: CallOptions): Record<string, unknown> {
    assertSupported(req, opts.capabilities, provider);
    return toGeminiRequest(provider, req);
  }

  /** The body of a 200 response as JSON, or the invalid_response it is instead. */
  async function readJson(res: HttpResponse): Promise<unknown> {
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw httpError(provider, res, text);
    const json = tryParseJson(text);
    if (json === undefined) throw new GatewayError('invalid_response', `${provider}: response body is not JSON`, { provider, status: res.status });
    if (json !== null && typeof json === 'object' && 'error' in json) {
      const env = ErrorEnvelopeSchema.safeParse(json);
      if (env.success) throw streamChunkError(provider, env.data);
    }
    return json;
  }

  async function generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
    const body = prepare(req, opts);
    const res = await client.request({
      path: pathFor(opts.model, 'generateContent'),
      json: body,
      headers: headersFor(opts),
      signal: opts.signal,
      timeouts: opts.timeouts,
    });
    const parsed = GenerateContentResponseSchema.safeParse(await readJson(res));
    if (!parsed.success) {
      throw new GatewayError('invalid_response', `${provider}: response does not match GenerateContentResponse`, {
        provider,
        status: res.status,
        cause: parsed.error,
      });
    }
    return toChatResponse(provider, parsed.data, opts.model, header(res.headers, 'x-goog-request-id'));
  }

  async function* stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamPart> {
    let body: Record<string, unknown>;
    try {
      body = prepare(req, opts);
    } catch (err) {
      yield { type: 'error', error: err instanceof GatewayError ? err : new GatewayError('internal', String(err), { provider }) };
      return;
    }
    yield* geminiStream(
      client,
      provider,
      {
        path: pathFor(opts.model, 'streamGenerateContent') + '?alt=sse',
        json: body,
        headers: headersFor(opts),
        signal: opts.signal,
        timeouts: opts.timeouts,
      },
      opts,
    );
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
    const res = await client.request({
      path: pathFor(opts.model, 'batchEmbedContents'),
      json: {
        requests: req.input.map((text) => ({
          model,
          content: { parts: [{ text }] },
          ...(req.dimensions !== undefined && { outputDimensionality: req.dimensions }),
          ...extra,
        })),
      },
      headers: headersFor(opts),
      signal: opts.signal,
      timeouts: opts.timeouts,
    });
    const parsed = BatchEmbedContentsResponseSchema.safeParse(await readJson(res));
    if (!parsed.success || parsed.data.embeddings.length !== req.input.length) {
      throw new GatewayError('invalid_response', `${provider}: batchEmbedContents returned no embedding per input`, {
        provider,
        status: res.status,
      });
    }
    return {
      // The batch answers in request order, so position i is input i.
      embeddings: parsed.data.embeddings.map((e) => e.values),
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
    close: () => client.close(),
  };
};
