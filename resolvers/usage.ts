import DataLoader from 'dataloader';
import type { UsageAnalytics } from '../src/gateway/services.ts';
import type { ProviderConfig } from '../src/config/index.ts';
import { GatewayError, graphqlCodeOf, type ErrorKind } from '../src/core/index.ts';
import type { CatalogModel } from '../src/gateway/catalog.ts';
import type { VersionedRoute } from '../src/router/route-table.ts';
import {
  queryUsageBatch,
  scopeUsageFilter,
  usageQueryKey,
  type UsageGroupBy,
  type UsageInterval,
  type UsageQueryInput,
  type UsageReport,
  type UsageStats,
} from '../src/usage/query-usage.ts';
import type { GraphQLContext } from './context.ts';

interface UsageFilterArgs {
  from: Date;
  to: Date;
  provider?: string | null;
  model?: string | null;
  route?: string | null;
  apiKey?: string | null;
  team?: string | null;
  operation?: 'chat' | 'embeddings' | null;
}

interface RangeArgs {
  from: Date;
  to: Date;
  interval?: UsageInterval | null;
}

/** One loader per operation: every usage field of one response is answered by one read of the ledger. */
const loaders = new WeakMap<GraphQLContext, DataLoader<UsageQueryInput, UsageReport, string>>();

function analyticsOf(ctx: GraphQLContext): UsageAnalytics {
  const usage = ctx.usage;
  if (!usage) throw new GatewayError('unavailable', 'usage analytics are not enabled on this server');
  return usage;
}

function loaderOf(ctx: GraphQLContext): DataLoader<UsageQueryInput, UsageReport, string> {
  let loader = loaders.get(ctx);
  if (!loader) {
    const usage = analyticsOf(ctx);
    loader = new DataLoader<UsageQueryInput, UsageReport, string>(
      async (inputs) => {
        // This instance's own recent requests become visible first (a no-op when nothing waits).
        await usage.flush();
        return queryUsageBatch(usage.sink, inputs, usage.archive);
      },
      { cacheKeyFn: usageQueryKey, maxBatchSize: 1_000 },
    );
    loaders.set(ctx, loader);
  }
  return loader;
}

const defined = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** Loads one usage query for the caller: a client key's filter is pinned to its own key. */
function load(ctx: GraphQLContext, filter: UsageFilterArgs, groupBy: UsageGroupBy[], interval: UsageInterval | null | undefined): Promise<UsageReport> {
  const scoped = scopeUsageFilter(
    {
      from: filter.from,
      to: filter.to,
      provider: defined(filter.provider),
      model: defined(filter.model),
      route: defined(filter.route),
      apiKey: defined(filter.apiKey),
      team: defined(filter.team),
      operation: defined(filter.operation),
    },
    ctx.principal,
  );
  // Unset fields are left out: the query schema is strict and reads `undefined` keys as given.
  const clean = Object.fromEntries(Object.entries(scoped).filter(([, v]) => v !== undefined)) as UsageQueryInput['filter'];
  // An SDL default (`= HOUR`) reaches resolvers as the enum's name, not its internal value.
  const normalized = (interval ?? 'hour').toLowerCase() as UsageInterval;
  return loaderOf(ctx).load({ filter: clean, groupBy, interval: normalized });
}

const range = (args: RangeArgs) => ({ from: args.from, to: args.to });

export const usageResolvers = {
  Query: {
    usage: (_: unknown, args: { filter: UsageFilterArgs; groupBy?: UsageGroupBy[] | null; interval?: UsageInterval | null }, ctx: GraphQLContext) =>
      load(ctx, args.filter, args.groupBy ?? [], args.interval),
  },
  Provider: {
    usage: (p: ProviderConfig, args: RangeArgs, ctx: GraphQLContext) => load(ctx, { ...range(args), provider: p.id }, [], args.interval),
  },
  Model: {
    usage: (m: CatalogModel, args: RangeArgs, ctx: GraphQLContext) =>
      load(ctx, { ...range(args), provider: m.provider.id, model: m.model.id }, [], args.interval),
  },
  Route: {
    usage: (r: VersionedRoute, args: RangeArgs, ctx: GraphQLContext) => load(ctx, { ...range(args), route: r.route.name }, [], args.interval),
  },
  UsageStats: {
    errorsByKind: (s: UsageStats) =>
      Object.entries(s.errorsByKind)
        .map(([kind, count]) => ({ code: graphqlCodeOf(kind as ErrorKind), count }))
        .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
  },
  UsageGroupBy: { PROVIDER: 'provider', MODEL: 'model', ROUTE: 'route', API_KEY: 'apiKey', TEAM: 'team', OPERATION: 'operation' },
  UsageOperation: { CHAT: 'chat', EMBEDDINGS: 'embeddings' },
  UsageInterval: { MINUTE: 'minute', HOUR: 'hour', DAY: 'day' },
  PriceSource: { CONFIG: 'config', BUILTIN: 'builtin', NONE: 'none' },
};
