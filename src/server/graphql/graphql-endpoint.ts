import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ApolloServer, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  getOperationAST,
  parse,
  specifiedRules,
  subscribe as graphqlSubscribe,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql/index.js';
import { context as otelContext, propagation, SpanKind, SpanStatusCode, trace, type Context as OtelContext, type Span, type Tracer } from '@opentelemetry/api';
import { spanClock } from '../../telemetry/tracing.ts';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createContext, formatGraphQLError, resolvers, type GraphQLContext } from '../../../resolvers/index.ts';
import type { Config } from '../../config/index.ts';
import { GatewayError } from '../../core/index.ts';
import type { Principal } from '../../gateway/completion.ts';
import type { Gateway } from '../../gateway/gateway-service.ts';
import type { Authenticator } from '../authenticator.ts';
import { complexityLimitRule, depthLimitRule } from './validation-rules.ts';

export interface GraphQLLogger {
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface GraphQLEndpointDeps {
  gateway: Gateway;
  config: Config;
  auth: Authenticator;
  logger?: GraphQLLogger | undefined;
  /** Operation spans of subscriptions (HTTP operations run inside the HTTP server's span). */
  tracer?: Tracer | undefined;
}

/** The operation span of a subscription, as a context its execution runs in. */
const OPERATION_CONTEXT = Symbol('switchboard.operation-context');

const headerGetter = {
  keys: (h: Record<string, string | string[] | undefined>) => Object.keys(h),
  get: (h: Record<string, string | string[] | undefined>, key: string) => h[key],
};

export interface GraphQLEndpoint {
  /** Serves GraphQL over HTTP (GET and POST on /graphql); `body` is the raw request body (the caller enforces its size). */
  handleHttp(req: IncomingMessage, res: ServerResponse, body: string): Promise<void>;
  /** graphql-transport-ws server (noServer); use handleUpgrade rather than wiring it yourself. */
  wsServer: WebSocketServer;
  /** Hands an HTTP upgrade of /graphql to the WebSocket server. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every socket (cancelling their streams) and stops Apollo Server. */
  close(): Promise<void>;
}

/** schema/ at the repository root: three levels up from source, four from a build in dist/. */
const SCHEMA_DIR =
  [join(import.meta.dirname, '../../../schema'), join(import.meta.dirname, '../../../../schema')].find((d) => existsSync(join(d, 'schema.graphql'))) ??
  join(import.meta.dirname, '../../../schema');

/** The SDL of schema/*.graphql, in file-name order, as one document. */
export function loadTypeDefs(dir = SCHEMA_DIR): DocumentNode {
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  return parse(files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n'));
}

/** The executable Federation 2 subgraph schema. */
export function buildSchema(): GraphQLSchema {
  return buildSubgraphSchema([{ typeDefs: loadTypeDefs(), resolvers }]);
}

/** Validation rules beyond the spec's, shared by HTTP and ws. */
export function extraValidationRules(config: Config): ValidationRule[] {
  const { maxDepth, maxComplexity, introspection } = config.server.graphql;
  return [depthLimitRule(maxDepth), complexityLimitRule(maxComplexity), ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];
}

function withValidationCode(e: GraphQLError): GraphQLError {
  return new GraphQLError(e.message, {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    path: e.path,
    originalError: e.originalError,
    extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
  });
}

function headerMapOf(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const essence = value.split(';')[0]!.trim().toLowerCase();
  return essence === 'application/json' || essence.endsWith('+json');
}

function jsonError(res: ServerResponse, status: number, message: string, code: string, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...extraHeaders });
  res.end(body);
}

/** Waits until the response can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

async function writeResponse(res: ServerResponse, result: HTTPGraphQLResponse): Promise<void> {
  res.statusCode = result.status ?? 200;
  for (const [key, value] of result.headers) res.setHeader(key, value);
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
    return;
  }
  // Incremental delivery (multipart): write each part as it comes, honouring back-pressure.
  for await (const chunk of result.body.asyncIterator) {
    if (res.destroyed) break;
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
}

/**
 * The GraphQL API: Apollo Server over HTTP (executeHTTPGraphQLRequest, no framework) and graphql-ws over
 * `ws` for subscriptions, one subgraph schema, one error formatter and the same validation rules on both.
 */
export async function createGraphQLEndpoint(deps: GraphQLEndpointDeps): Promise<GraphQLEndpoint> {
  const { gateway, config, auth, logger } = deps;
  const schema = buildSchema();
  const rules = extraValidationRules(config);

  /** The caller of an HTTP request, or a 401-carrying GraphQL error (Apollo sends extensions.http's status). */
  async function principalOf(authorization: string | undefined): Promise<Principal> {
    try {
      return await auth.resolve(authorization);
    } catch (e) {
      if (e instanceof GatewayError && e.kind === 'auth') {
        throw new GraphQLError(e.message, {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) } },
        });
      }
      throw e;
    }
  }

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    validationRules: rules,
    introspection: config.server.graphql.introspection,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: !config.server.graphql.introspection,
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    formatError: (formatted, error) => formatGraphQLError(formatted, error, logger),
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (msg: unknown) => logger?.warn({ source: 'apollo' }, String(msg)),
      error: (msg: unknown) => logger?.error({ source: 'apollo' }, String(msg)),
    },
    plugins: [
      // Apollo would run a subscription over HTTP as a query of its payload-less root (a null error): refuse it.
      {
        requestDidStart: async () => ({
          didResolveOperation: async ({ operation }) => {
            if (operation?.operation === 'subscription') {
              throw new GraphQLError('subscriptions are served over WebSocket (graphql-transport-ws) on this path, not over HTTP', {
                extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
              });
            }
          },
        }),
      },
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
    ],
  });
  await apollo.start();

  async function handleHttp(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    // A client that goes away cancels its completion upstream.
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort(new GatewayError('cancelled', 'client closed the connection'));
    });
    try {
      const headers = headerMapOf(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      let parsed: unknown;
      if (body !== '' && isJsonContentType(headers.get('content-type'))) {
        try {
          parsed = JSON.parse(body);
        } catch {
          jsonError(res, 400, 'request body is not valid JSON', 'BAD_REQUEST');
          return;
        }
      } else if (body !== '') {
        parsed = body;
      }
      const requestId = headers.get('x-request-id');
      const result = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body: parsed },
        context: async () =>
          createContext({ gateway, config, principal: await principalOf(headers.get('authorization')), signal: abort.signal, requestId }),
      });
      await writeResponse(res, result);
    } catch (e) {
      logger?.error({ err: e instanceof Error ? { name: e.name, message: e.message } : String(e) }, 'graphql: HTTP handler failed');
      if (!res.headersSent) jsonError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      else res.destroy();
    }
  }

  const wsServer = new WebSocketServer({ noServer: true, maxPayload: config.server.bodyLimitBytes });
  const format = (errors: readonly GraphQLError[]): GraphQLFormattedError[] => errors.map((e) => formatGraphQLError(e.toJSON(), e, logger));
  type Extra = { principal: Principal; abort: AbortController; spans?: Map<string, Span> | undefined };

  /** Ends a subscription's operation span (completed, failed, or its socket closed). */
  function endOperation(extra: { spans?: Map<string, Span> | undefined }, id: string, error?: string): void {
    const span = extra.spans?.get(id);
    if (!span) return;
    extra.spans!.delete(id);
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    span.end(spanClock());
  }

  /**
   * Subscription documents that parsed and validated, by query text: clients send the same few queries,
   * and parse + validate was most of a subscription's set-up. Validation depends on the document only
   * (schema and rules are fixed; depth and complexity do not read variables). Bounded: 200 documents of
   * at most 16 KiB of text each (a few MiB at worst), oldest out first.
   */
  const validDocuments = new Map<string, DocumentNode>();
  const remember = (query: string, document: DocumentNode) => {
    if (query.length > 16_384) return;
    if (validDocuments.size >= 200) validDocuments.delete(validDocuments.keys().next().value!);
    validDocuments.set(query, document);
  };

  const disposable = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema,
      // Runs the subscription inside its operation span, so the request's route span is its child.
      subscribe: (args: ExecutionArgs) => {
        const ctx = (args.contextValue as Record<symbol, OtelContext | undefined> | undefined)?.[OPERATION_CONTEXT];
        return ctx ? otelContext.with(ctx, () => graphqlSubscribe(args)) : graphqlSubscribe(args);
      },
      onComplete: (ctx, id) => endOperation(ctx.extra, id),
      onError: (ctx, id, _payload, errors) => {
        endOperation(ctx.extra, id, errors[0]?.message ?? 'error');
        return format(errors);
      },
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const fromParams = params.authorization ?? params.Authorization;
        const authorization = typeof fromParams === 'string' ? fromParams : ctx.extra.request.headers.authorization;
        try {
          ctx.extra.principal = await auth.resolve(authorization);
        } catch (e) {
          if (!(e instanceof GatewayError && e.kind === 'auth')) throw e;
          // 4401 tells the client its credentials are the problem (graphql-ws would say 4403 Forbidden).
          ctx.extra.socket.close(4401, 'Unauthorized');
          return false;
        }
        const abort = new AbortController();
        ctx.extra.abort = abort;
        ctx.extra.socket.once('close', () => {
          abort.abort(new GatewayError('cancelled', 'socket closed'));
          for (const id of [...(ctx.extra.spans?.keys() ?? [])]) endOperation(ctx.extra, id, 'socket closed');
        });
        return true;
      },
      onSubscribe: (ctx, id, payload) => {
        let document = validDocuments.get(payload.query);
        if (document === undefined) {
          try {
            document = parse(payload.query);
          } catch (e) {
            return [e instanceof GraphQLError ? e : new GraphQLError('could not parse the query')];
          }
          const errors = validate(schema, document, [...specifiedRules, ...rules]);
          if (errors.length > 0) return errors.map(withValidationCode);
          remember(payload.query, document);
        }
        let operation: OtelContext | undefined;
        if (deps.tracer) {
          // Continues the trace of the upgrade request (W3C traceparent), if it carried one.
          const parent = propagation.extract(otelContext.active(), ctx.extra.request.headers, headerGetter);
          const name = payload.operationName ?? getOperationAST(document)?.name?.value ?? 'anonymous';
          const span = deps.tracer.startSpan(`subscription ${name}`, { kind: SpanKind.SERVER, startTime: spanClock(), attributes: { 'graphql.operation.type': 'subscription', 'graphql.operation.name': name } }, parent);
          (ctx.extra.spans ??= new Map()).set(id, span);
          operation = trace.setSpan(parent, span);
        }
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: {
            ...createContext({
              gateway,
              config,
              principal: ctx.extra.principal!,
              signal: ctx.extra.abort?.signal,
              requestId: ctx.extra.request.headers['x-request-id']?.toString(),
            }),
            [OPERATION_CONTEXT]: operation,
          },
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: format(result.errors) } : undefined),
    },
    wsServer,
  );

  return {
    handleHttp,
    wsServer,
    handleUpgrade(req, socket, head) {
      wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
    },
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      await apollo.stop();
    },
  };
}
