import { assertSupported, GatewayError, hasCapability, type ChatRequest, type ChatResponse, type EmbeddingRequest, type EmbeddingResponse, type StreamPart } from '../../core/index.ts';
import { postJson } from '../shared/post-json.ts';
import { createProviderCall, type WireRequest } from '../shared/provider-call.ts';
import { streamEvents } from '../shared/stream-events.ts';
import type { AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { errorMapper } from './errors.ts';
import { toChatBody, toEmbedBody } from './request.ts';
import { toChatResponse, toEmbeddingResponse } from './response.ts';
import { chatStreamSpec } from './stream.ts';
import { OllamaChatChunkSchema, OllamaEmbedResponseSchema } from './wire.ts';

/**
 * Ollama's native API. The base URL is the server (`http://127.0.0.1:11434`); a local server needs no
 * auth, but one behind a proxy or ollama.com's cloud API takes a bearer key, sent when configured.
 */
export const createOllamaAdapter: AdapterFactory = (config, deps = {}) => {
  const provider = config.id;
  const call = createProviderCall(config, deps, errorMapper(provider));
  // Wins over per-call headers (tracing ids), which cannot replace the credentials.
  const authHeaders: Record<string, string> = config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};

  const chatRequest = (req: ChatRequest, opts: CallOptions, stream: boolean): WireRequest => ({
    path: '/api/chat',
    body: () => {
      assertSupported(req, opts.capabilities, provider);
      return toChatBody(req, opts.model, stream, provider);
    },
    headers: authHeaders,
    opts,
  });

  async function generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
    const { data } = await postJson(call, chatRequest(req, opts, false), OllamaChatChunkSchema, 'chat reply');
    return toChatResponse(data, opts.model, provider);
  }

  function stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart> {
    return streamEvents(call, chatRequest(req, opts, true), chatStreamSpec(opts.model));
  }

  async function embed(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
    if (!hasCapability(opts.capabilities, 'embeddings')) {
      throw new GatewayError('unsupported_feature', `${provider} does not support embeddings for ${opts.model}`, {
        provider,
        param: 'embeddings',
      });
    }
    const { data } = await postJson(
      call,
      { path: '/api/embed', body: () => toEmbedBody(req, opts.model), headers: authHeaders, opts },
      OllamaEmbedResponseSchema,
      'embed reply',
    );
    return toEmbeddingResponse(data, req, opts.model, provider);
  }

  const adapter: ProviderAdapter = {
    id: provider,
    protocol: 'ollama',
    baseUrl: config.baseUrl,
    generate,
    stream,
    embed,
    close: () => call.http.close(),
  };
  return adapter;
};
