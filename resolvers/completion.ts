import DataLoader from 'dataloader';
import type { UsageAnalytics } from '../src/gateway/services.ts';
import type { AttemptRecord, Completion } from '../src/core/index.ts';
import { ledgerEventsNewestFirst, pageLedgerEvents } from '../src/usage/completion-log.ts';
import { graphqlCodeOf, type ReasoningPart, type UsageEvent } from '../src/core/index.ts';
import { toGatewayRequest, type CompletionInputArgs } from './completion-input.ts';
import type { GraphQLContext } from './context.ts';
import { badUserInput } from './errors.ts';
import { targetFields } from './provider.ts';

const MAX_PAGE = 100;

/** A completion's (or embeddings result's) Usage object: with its total, `estimated` never null. */
export const usageFields = (c: Pick<Completion, 'usage'>) => ({
  ...c.usage,
  totalTokens: c.usage.inputTokens + c.usage.outputTokens,
  estimated: c.usage.estimated ?? false,
});

type PricedLike = Completion & { priceSource?: 'config' | 'builtin' | 'none'; priceVersion?: string | null };

/**
 * A completion another instance served, as the ledger knows it. The ledger never holds prompts or
 * outputs, so its message is empty; usage, cost, timing and the trace id are exact.
 */
function fromLedger(e: UsageEvent): PricedLike {
  return {
    id: e.id,
    route: e.route,
    routeVersion: e.routeVersion,
    provider: e.provider ?? '',
    model: e.model ?? '',
    upstreamModel: e.model ?? '',
    message: { role: 'assistant', content: null, toolCalls: [] },
    finishReason: e.finishReason ?? 'stop',
    usage: {
      inputTokens: e.tokens.input,
      outputTokens: e.tokens.output,
      cachedInputTokens: e.tokens.cachedInput,
      cacheWriteTokens: e.tokens.cacheWrite,
      reasoningTokens: e.tokens.reasoning,
      estimated: e.usageEstimated,
    },
    costUsd: e.costUsd,
    priceSource: e.priceSource,
    latencyMs: e.latencyMs,
    timeToFirstTokenMs: e.ttftMs,
    cached: e.cacheHit,
    attempts: [],
    createdAt: new Date(e.time),
    traceId: e.traceId,
    principal: e.keyName ?? undefined,
  };
}

/** Admin keys see every completion; client keys only their own. */
export function canSee(ctx: GraphQLContext, c: Completion): boolean {
  return ctx.principal.scope === 'admin' || c.principal === ctx.principal.name;
}

/** How deep into the ledger (newest first) a lookup by id reads before answering null. */
const LOOKUP_SCAN = 5_000;

/**
 * Ledger lookups by id, one per operation: every id one response asks for (a federated `_entities` fetch
 * may ask for many) is found in a single scan of the newest LOOKUP_SCAN events.
 */
const ledgerLoaders = new WeakMap<GraphQLContext, DataLoader<string, UsageEvent | null>>();

function ledgerLoaderOf(ctx: GraphQLContext, usage: UsageAnalytics): DataLoader<string, UsageEvent | null> {
  let loader = ledgerLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader<string, UsageEvent | null>(async (ids) => {
      // This instance's own recent requests become visible first (a no-op when nothing waits).
      await usage.flush();
      const wanted = new Set(ids);
      const found = new Map<string, UsageEvent>();
      for await (const e of ledgerEventsNewestFirst(usage.sink, { chunk: 1_000, maxScan: LOOKUP_SCAN })) {
        if (e.status === 'ok' && wanted.delete(e.id)) found.set(e.id, e);
        if (wanted.size === 0) break;
      }
      return ids.map((id) => found.get(id) ?? null);
    });
    ledgerLoaders.set(ctx, loader);
  }
  return loader;
}

/**
 * A completion by id: this instance's log (GraphQL completions, message included), else the ledger (REST
 * completions and other instances' — see GatewayRequest.retain — with usage, cost and timing, no message).
 */
async function findCompletion(ctx: GraphQLContext, id: string): Promise<PricedLike | null> {
  const kept = ctx.completions.get(id);
  if (kept) return canSee(ctx, kept) ? kept : null;
  const usage = ctx.usage;
  if (!usage) return null;
  const event = await ledgerLoaderOf(ctx, usage).load(id);
  const found = event && fromLedger(event);
  return found && canSee(ctx, found) ? found : null;
}

const encodeCursor = (id: string) => Buffer.from(`completion:${id}`, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith('completion:')) throw badUserInput('after: not a cursor of this connection', 'after');
  return text.slice('completion:'.length);
}

interface CompletionsArgs {
  first?: number | null;
  after?: string | null;
  filter?: { route?: string | null; provider?: string | null; model?: string | null } | null;
}

export const completionResolvers = {
  Query: {
    completion: (_: unknown, args: { id: string }, ctx: GraphQLContext) => findCompletion(ctx, args.id),
    completions: async (_: unknown, args: CompletionsArgs, ctx: GraphQLContext) => {
      const first = args.first ?? 20;
      if (first < 0 || first > MAX_PAGE) throw badUserInput(`first: must be between 0 and ${MAX_PAGE}`, 'first');
      const after = args.after ? decodeCursor(args.after) : undefined;
      const f = args.filter ?? {};
      const usage = ctx.usage;
      if (usage) {
        // From the ledger: every instance's completions, this one's own recent ones flushed first.
        await usage.flush();
        const admin = ctx.principal.scope === 'admin';
        const { items, hasNextPage } = await pageLedgerEvents(usage.sink, {
          first,
          after,
          filter: (e) =>
            e.status === 'ok' &&
            (admin || e.keyName === ctx.principal.name) &&
            (f.route == null || e.route === f.route) &&
            (f.provider == null || e.provider === f.provider) &&
            (f.model == null || e.model === f.model || `${e.provider}/${e.model}` === f.model),
        });
        const edges = items.map((e) => ({ cursor: encodeCursor(e.id), node: ctx.completions.get(e.id) ?? fromLedger(e) }));
        return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
      }
      const { items, hasNextPage } = ctx.completions.list(first, after, (c) =>
        canSee(ctx, c) &&
        (f.route == null || c.route === f.route) &&
        (f.provider == null || c.provider === f.provider) &&
        (f.model == null || c.model === f.model || `${c.provider}/${c.model}` === f.model),
      );
      const edges = items.map((node) => ({ cursor: encodeCursor(node.id), node }));
      return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  },
  Mutation: {
    createCompletion: (_: unknown, args: { input: CompletionInputArgs }, ctx: GraphQLContext): Promise<Completion> =>
      ctx.gateway.complete(toGatewayRequest(args.input, ctx)),
  },
  Completion: {
    __resolveReference: (ref: { id: string }, ctx: GraphQLContext) => findCompletion(ctx, ref.id),
    ...targetFields,
    priced: (c: Completion) => c.costUsd !== null,
    priceSource: (c: PricedLike) => c.priceSource ?? (c.costUsd === null ? 'none' : 'config'),
    priceVersion: (c: PricedLike) => c.priceVersion ?? null,
    usage: usageFields,
  },
  AssistantMessage: {
    reasoning: (m: Completion['message']) => m.reasoning ?? null,
    reasoningParts: (m: Completion['message']) => m.reasoningParts ?? [],
  },
  ReasoningPart: {
    redacted: (p: ReasoningPart) => p.redacted === true,
  },
  Attempt: {
    ...targetFields,
    errorCode: (a: AttemptRecord) => (a.errorKind ? graphqlCodeOf(a.errorKind) : null),
    retryDelayMs: (a: AttemptRecord) => a.retryDelayMs ?? null,
    costUsd: (a: AttemptRecord) => a.costUsd ?? null,
    validationError: (a: AttemptRecord) => a.validationError ?? null,
    resumed: (a: AttemptRecord) => a.resumed === true,
  },
};
