import {
  assertSupported,
  GatewayError,
  hasCapability,
  toGatewayError,
  type ChatRequest,
  type ChatResponse,
  type EmbeddingRequest,
  type EmbeddingResponse,
  type StreamPart,
} from '../../core/index.ts';
import { createHttpClient, type HttpResponse } from '../shared/http-client.ts';
import { tryParseJson } from '../shared/http-errors.ts';
import type { AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { describeIssue, invalidResponse, ollamaBodyError, ollamaHttpError } from './errors.ts';
import { toChatBody, toEmbedBody } from './request.ts';
import { toChatResponse, toEmbeddingResponse } from './response.ts';
import { readChatStream } from './stream.ts';
import { OllamaChatChunkSchema, OllamaEmbedResponseSchema, OllamaErrorSchema } from './wire.ts';

/**
 * Ollama's native API. The base URL is the server (`http://127.0.0.1:11434`); a local server needs no
 * auth, but one behind a proxy or ollama.com's cloud API takes a bearer key, sent when configured.
 */
export const createOllamaAdapter: AdapterFactory = (config, deps = {}) => {
  const provider = config.id;
  const client = createHttpClient({
    baseUrl: config.baseUrl,
    provider,
    timeouts: config.timeouts,
    headers: {
      ...config.headers,
      ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    },
    maxConnections: config.maxConnections,
    dispatcher: deps.dispatcher,
  });

  function post(path: string, json: unknown, opts: CallOptions): Promise<HttpResponse> {
    return client.request({
      path,
      method: 'POST',
      json,
      signal: opts.signal,
      timeouts: opts.timeouts,
      ...(opts.headers && { headers: opts.headers }),
    });
  }

  /** A 2xx body as JSON, or the GatewayError it amounts to (error envelope, not JSON). */
  function parseOkBody(text: string): unknown {
    const json = tryParseJson(text);
    if (json === undefined) throw invalidResponse(provider, 'response body is not JSON');
    const failure = OllamaErrorSchema.safeParse(json);
    if (failure.success) throw ollamaBodyError(provider, failure.data.error);
    return json;
  }

  async function generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
    try {
      assertSupported(req, opts.capabilities, provider);
      const res = await post('/api/chat', toChatBody(req, opts.model, false, provider), opts);
      const text = await res.text();
      if (res.status < 200 || res.status >= 300) throw ollamaHttpError(provider, res, text);
      const parsed = OllamaChatChunkSchema.safeParse(parseOkBody(text));
      if (!parsed.success) throw invalidResponse(provider, `chat reply does not match its schema (${describeIssue(parsed.error)})`);
      return toChatResponse(parsed.data, opts.model, provider);
    } catch (err) {
      throw asGatewayError(err, provider);
    }
  }

  async function* stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamPart> {
    let res: HttpResponse;
    try {
      assertSupported(req, opts.capabilities, provider);
      res = await post('/api/chat', toChatBody(req, opts.model, true, provider), opts);
    } catch (err) {
      yield { type: 'error', error: asGatewayError(err, provider) };
      return;
    }
    if (res.status < 200 || res.status >= 300) {
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        yield { type: 'error', error: asGatewayError(err, provider) };
        return;
      }
      yield { type: 'error', error: ollamaHttpError(provider, res, text) };
      return;
    }
    yield* readChatStream(res, { provider, model: opts.model, client });
  }

  async function embed(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
    try {
      if (!hasCapability(opts.capabilities, 'embeddings')) {
        throw new GatewayError('unsupported_feature', `${provider} does not support embeddings for ${opts.model}`, {
          provider,
          param: 'embeddings',
        });
      }
      const res = await post('/api/embed', toEmbedBody(req, opts.model), opts);
      const text = await res.text();
      if (res.status < 200 || res.status >= 300) throw ollamaHttpError(provider, res, text);
      const parsed = OllamaEmbedResponseSchema.safeParse(parseOkBody(text));
      if (!parsed.success) {
        throw invalidResponse(provider, `embed reply does not match its schema (${describeIssue(parsed.error)})`);
      }
      return toEmbeddingResponse(parsed.data, req, opts.model, provider);
    } catch (err) {
      throw asGatewayError(err, provider);
    }
  }

  const adapter: ProviderAdapter = {
    id: provider,
    protocol: 'ollama',
    baseUrl: config.baseUrl,
    generate,
    stream,
    embed,
    close: () => client.close(),
  };
  return adapter;
};

/** assertSupported's errors carry no provider; everything else is already ours or unexpected. */
function asGatewayError(err: unknown, provider: string): GatewayError {
  const e = toGatewayError(err, provider);
  return e.provider === undefined ? e.with({ provider }) : e;
}
