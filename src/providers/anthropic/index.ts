import { assertSupported, isGatewayError, toGatewayError, type ChatRequest, type ChatResponse, type StreamPart } from '../../core/index.ts';
import type { AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { createHttpClient, header } from '../shared/http-client.ts';
import { httpError } from './errors.ts';
import { buildMessagesBody } from './request.ts';
import { parseMessage } from './response.ts';
import { streamMessages } from './stream.ts';

const MESSAGES_PATH = '/v1/messages';
/** The version the official SDK pins; config.options.version overrides it. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

function betaHeader(beta: unknown): string | undefined {
  if (beta === undefined || beta === null) return undefined;
  if (typeof beta === 'string') return beta || undefined;
  if (Array.isArray(beta) && beta.every((b) => typeof b === 'string')) return beta.length ? beta.join(',') : undefined;
  throw new TypeError('anthropic options.beta must be a string or an array of strings');
}

function versionOption(version: unknown): string {
  if (version === undefined) return DEFAULT_ANTHROPIC_VERSION;
  if (typeof version === 'string' && version) return version;
  throw new TypeError('anthropic options.version must be a non-empty string');
}

/**
 * Anthropic Messages (`POST /v1/messages`). config.baseUrl is the host (https://api.anthropic.com);
 * options: `version` (anthropic-version header), `beta` (anthropic-beta, string or list).
 * There is no embeddings endpoint, so `embed` stays undefined.
 */
export const createAnthropicAdapter: AdapterFactory = (config, deps = {}) => {
  const id = config.id;
  const http = createHttpClient({
    baseUrl: config.baseUrl,
    provider: id,
    timeouts: config.timeouts,
    headers: config.headers,
    maxConnections: config.maxConnections,
    dispatcher: deps.dispatcher,
  });
  const beta = betaHeader(config.options?.beta);
  const protocolHeaders: Record<string, string> = {
    ...(config.apiKey && { 'x-api-key': config.apiKey }),
    'anthropic-version': versionOption(config.options?.version),
    ...(beta !== undefined && { 'anthropic-beta': beta }),
  };

  // Per-call headers (tracing ids) go along, but cannot replace the credentials or the protocol version.
  const headersFor = (opts: CallOptions, stream: boolean): Record<string, string> => ({
    ...opts.headers,
    ...protocolHeaders,
    ...(stream && { accept: 'text/event-stream' }),
  });

  function prepare(req: ChatRequest, opts: CallOptions, stream: boolean): Record<string, unknown> {
    try {
      assertSupported(req, opts.capabilities, id);
      return buildMessagesBody(req, opts, id, stream);
    } catch (err) {
      throw isGatewayError(err) && err.provider === undefined ? err.with({ provider: id }) : err;
    }
  }

  const adapter: ProviderAdapter = {
    id,
    protocol: 'anthropic',
    baseUrl: config.baseUrl,

    async generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const body = prepare(req, opts, false);
      const res = await http.request({
        path: MESSAGES_PATH,
        headers: headersFor(opts, false),
        json: body,
        signal: opts.signal,
        timeouts: opts.timeouts,
      });
      const text = await res.text();
      if (res.status < 200 || res.status >= 300) throw httpError(id, res, text);
      return parseMessage(id, text, header(res.headers, 'request-id'));
    },

    async *stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart> {
      let body: Record<string, unknown>;
      try {
        body = prepare(req, opts, true);
      } catch (err) {
        yield { type: 'error', error: toGatewayError(err, id) };
        return;
      }
      yield* streamMessages({ http, provider: id, path: MESSAGES_PATH, headers: headersFor(opts, true), body, opts });
    },

    close: () => http.close(),
  };
  return adapter;
};
