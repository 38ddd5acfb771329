import { assertSupported, type ChatRequest, type ChatResponse, type StreamPart } from '../../core/index.ts';
import { header } from '../shared/http-client.ts';
import { postJson } from '../shared/post-json.ts';
import { createProviderCall, type WireRequest } from '../shared/provider-call.ts';
import { streamEvents } from '../shared/stream-events.ts';
import type { AdapterFactory, CallOptions, ProviderAdapter } from '../spec.ts';
import { errorMapper } from './errors.ts';
import { buildMessagesBody } from './request.ts';
import { toChatResponse } from './response.ts';
import { messageStreamSpec } from './stream.ts';
import { MessageWire } from './wire.ts';

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
  const beta = betaHeader(config.options?.beta);
  // They win over per-call headers (tracing ids): those cannot replace the credentials or the version.
  const protocolHeaders: Record<string, string> = {
    ...(config.apiKey && { 'x-api-key': config.apiKey }),
    'anthropic-version': versionOption(config.options?.version),
    ...(beta !== undefined && { 'anthropic-beta': beta }),
  };
  const streamHeaders = { ...protocolHeaders, accept: 'text/event-stream' };
  const call = createProviderCall(config, deps, errorMapper(id));

  const messagesRequest = (req: ChatRequest, opts: CallOptions, stream: boolean): WireRequest => ({
    path: MESSAGES_PATH,
    body: () => {
      assertSupported(req, opts.capabilities, id);
      return buildMessagesBody(req, opts, id, stream);
    },
    headers: stream ? streamHeaders : protocolHeaders,
    opts,
  });

  const adapter: ProviderAdapter = {
    id,
    protocol: 'anthropic',
    baseUrl: config.baseUrl,

    async generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const { data, headers } = await postJson(call, messagesRequest(req, opts, false), MessageWire, 'response shape');
      return toChatResponse(data, header(headers, 'request-id'));
    },

    stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamPart> {
      return streamEvents(call, messagesRequest(req, opts, true), messageStreamSpec(id));
    },

    close: () => call.http.close(),
  };
  return adapter;
};
