import type { ProviderConfig } from '../src/config/index.ts';
import type { CatalogModel } from '../src/gateway/catalog.ts';
import type { GraphQLContext } from './context.ts';
import { modelKey } from './loaders.ts';

/** Anything that names a provider and one of its models by id (route targets, attempts, exclusions, completions). */
export interface TargetLike {
  provider: string;
  model: string;
}

/** Resolvers for `provider` / `model` fields of objects that carry ids, through the request's loaders. */
export const targetFields = {
  provider: (parent: TargetLike, _args: unknown, ctx: GraphQLContext) => ctx.loaders.provider.load(parent.provider),
  model: (parent: TargetLike, _args: unknown, ctx: GraphQLContext) => ctx.loaders.model.load(modelKey(parent.provider, parent.model)),
};

export const providerResolvers = {
  Query: {
    providers: (_: unknown, _args: unknown, ctx: GraphQLContext) => ctx.catalog.providers,
    provider: (_: unknown, args: { id: string }, ctx: GraphQLContext) => ctx.loaders.provider.load(args.id),
    models: (_: unknown, _args: unknown, ctx: GraphQLContext) => ctx.catalog.models(),
    model: (_: unknown, args: { id: string }, ctx: GraphQLContext) => ctx.loaders.model.load(args.id),
  },
  Provider: {
    __resolveReference: (ref: { id: string }, ctx: GraphQLContext) => ctx.loaders.provider.load(ref.id),
    // Only declared fields reach clients: apiKey and headers of ProviderConfig have no field.
    id: (p: ProviderConfig) => p.id,
    protocol: (p: ProviderConfig) => p.protocol,
    baseUrl: (p: ProviderConfig) => p.baseUrl ?? null,
    models: (p: ProviderConfig, _args: unknown, ctx: GraphQLContext) => ctx.loaders.modelsOfProvider.load(p.id),
    health: (p: ProviderConfig, _args: unknown, ctx: GraphQLContext) => ctx.loaders.health.load(p.id),
  },
  Model: {
    __resolveReference: (ref: { id: string }, ctx: GraphQLContext) => ctx.loaders.model.load(ref.id),
    id: (m: CatalogModel) => modelKey(m.provider.id, m.model.id),
    name: (m: CatalogModel) => m.model.id,
    upstreamName: (m: CatalogModel) => m.target.upstreamModel,
    provider: (m: CatalogModel, _args: unknown, ctx: GraphQLContext) => ctx.loaders.provider.load(m.provider.id),
    contextWindow: (m: CatalogModel) => m.model.contextWindow,
    maxOutputTokens: (m: CatalogModel) => m.model.maxOutputTokens ?? null,
    capabilities: (m: CatalogModel) => m.model.capabilities,
    price: (m: CatalogModel) => {
      const p = m.model.price;
      if (!p) return null;
      return {
        input: p.input,
        output: p.output,
        cachedInput: p.cachedInput ?? p.input,
        cacheWrite: p.cacheWrite ?? p.input,
        reasoning: p.reasoning ?? p.output,
      };
    },
  },
};
