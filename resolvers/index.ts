import type { GraphQLResolverMap } from '@apollo/subgraph';
import { apiKeyResolvers } from './api-keys.ts';
import { completionResolvers } from './completion.ts';
import { configResolvers } from './config.ts';
import { embeddingsResolvers } from './embeddings.ts';
import { governanceResolvers } from './governance.ts';
import type { GraphQLContext } from './context.ts';
import { providerResolvers } from './provider.ts';
import { routeResolvers } from './route.ts';
import { DateTimeScalar, JSONScalar } from './scalars.ts';
import { subscriptionResolvers } from './subscription.ts';
import { usageResolvers } from './usage.ts';
import { viewerResolvers } from './viewer.ts';

export { createContext, type GraphQLContext } from './context.ts';
export { formatGraphQLError } from './errors.ts';

/** GraphQL enum values ↔ the core's lower-case values, so resolvers and inputs use the core's vocabulary. */
const enums = {
  MessageRole: { SYSTEM: 'system', USER: 'user', ASSISTANT: 'assistant', TOOL: 'tool' },
  FinishReason: { STOP: 'stop', LENGTH: 'length', TOOL_CALLS: 'tool_calls', CONTENT_FILTER: 'content_filter', ERROR: 'error', OTHER: 'other' },
  AttemptStatus: { OK: 'ok', ERROR: 'error' },
  ImageDetail: { AUTO: 'auto', LOW: 'low', HIGH: 'high' },
  CacheControlType: { EPHEMERAL: 'ephemeral' },
  CacheTtl: { FIVE_MINUTES: '5m', ONE_HOUR: '1h' },
  ToolChoiceMode: { AUTO: 'auto', NONE: 'none', REQUIRED: 'required', TOOL: 'tool' },
  ResponseFormatType: { TEXT: 'text', JSON_OBJECT: 'json_object', JSON_SCHEMA: 'json_schema' },
  RouteStrategy: { PRIORITY: 'priority', WEIGHTED: 'weighted', LEAST_LATENCY: 'least-latency', CHEAPEST: 'cheapest', CASCADE: 'cascade' },
  Quality: { FAST: 'fast', BALANCED: 'balanced', BEST: 'best' },
  ReasoningEffort: { MINIMAL: 'minimal', LOW: 'low', MEDIUM: 'medium', HIGH: 'high' },
  TargetTier: { FAST: 'fast', BALANCED: 'balanced', BEST: 'best' },
  CircuitState: { CLOSED: 'closed', OPEN: 'open', HALF_OPEN: 'half-open' },
  ApiKeyScope: { ADMIN: 'admin', CLIENT: 'client' },
  UnsupportedParams: { REFUSE: 'refuse', DROP: 'drop' },
  OnContentFilter: { STOP: 'stop', FALLBACK: 'fallback' },
};

type Section = Record<string, unknown>;

/** Merges the per-area maps (Query/Mutation fields come from several files). */
function merge(...maps: Array<Record<string, Section | object>>): GraphQLResolverMap<GraphQLContext> {
  const out: Record<string, Section> = {};
  for (const map of maps) {
    for (const [type, fields] of Object.entries(map)) out[type] = { ...out[type], ...(fields as Section) };
  }
  return out as GraphQLResolverMap<GraphQLContext>;
}

export const resolvers: GraphQLResolverMap<GraphQLContext> = {
  ...merge(providerResolvers, routeResolvers, configResolvers, completionResolvers, embeddingsResolvers, subscriptionResolvers, apiKeyResolvers, governanceResolvers, usageResolvers, viewerResolvers, enums),
  JSON: JSONScalar,
  DateTime: DateTimeScalar,
};
