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
import { header } from '../shared/http-client.ts';
import { postJson } from '../shared/post-json.ts';
import { createProviderCall, type WireRequest } from '../shared/provider-call.ts';
import { withRedaction } from '../shared/redacting-adapter.ts';
import { streamEvents } from '../shared/stream-events.ts';
import type { AdapterConfig, AdapterDeps, CallOptions, ProviderAdapter } from '../spec.ts';
import { createAwsCredentialSource, type AwsCredentials, type AwsCredentialSource } from './credentials.ts';
import { embedWith } from './embeddings.ts';
import { errorMapper } from './errors.ts';
import { buildConverseBody, modelPath } from './request.ts';
import { toChatResponse } from './response.ts';
import { createSigV4Auth } from './sigv4.ts';
import { converseStreamSpec } from './stream.ts';
import { ConverseResponseWire } from './wire.ts';

export interface BedrockAdapterDeps extends AdapterDeps {
  /** Replaces the credentials from config / the default chain (tests: short-lived keys, counted loads). */
  credentials?: AwsCredentialSource | undefined;
}

/** Refusals that mean the keys themselves are stale (expired, rotated, revoked): the cached ones are dropped. */
const STALE_KEYS = new Set(['ExpiredTokenException', 'UnrecognizedClientException', 'InvalidSignatureException']);
/** …and those where a fresh load may well succeed, so the request is tried once more with it. */
const RETRY_WITH_NEW_KEYS = new Set(['ExpiredTokenException', 'UnrecognizedClientException']);

/** Secrets of this many most recent key sets are masked (renewals replace keys; old ones may still be quoted). */
const REMEMBERED_KEY_SETS = 8;

/** The regional runtime host, for a config without `baseUrl`. */
export function defaultBedrockBaseUrl(region: string): string {
  return `https://bedrock-runtime.${region}.amazonaws.com`;
}

/**
 * Amazon Bedrock Runtime: chat through Converse / ConverseStream (`/model/{modelId}/converse[-stream]`, every chat
 * model Bedrock serves, cross-region inference profile ids and ARNs alike) and embeddings through InvokeModel (Titan,
 * Cohere). Requests are SigV4-signed for service `bedrock` in `config.region` with keys from `config.credentials`
 * (static keys, or the AWS default chain with an optional profile), renewed before they expire. The host is
 * `bedrock-runtime.<region>.amazonaws.com` unless config gives a `baseUrl` (a simulator, a VPC endpoint).
 */
export function createBedrockAdapter(config: AdapterConfig, deps: BedrockAdapterDeps = {}): ProviderAdapter {
  const provider = config.id;
  const region = config.region;
  if (region === undefined || region === '') throw new TypeError(`provider ${provider}: bedrock needs a region`);
  const baseUrl = config.baseUrl || defaultBedrockBaseUrl(region);

  // Keys the default chain found (environment, files, metadata) are not in config, so the registry's redactor does
  // not know them: this adapter masks every key it was handed (id, secret, session token) in its own errors.
  const keySets: AwsCredentials[] = [];
  let redact: Redactor = createRedactor([]);
  const remember = (keys: AwsCredentials) => {
    keySets.push(keys);
    if (keySets.length > REMEMBERED_KEY_SETS) keySets.shift();
    redact = createRedactor(keySets.flatMap((k) => [k.secretAccessKey, k.sessionToken, k.accessKeyId]));
  };
  const source = deps.credentials ?? createAwsCredentialSource({ provider, region, credentials: config.credentials, now: deps.now });
  const keys: AwsCredentialSource = {
    get: async () => {
      const k = await source.get();
      if (!keySets.includes(k)) remember(k);
      return k;
    },
    invalidate: () => source.invalidate(),
    renewable: source.renewable,
  };

  // x-amz-date is always the real time: AWS refuses a signature more than five minutes off its own clock.
  const auth = createSigV4Auth({ region, service: 'bedrock', credentials: keys });
  const call = createProviderCall(config, deps, errorMapper(provider), baseUrl, auth);

  const converseRequest = (req: ChatRequest, opts: CallOptions, stream: boolean): WireRequest => ({
    path: modelPath(opts.model, stream ? 'converse-stream' : 'converse'),
    body: () => {
      assertSupported(req, opts.capabilities, provider);
      return buildConverseBody(req, opts, provider);
    },
    headers: { accept: stream ? 'application/vnd.amazon.eventstream' : 'application/json' },
    opts,
  });

  /** AWS refused the keys as stale: forget them, and say whether one more try with fresh ones is worth it. */
  const staleKeys = (e: unknown): boolean => {
    if (!(e instanceof GatewayError) || e.kind !== 'provider_auth' || e.providerCode === undefined || !STALE_KEYS.has(e.providerCode)) return false;
    keys.invalidate();
    return keys.renewable && RETRY_WITH_NEW_KEYS.has(e.providerCode);
  };

  async function withFreshKeys<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (!staleKeys(err)) throw err;
      return run();
    }
  }

  async function* stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamPart> {
    for (let attempt = 0; ; attempt++) {
      let again = false;
      let delivered = false;
      for await (const part of streamEvents(call, converseRequest(req, opts, true), converseStreamSpec(provider, opts.model))) {
        // A refusal comes before any part: nothing was delivered, so the request can go again unseen.
        if (!delivered && part.type === 'error' && staleKeys(part.error) && attempt === 0) {
          again = true;
          break;
        }
        delivered = true;
        yield part;
      }
      if (!again) return;
    }
  }

  const adapter: ProviderAdapter = {
    id: provider,
    protocol: 'bedrock',
    baseUrl,

    generate: (req: ChatRequest, opts: CallOptions): Promise<ChatResponse> =>
      withFreshKeys(async () => {
        const { data, headers } = await postJson(call, converseRequest(req, opts, false), ConverseResponseWire, 'Converse response');
        return toChatResponse(data, opts.model, header(headers, 'x-amzn-requestid'));
      }),

    stream,

    embed: (req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> => withFreshKeys(() => embedWith(call, req, opts)),

    close: () => call.http.close(),
  };
  return withRedaction(adapter, (text) => redact(text));
}
