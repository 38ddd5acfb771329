import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { ApolloServer, HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
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
import { WebSocketServer, type WebSocket } from 'ws';
import { createContext, formatGraphQLError, resolvers, type GraphQLContext } from '../../../resolvers/index.ts';
import type { Config } from '../../config/index.ts';
import { GatewayError, type Principal } from '../../core/index.ts';
import type { Services } from '../../gateway/services.ts';
import type { Authenticator } from '../authenticator.ts';
import type { StreamShutdown } from '../stream-shutdown.ts';
import { refuseForeignUpgrade } from '../origin-policy.ts';
import { DEFAULT_DOCUMENT_CACHE_BYTES, createDocumentCache, type DocumentCache } from './document-cache.ts';
import { checkDocument, clientErrorCode, parseFailed, queriesOf } from './document-guard.ts';
import { reReadDefaultValues } from './enum-defaults.ts';
import { leanApolloPlugins } from './lean-apollo-plugins.ts';
import { writeErrors } from './write-errors.ts';
import { aliasLimitRule, complexityLimitRule, depthLimitRule, mutationFieldsLimitRule } from './validation-rules.ts';

export interface GraphQLLogger {
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface GraphQLEndpointDeps {
  /** Handed to every operation's context: the gateway and the services resolvers read. */
  services: Services;
  config: Config;
  auth: Authenticator;
  logger?: GraphQLLogger | undefined;
  /** Operation spans of subscriptions (HTTP operations run inside the HTTP server's span). */
  tracer?: Tracer | undefined;
  /** WebSocket operations hold it while they run; subscriptions end with a SHUTTING_DOWN error event when it aborts. */
  shutdown?: StreamShutdown | undefined;
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
  /** The parsed documents HTTP operations reuse (bounded by their estimated heap bytes). */
  readonly documentCache: DocumentCache;
}

/** schema/ at the repository root: three levels up from source, four from tsc's dist/src/, two from the bundle in dist/gateway/. */
const SCHEMA_DIR =
  ['../../../schema', '../../../../schema', '../../schema'].map((d) => join(import.meta.dirname, d)).find((d) => existsSync(join(d, 'schema.graphql'))) ??
  join(import.meta.dirname, '../../../schema');

/** The SDL of schema/*.graphql, in file-name order, as one document. */
export function loadTypeDefs(dir = SCHEMA_DIR): DocumentNode {
  const files = readdirSync(dir).filter((f) => f.endsWith('.graphql')).sort();
  return parse(files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n'));
}

/** The executable Federation 2 subgraph schema. */
export function buildSchema(): GraphQLSchema {
  const schema = buildSubgraphSchema([{ typeDefs: loadTypeDefs(), resolvers }]);
  reReadDefaultValues(schema);
  return schema;
}

/** Validation rules beyond the spec's, shared by HTTP and ws. */
export function extraValidationRules(config: Config): ValidationRule[] {
  const { maxDepth, maxComplexity, maxAliases, maxMutationFields, introspection } = config.server.graphql;
  return [
    depthLimitRule(maxDepth),
    complexityLimitRule(maxComplexity),
    aliasLimitRule(maxAliases),
    mutationFieldsLimitRule(maxMutationFields),
    ...(introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
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

/**
 * graphql-js refuses some requests before executing them (variables that do not coerce, an unknown operation
 * name) with errors that carry no path and no code, which the formatter would report as INTERNAL_SERVER_ERROR
 * over WebSocket. They are the client's mistake: coded BAD_USER_INPUT, as Apollo codes them over HTTP.
 */
function requestErrorsAsBadInput<T>(result: T): T {
  if (typeof result !== 'object' || result === null || Symbol.asyncIterator in result) return result;
  const { errors } = result as { errors?: readonly GraphQLError[] };
  if (!errors) return result;
  const coded = errors.map((e) =>
    e.path === undefined && e.extensions.code === undefined
      ? new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, originalError: e.originalError, extensions: { ...e.extensions, code: 'BAD_USER_INPUT' } })
      : e,
  );
  return { ...result, errors: coded };
}

/** The query string of a request target without one (never written to: queriesOf only reads it). */
const NO_QUERY = { search: '', searchParams: new URLSearchParams() } as const;

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
  writeErrors(res, status, [{ message, extensions: { code } }], extraHeaders);
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
  // What Apollo's cache-control plugin sent for every answer of this schema (no type or field has a cache hint).
  if (!res.hasHeader('cache-control')) res.setHeader('cache-control', 'no-store');
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
  const { services, config, auth, logger } = deps;
  const schema = buildSchema();
  const rules = extraValidationRules(config);
  const { maxDocumentBytes } = config.server.graphql;
  const allowedOrigins = new Set(config.server.cors.origins);

  // Apollo's default store counts a document's JSON size, which leaves out its source text and tokens:
  // 150 distinct queries padded with 2 MB of whitespace stayed on the heap (~300 MB). This one counts both.
  const documentCache = createDocumentCache({ maxBytes: DEFAULT_DOCUMENT_CACHE_BYTES });
  const documentStore = {
    get: async (key: string) => documentCache.get(key),
    set: async (key: string, document: DocumentNode) => documentCache.set(key, document),
    delete: async (key: string) => documentCache.delete(key),
  };

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
    formatError: (formatted, error) => {
      const code = clientErrorCode(error);
      return code ? { ...formatted, extensions: { ...formatted.extensions, code } } : formatGraphQLError(formatted, error, logger);
    },
    documentStore,
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
      ...leanApolloPlugins<GraphQLContext>(),
    ],
  });
  await apollo.start();

  async function handleHttp(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    // A client that goes away cancels its completion upstream. `on`: a response closes once (see the REST route).
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort(new GatewayError('cancelled', 'client closed the connection'));
    });
    try {
      const headers = headerMapOf(req);
      // Only a query string is read off the URL; a POST to /graphql has none, and parsing it was ~8 µs of one.
      const target = req.url ?? '/';
      const url = target.includes('?') ? new URL(target, 'http://localhost') : NO_QUERY;
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
      // Size and nesting are checked on the text, before Apollo parses (and caches) it.
      for (const query of queriesOf(req.method, url.searchParams, parsed)) {
        const rejected = checkDocument(query, maxDocumentBytes);
        if (rejected) {
          writeErrors(res, rejected.status, format([rejected.error]));
          return;
        }
      }
      const requestId = headers.get('x-request-id');
      const result = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body: parsed },
        context: async () =>
          createContext({
            services,
            config,
            principal: await principalOf(headers.get('authorization')),
            localMode: auth.localMode,
            signal: abort.signal,
            requestId,
          }),
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
  type Extra = {
    principal: Principal;
    abort: AbortController;
    spans?: Map<string, Span> | undefined;
    holds?: Map<string, () => void> | undefined;
    /** What the client authenticated with: every operation re-checks it (revoked, updated or expired since). */
    authorization?: string | undefined;
  };

  /** 4401 tells the client its credentials are the problem (graphql-ws would say 4403 Forbidden). */
  const unauthorized = (socket: WebSocket) => socket.close(4401, 'Unauthorized');

  /** Closes the socket when a runtime key's expiry passes, ending its open subscriptions with it. */
  function closeAtExpiry(socket: WebSocket, principal: Principal): void {
    if (principal.expiresAt === undefined) return;
    const left = Date.parse(principal.expiresAt) - Date.now();
    // setTimeout takes at most ~24.8 days; a later expiry is caught by the per-operation check.
    if (left > 2_147_483_647) return;
    const timer = setTimeout(() => unauthorized(socket), Math.max(0, left));
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** The operation no longer counts as open for the shutdown (its terminal message has been sent, or its socket closed). */
  function release(extra: { holds?: Map<string, () => void> | undefined }, id: string): void {
    extra.holds?.get(id)?.();
    extra.holds?.delete(id);
  }

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
   * (schema and rules are fixed; depth and complexity do not read variables). Bounded by estimated heap
   * bytes like the HTTP cache (a parsed document holds ~75 bytes per character of its text).
   */
  const validDocuments = createDocumentCache({ maxBytes: DEFAULT_DOCUMENT_CACHE_BYTES / 4 });

  const disposable = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema,
      // Runs the subscription inside its operation span, so the request's route span is its child.
      subscribe: async (args: ExecutionArgs) => {
        const ctx = (args.contextValue as Record<symbol, OtelContext | undefined> | undefined)?.[OPERATION_CONTEXT];
        return requestErrorsAsBadInput(await (ctx ? otelContext.with(ctx, () => graphqlSubscribe(args)) : graphqlSubscribe(args)));
      },
      // graphql-ws calls these before it sends the `complete` / `error` message: the hold is released a turn
      // later, so a shutdown waiting for the last operation does not close the socket (1001) before it.
      onComplete: (ctx, id) => {
        endOperation(ctx.extra, id);
        setImmediate(() => release(ctx.extra, id));
      },
      onError: (ctx, id, _payload, errors) => {
        endOperation(ctx.extra, id, errors[0]?.message ?? 'error');
        setImmediate(() => release(ctx.extra, id));
        return format(errors);
      },
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const fromParams = params.authorization ?? params.Authorization;
        const authorization = typeof fromParams === 'string' ? fromParams : ctx.extra.request.headers.authorization;
        try {
          ctx.extra.principal = await auth.resolve(authorization);
          ctx.extra.authorization = authorization;
        } catch (e) {
          if (!(e instanceof GatewayError && e.kind === 'auth')) throw e;
          unauthorized(ctx.extra.socket);
          return false;
        }
        closeAtExpiry(ctx.extra.socket, ctx.extra.principal);
        const abort = new AbortController();
        ctx.extra.abort = abort;
        ctx.extra.socket.once('close', () => {
          abort.abort(new GatewayError('cancelled', 'socket closed'));
          for (const id of [...(ctx.extra.spans?.keys() ?? [])]) endOperation(ctx.extra, id, 'socket closed');
          for (const id of [...(ctx.extra.holds?.keys() ?? [])]) release(ctx.extra, id);
        });
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        try {
          ctx.extra.principal = await auth.resolve(ctx.extra.authorization);
        } catch (e) {
          if (!(e instanceof GatewayError && e.kind === 'auth')) throw e;
          unauthorized(ctx.extra.socket);
          return [new GraphQLError(e.message, { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        let document = validDocuments.get(payload.query);
        if (document === undefined) {
          const rejected = checkDocument(payload.query, maxDocumentBytes);
          if (rejected) return [rejected.error];
          try {
            document = parse(payload.query);
          } catch (e) {
            return [parseFailed(e)];
          }
          const errors = validate(schema, document, [...specifiedRules, ...rules]);
          if (errors.length > 0) return errors.map(withValidationCode);
          validDocuments.set(payload.query, document);
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
        if (deps.shutdown) (ctx.extra.holds ??= new Map()).set(id, deps.shutdown.hold());
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: {
            ...createContext({
              services,
              config,
              principal: ctx.extra.principal!,
              localMode: auth.localMode,
              signal: ctx.extra.abort?.signal,
              shutdown: deps.shutdown?.signal,
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
      if (refuseForeignUpgrade(req, socket, allowedOrigins)) return;
      wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
    },
    documentCache,
    async close() {
      await disposable.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      await apollo.stop();
    },
  };
}
