import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginInlineTrace } from '@apollo/server/plugin/inlineTrace';

/** The request header a federation router sends when it wants the subgraph's trace (`extensions.ftv1`). */
const INLINE_TRACE_HEADER = 'apollo-federation-include-trace';

/**
 * Federated tracing as Apollo installs it for a subgraph, entered only by the requests that ask for it.
 * Apollo's own plugin builds a trace tree (a protobuf message) for every request before it looks at the
 * header, and drops it for all but the router's sampled ones: ~3 µs of every GraphQL request.
 */
function inlineTraceWhenAsked<C extends BaseContext>(): ApolloServerPlugin<C> {
  const inner = ApolloServerPluginInlineTrace() as ApolloServerPlugin<C>;
  return {
    serverWillStart: async (service) => inner.serverWillStart?.(service),
    requestDidStart: async (requestContext) =>
      requestContext.request.http?.headers.get(INLINE_TRACE_HEADER) === 'ftv1' ? inner.requestDidStart?.(requestContext) : undefined,
  };
}

/**
 * The plugins that replace or switch off Apollo's implicit ones:
 * - inline traces only for requests that ask for them (above);
 * - no cache-control plugin: the schema sets no cache hints, so every response's policy is "uncacheable",
 *   yet the plugin worked it out field by field on every request (and its per-field hook makes Apollo
 *   dispatch every resolver through its plugin layer). The endpoint sends its answer, `no-store`, itself;
 * - no landing page, usage reporting or schema reporting (a gateway reports to no Apollo account).
 */
export function leanApolloPlugins<C extends BaseContext>(): ApolloServerPlugin<C>[] {
  return [
    ApolloServerPluginInlineTraceDisabled(),
    inlineTraceWhenAsked<C>(),
    ApolloServerPluginCacheControlDisabled(),
    ApolloServerPluginLandingPageDisabled(),
    ApolloServerPluginUsageReportingDisabled(),
    ApolloServerPluginSchemaReportingDisabled(),
  ] as ApolloServerPlugin<C>[];
}
