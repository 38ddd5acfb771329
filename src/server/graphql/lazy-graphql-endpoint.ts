import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GraphQLEndpoint, GraphQLEndpointDeps } from './graphql-endpoint.ts';
import { writeErrors } from './write-errors.ts';

/** What the HTTP server needs of the GraphQL API; the endpoint is made on first use. */
export interface LazyGraphQLEndpoint {
  handleHttp(req: IncomingMessage, res: ServerResponse, body: string): Promise<void>;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Loads the API now (start-up with `server.graphql.preload`, tests); later calls return the same endpoint. */
  load(): Promise<GraphQLEndpoint>;
  /** Whether it has been loaded (or is loading). */
  readonly loaded: boolean;
  close(): Promise<void>;
}

/**
 * The GraphQL API (graphql-js, Apollo Server, the subgraph schema, graphql-ws and ws), imported and built on
 * the first /graphql request or WebSocket upgrade rather than at start-up.
 *
 * Why: those packages and the built schema are about a quarter of an idle gateway's memory, and a deployment
 * that only serves the OpenAI- or Anthropic-compatible REST API never uses them. The first GraphQL request
 * of the process waits for the import (~0.2 s); `server.graphql.preload` moves that to start-up instead.
 * Concurrent first requests share one load; a failed load is answered with 500 and tried again next time.
 */
export function createLazyGraphQLEndpoint(
  deps: GraphQLEndpointDeps,
  importEndpoint: () => Promise<{ createGraphQLEndpoint(d: GraphQLEndpointDeps): Promise<GraphQLEndpoint> }> = () => import('./graphql-endpoint.ts'),
): LazyGraphQLEndpoint {
  let pending: Promise<GraphQLEndpoint> | undefined;
  let closed = false;
  const load = (): Promise<GraphQLEndpoint> => {
    pending ??= importEndpoint()
      .then((m) => m.createGraphQLEndpoint(deps))
      .catch((e: unknown) => {
        pending = undefined;
        deps.logger?.error({ err: e instanceof Error ? { name: e.name, message: e.message } : String(e) }, 'graphql: the API could not be loaded');
        throw e;
      });
    return pending;
  };
  return {
    get loaded() {
      return pending !== undefined;
    },
    load,
    async handleHttp(req, res, body) {
      let endpoint: GraphQLEndpoint;
      try {
        endpoint = await load();
      } catch {
        if (!res.headersSent) writeErrors(res, 500, [{ message: 'the GraphQL API is unavailable', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
        return;
      }
      await endpoint.handleHttp(req, res, body);
    },
    handleUpgrade(req, socket, head) {
      load().then(
        (endpoint) => {
          // Closed while the API loaded, or the client left: nothing to upgrade.
          if (closed || socket.destroyed) socket.destroy();
          else endpoint.handleUpgrade(req, socket, head);
        },
        () => socket.destroy(),
      );
    },
    async close() {
      closed = true;
      if (!pending) return;
      const endpoint = await pending.catch(() => undefined);
      await endpoint?.close();
    },
  };
}
