import { EmbeddingRequestSchema, issueProblems } from '../src/core/index.ts';
import { embeddingsRequest, type Embeddings } from '../src/gateway/embeddings.ts';
import type { CacheDirective, StoreRequest } from '../src/gateway/gateway-request.ts';
import { CacheDirectiveSchema } from '../src/gateway/gateway-request.ts';
import { usageFields } from './completion.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';
import { targetFields } from './provider.ts';

export interface EmbeddingsInputArgs {
  route?: string | null;
  model?: string | null;
  input: string[];
  dimensions?: number | null;
  providerOptions?: unknown;
  cache?: { mode?: CacheDirective['mode'] | null; ttlSeconds?: number | null } | null;
  idempotencyKey?: string | null;
}

const nn = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** EmbeddingsInput → the gateway's request, validated with the core's schema; problems name `input.<field>`. */
export function toEmbeddingsRequest(input: EmbeddingsInputArgs, ctx: Pick<GraphQLContext, 'principal' | 'signal' | 'requestId'>): StoreRequest {
  const problems: Array<[string, string]> = [];
  const spec = EmbeddingRequestSchema.safeParse({ input: input.input, dimensions: nn(input.dimensions), providerOptions: nn(input.providerOptions) });
  if (!spec.success) problems.push(...issueProblems(spec.error.issues, ['input']));
  let cache: CacheDirective | undefined;
  if (input.cache) {
    const parsed = CacheDirectiveSchema.safeParse({ mode: nn(input.cache.mode), ttlSeconds: nn(input.cache.ttlSeconds) });
    if (parsed.success) cache = parsed.data;
    else problems.push(...issueProblems(parsed.error.issues, ['input', 'cache']));
  }
  if (!spec.success || problems.length > 0) throw badUserInput(problems.map(([p, m]) => `${p}: ${m}`).join('; '), problems[0]?.[0]);
  return embeddingsRequest({
    embeddings: spec.data,
    route: nn(input.route),
    model: nn(input.model),
    principal: ctx.principal,
    signal: ctx.signal,
    requestId: ctx.requestId,
    cache,
    idempotencyKey: nn(input.idempotencyKey),
  });
}

export const embeddingsResolvers = {
  Mutation: {
    createEmbeddings: (_: unknown, args: { input: EmbeddingsInputArgs }, ctx: GraphQLContext): Promise<Embeddings> =>
      ctx.gateway.embed(toEmbeddingsRequest(args.input, ctx)),
  },
  Embeddings: {
    ...targetFields,
    vectors: (e: Embeddings) => e.embeddings,
    priced: (e: Embeddings) => e.costUsd !== null,
    usage: usageFields,
  },
};
