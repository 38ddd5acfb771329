import { GatewayError, hasCapability, type EmbeddingRequest, type EmbeddingResponse } from '../../core/index.ts';
import { header } from '../shared/http-client.ts';
import { invalidResponse } from '../shared/http-errors.ts';
import { postJson, type JsonReply } from '../shared/post-json.ts';
import type { ProviderCall } from '../shared/provider-call.ts';
import type { CallOptions } from '../spec.ts';
import { modelPath } from './request.ts';
import { CohereEmbeddingWire, TitanEmbeddingWire } from './wire.ts';

/** Titan embeds one text per call: a batch is this many calls at a time. */
const TITAN_CONCURRENCY = 8;
/** Cohere embed takes at most this many texts per call. */
const COHERE_BATCH = 96;

const INVOKE_HEADERS = { accept: 'application/json' };

function unsupported(provider: string, param: string, why: string): GatewayError {
  return new GatewayError('unsupported_feature', `${provider}: ${why}`, { provider, param });
}

/** Our estimate where the reply carries no count: about four characters a token. */
const estimate = (texts: readonly string[]): number => texts.reduce((n, s) => n + Math.ceil(s.length / 4), 0);

/** InvokeModel replies carry the counted input tokens in a header, whatever the model's body says. */
function headerTokens(reply: JsonReply<unknown>): number | undefined {
  const v = header(reply.headers, 'x-amzn-bedrock-input-token-count');
  return v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Titan text embeddings (`amazon.titan-embed-text-v1`, `-v2:0`): `{inputText, dimensions?}` → `{embedding,
 * inputTextTokenCount}`, one input per InvokeModel call, so a batch is parallel calls whose token counts are summed.
 * `dimensions` exists on v2 only. providerOptions.bedrock (e.g. `normalize`) goes into each call's body.
 */
async function titan(call: ProviderCall, req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
  const { provider } = call;
  const v2 = /titan-embed-text-v2/i.test(opts.model);
  if (req.dimensions !== undefined && !v2) throw unsupported(provider, 'dimensions', `${opts.model} has a fixed embedding size`);
  const extra = req.providerOptions?.bedrock ?? {};
  let estimated = false as boolean;
  const replies = await mapLimited(req.input, TITAN_CONCURRENCY, async (text) => {
    const reply = await postJson(
      call,
      {
        path: modelPath(opts.model, 'invoke'),
        body: () => ({ inputText: text, ...(req.dimensions !== undefined && { dimensions: req.dimensions }), ...extra }),
        headers: INVOKE_HEADERS,
        opts,
      },
      TitanEmbeddingWire,
      'Titan embedding reply',
    );
    const tokens = reply.data.inputTextTokenCount ?? headerTokens(reply);
    if (tokens === undefined) estimated = true;
    return { embedding: reply.data.embedding, tokens: tokens ?? estimate([text]) };
  });
  return {
    embeddings: replies.map((r) => r.embedding),
    model: opts.model,
    usage: { inputTokens: replies.reduce((n, r) => n + r.tokens, 0), ...(estimated && { estimated: true }) },
  };
}

/**
 * Cohere embed (`cohere.embed-english-v3`, `-multilingual-v3`, `cohere.embed-v4:0`): `{texts, input_type}` →
 * `{embeddings}`, up to 96 texts a call. input_type defaults to `search_document` (providerOptions.bedrock
 * overrides it); `dimensions` maps to v4's `output_dimension`. The token count comes from the reply's header.
 */
async function cohere(call: ProviderCall, req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
  const { provider } = call;
  const v4 = /embed-v4/i.test(opts.model);
  if (req.dimensions !== undefined && !v4) throw unsupported(provider, 'dimensions', `${opts.model} has a fixed embedding size`);
  const batches: string[][] = [];
  for (let i = 0; i < req.input.length; i += COHERE_BATCH) batches.push(req.input.slice(i, i + COHERE_BATCH));
  let estimated = false as boolean;
  const replies = await mapLimited(batches, TITAN_CONCURRENCY, async (texts) => {
    const reply = await postJson(
      call,
      {
        path: modelPath(opts.model, 'invoke'),
        body: () => ({
          texts,
          input_type: 'search_document',
          ...(req.dimensions !== undefined && { output_dimension: req.dimensions }),
          ...(req.providerOptions?.bedrock ?? {}),
        }),
        headers: INVOKE_HEADERS,
        opts,
      },
      CohereEmbeddingWire,
      'Cohere embedding reply',
    );
    const e = reply.data.embeddings;
    const vectors = Array.isArray(e) ? e : e.float;
    if (vectors.length !== texts.length) throw invalidResponse(provider, `Cohere embed returned ${vectors.length} embeddings for ${texts.length} texts`);
    const tokens = headerTokens(reply);
    if (tokens === undefined) estimated = true;
    return { vectors, tokens: tokens ?? estimate(texts) };
  });
  return {
    embeddings: replies.flatMap((r) => r.vectors),
    model: opts.model,
    usage: { inputTokens: replies.reduce((n, r) => n + r.tokens, 0), ...(estimated && { estimated: true }) },
  };
}

/** Embeddings through InvokeModel, by model family; another family fails closed. */
export function embedWith(call: ProviderCall, req: EmbeddingRequest, opts: CallOptions): Promise<EmbeddingResponse> {
  const { provider } = call;
  if (!hasCapability(opts.capabilities, 'embeddings')) {
    return Promise.reject(unsupported(provider, 'embeddings', `${opts.model} does not support embeddings`));
  }
  if (/titan-embed/i.test(opts.model)) return titan(call, req, opts);
  if (/cohere\.embed/i.test(opts.model)) return cohere(call, req, opts);
  return Promise.reject(unsupported(provider, 'embeddings', `embeddings are mapped for Titan and Cohere embed models on Bedrock, not ${opts.model}`));
}
