import {
  assertSupported,
  GatewayError,
  type ChatRequest,
  type ChatResponse,
  type EmbeddingRequest,
  type EmbeddingResponse,
  type StreamPart,
} from '../../core/index.ts';
import { createRedactor, type Redactor } from '../../core/redact-secrets.ts';
import { toChatResponse as claudeResponse } from '../anthropic/response.ts';
import { messageStreamSpec } from '../anthropic/stream.ts';
import { MessageWire } from '../anthropic/wire.ts';
import { toChatResponse as geminiResponse } from '../gemini/response.ts';
import { geminiStreamSpec } from '../gemini/stream.ts';
import { GenerateContentResponseSchema } from '../gemini/wire.ts';
import { header } from '../shared/http-client.ts';
import { postJson } from '../shared/post-json.ts';
import { createProviderCall, type ProviderCall, type WireRequest } from '../shared/provider-call.ts';
import { withRedaction } from '../shared/redacting-adapter.ts';
import { streamEvents } from '../shared/stream-events.ts';
import type { AdapterConfig, AdapterDeps, CallOptions, ProviderAdapter } from '../spec.ts';
import { errorMapper } from './errors.ts';
import { createGoogleTokens, type GoogleTokens } from './google-auth.ts';
import { DEFAULT_API_VERSION, DEFAULT_LOCATION, modelPath, publisherOf, publishersOption, stringOption, vertexHost, type ModelLocation, type Publisher } from './paths.ts';
import { claudeBody, geminiBody, predictBody, VERTEX_ANTHROPIC_VERSION } from './request.ts';
import { toEmbeddingResponse } from './response.ts';
import { PredictEmbeddingsResponseSchema, type PredictEmbeddingsResponse } from './wire.ts';

export interface VertexAdapterDeps extends AdapterDeps {
  /** Replaces the google-auth-library tokens (tests: counted loads, a refusing source). */
  tokens?: GoogleTokens | undefined;
}

/** Access tokens of this many most recent loads are masked in errors (an upstream may quote one back). */
const REMEMBERED_TOKENS = 8;
/** gemini-embedding-* takes one text a `:predict`; the text-embedding models up to 250. */
const PREDICT_BATCH = { single: 1, many: 250 };
/** Concurrent `:predict` calls of one embeddings request. */
const PREDICT_CONCURRENCY = 8;

/**
 * Google Vertex AI. One provider serves two publishers from one project and location:
 * - Google's (Gemini): `…/publishers/google/models/{m}:generateContent`, `:streamGenerateContent?alt=sse` with the
 *   Gemini API's bodies (src/providers/gemini), and text embeddings through `:predict`;
 * - Anthropic's (Claude): `…/publishers/anthropic/models/{m}:rawPredict` / `:streamRawPredict` with the Messages
 *   body (src/providers/anthropic) minus `model`, plus `anthropic_version`.
 * A `claude-*` model is Anthropic's, any other Google's; `options.publishers: {model: 'google' | 'anthropic'}` decides
 * for a model named otherwise. Requests carry an OAuth bearer token from `config.credentials` (`type: google`, a
 * `keyFile` and `scopes`) or application default credentials; a 401 drops the token and the call is tried once more
 * with a new one.
 *
 * `config.baseUrl` replaces the host (`https://{location}-aiplatform.googleapis.com`, `https://aiplatform.googleapis.com`
 * for `global`) and excludes the API version: paths start `/v1/projects/…` (`options.apiVersion`, e.g. `v1beta1`).
 * Other options: `anthropicVersion` (default vertex-2023-10-16), `beta` (Claude's anthropic-beta header).
 */
export function createVertexAdapter(config: AdapterConfig, deps: VertexAdapterDeps = {}): ProviderAdapter {
  const provider = config.id;
  const project = config.project;
  if (project === undefined || project === '') throw new TypeError(`provider ${provider}: vertex needs a project`);
  const location = config.location ?? DEFAULT_LOCATION;
  const options = config.options ?? {};
  const where: ModelLocation = { apiVersion: stringOption(options.apiVersion, 'apiVersion', DEFAULT_API_VERSION), project, location };
  const publishers = publishersOption(options.publishers);
  const anthropicVersion = stringOption(options.anthropicVersion, 'anthropicVersion', VERTEX_ANTHROPIC_VERSION);
  const beta = betaOption(options.beta);
  const baseUrl = config.baseUrl || vertexHost(location);

  // The tokens come from Google, not config: the registry's redactor does not know them, so this adapter masks them.
  const recent: string[] = [];
  let redact: Redactor = createRedactor([]);
  const remember = (token: string) => {
    if (recent.includes(token)) return;
    recent.push(token);
    if (recent.length > REMEMBERED_TOKENS) recent.shift();
    redact = createRedactor(recent);
  };
  const credentials = config.credentials?.type === 'google' ? config.credentials : undefined;
  const tokens: GoogleTokens =
    deps.tokens ?? createGoogleTokens({ provider, keyFile: credentials?.keyFile, scopes: credentials?.scopes, now: deps.now, onToken: remember });

  const google = createProviderCall(config, deps, errorMapper(provider, 'google'), baseUrl, async () => {
    const token = await tokens.get();
    remember(token);
    return { authorization: `Bearer ${token}` };
  });
  // One pool for both publishers; only the error envelopes differ.
  const claude: ProviderCall = { ...google, errors: errorMapper(provider, 'anthropic') };

  const publisher = (model: string): Publisher => publisherOf(model, publishers);

  const chatRequest = (req: ChatRequest, opts: CallOptions, stream: boolean): WireRequest => {
    if (publisher(opts.model) === 'anthropic') {
      return {
        path: modelPath(where, 'anthropic', opts.model, stream ? 'streamRawPredict' : 'rawPredict'),
        body: () => {
          assertSupported(req, opts.capabilities, provider);
          return claudeBody(req, opts, provider, stream, anthropicVersion);
        },
        headers: { ...(beta !== undefined && { 'anthropic-beta': beta }), ...(stream && { accept: 'text/event-stream' }) },
        opts,
      };
    }
    return {
      path: modelPath(where, 'google', opts.model, stream ? 'streamGenerateContent?alt=sse' : 'generateContent'),
      body: () => {
        assertSupported(req, opts.capabilities, provider);
        return geminiBody(provider, req);
      },
      opts,
    };
  };

  /** Vertex refused the token: drop it, and try once more with a new one. */
  const refusedToken = (e: unknown): boolean => {
    if (!(e instanceof GatewayError) || e.status !== 401) return false;
    tokens.invalidate();
    return true;
  };

  async function withFreshToken<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!refusedToken(err)) throw err;
      return run();
    }
  }

  async function generate(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
    return withFreshToken(async () => {
      if (publisher(opts.model) === 'anthropic') {
        const { data, headers } = await postJson(claude, chatRequest(req, opts, false), MessageWire, 'response shape');
        return claudeResponse(data, header(headers, 'request-id'));
      }
      const { data, headers } = await postJson(google, chatRequest(req, opts, false), GenerateContentResponseSchema, 'GenerateContentResponse');
      return geminiResponse(provider, data, opts.model, header(headers, 'x-goog-request-id'));
    });
  }

  async function* stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamPart> {
    for (let attempt = 0; ; attempt++) {
      const parts =
        publisher(opts.model) === 'anthropic'
          ? streamEvents(claude, chatRequest(req, opts, true), messageStreamSpec(provider))
          : streamEvents(google, chatRequest(req, opts, true), geminiStreamSpec(opts.model));
      let again = false;
      let delivered = false;
      for await (const part of parts) {
        // A refusal comes before any part: nothing was delivered, so the request can go again unseen.
        if (!delivered && attempt === 0 && part.type === 'error' && refusedToken(part.error)) {
          again = true;
          break;
        }
        delivered = true;
        yield part;
      }
      if (!again) return;
    }
  }

  async function embed(req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
    if (!opts.capabilities.includes('embeddings') || publisher(opts.model) !== 'google') {
      throw new GatewayError('unsupported_feature', `${provider}: ${opts.model} does not support embeddings`, { provider, param: 'embeddings' });
    }
    const size = opts.model.startsWith('gemini-embedding') ? PREDICT_BATCH.single : PREDICT_BATCH.many;
    const batches: string[][] = [];
    for (let i = 0; i < req.input.length; i += size) batches.push(req.input.slice(i, i + size));
    const path = modelPath(where, 'google', opts.model, 'predict');
    const predict = (batch: string[]) =>
      withFreshToken(async () => (await postJson(google, { path, body: () => predictBody(batch, req), opts }, PredictEmbeddingsResponseSchema, 'predict reply')).data);
    const replies: PredictEmbeddingsResponse[] = new Array<PredictEmbeddingsResponse>(batches.length);
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const i = next++;
        replies[i] = await predict(batches[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PREDICT_CONCURRENCY, batches.length) }, worker));
    return toEmbeddingResponse(provider, replies, req.input, opts.model);
  }

  const adapter: ProviderAdapter = {
    id: provider,
    protocol: 'vertex',
    baseUrl,
    generate,
    stream,
    embed,
    close: () => google.http.close(),
  };
  return withRedaction(adapter, (text) => redact(text));
}

function betaOption(beta: unknown): string | undefined {
  if (beta === undefined || beta === null) return undefined;
  if (typeof beta === 'string') return beta || undefined;
  if (Array.isArray(beta) && beta.every((b) => typeof b === 'string')) return beta.length ? beta.join(',') : undefined;
  throw new TypeError('vertex options.beta must be a string or an array of strings');
}
