import { randomUUID } from 'node:crypto';
import type * as Http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../config/index.ts';
import { GatewayError, toGatewayError } from '../core/index.ts';
import type { Services } from '../gateway/services.ts';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from '../telemetry/logger.ts';
import { withServerSpan } from '../telemetry/server-span.ts';
import { currentTraceId } from '../telemetry/tracing.ts';
import type { Authenticator } from './authenticator.ts';
import { gatewayErrorExtensions } from '../../resolvers/error-extensions.ts';
import { createCors, isCorsPath } from './cors.ts';
import { FOREIGN_HOST_MESSAGE, loopbackHostCheck } from './origin-policy.ts';
import { createConsoleAssets } from './console-assets.ts';
import { createLazyGraphQLEndpoint } from './graphql/lazy-graphql-endpoint.ts';
import { writeErrors } from './graphql/write-errors.ts';
import { chatCompletions, embeddings, listModels, sendError, type RestContext } from './openai-compat/openai-routes.ts';
import { createMessagesRoutes, MESSAGES_PATHS } from './anthropic-compat/messages-routes.ts';
import { createStreamShutdown } from './stream-shutdown.ts';
import { closeAfterAnswer } from './lingering-close.ts';

/** After the grace period: how long streams get to deliver their `shutting_down` terminal event. */
const CUT_FLUSH_MS = 1_000;

export interface ServerDeps {
  config: Config;
  /** The gateway and the services the APIs read (catalog, routes, keys, usage); `metrics` is served on GET /metrics. */
  services: Services;
  auth: Authenticator;
  logger: Logger;
  /** Extra readiness checks (the store adds one); each returns null when fine or a reason. */
  readiness?: Array<() => Promise<string | null> | string | null>;
  /** Server spans of API requests (the no-op tracer when tracing is off). */
  tracer?: Tracer | undefined;
}

/**
 * `node:http` through require, not `import`: an ES import makes Node build the module's namespace, which
 * reads its lazy `WebSocket`/`MessageEvent` getters and so loads Node's whole bundled undici (fetch,
 * WebSocket, web streams): ~5 MiB of an idle gateway's memory for APIs it never uses.
 */
const { createServer } = createRequire(import.meta.url)('node:http') as typeof Http;

const TRACED_ROUTES = new Set(['/graphql', '/v1/chat/completions', '/v1/embeddings', '/v1/models', ...MESSAGES_PATHS]);

/** The route template of an API request (never the raw URL), or undefined for health and metrics. */
function tracedRoute(url: string | undefined): string | undefined {
  const path = (url ?? '/').split('?', 1)[0]!;
  if (TRACED_ROUTES.has(path)) return path;
  return path.startsWith('/v1/') ? '/v1/*' : undefined;
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  /** Stops accepting, lets open requests and streams finish for up to `graceMs`, then ends open streams with a `shutting_down` error and closes them. */
  close(graceMs?: number): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Reads the body up to `limit` bytes; past it, a payload_too_large error. Reading stops there but the
 * request is not destroyed: the caller answers 413 with `connection: close`, and the socket closes once
 * that answer is out (destroying it first would reset the connection under the client's feet).
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(new GatewayError('payload_too_large', `request body over ${limit} bytes`));
  // Events rather than `for await`: a stream's async iterator costs a visible share of a small request.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new GatewayError('payload_too_large', `request body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
      // The declared length is all there will be: no need to wait for the parser's end of message and
      // the tick that emits 'end' (on a cold CPU, a visible share of a small request).
      if (size === declared) onEnd();
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    // The client went away before the body was complete (the async iterator would have failed too).
    const onClose = () => {
      cleanup();
      reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function parseJson(text: string): unknown {
  if (!text) throw new GatewayError('invalid_request', 'request body is empty; expected JSON', { param: 'body' });
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_request', 'request body is not valid JSON', { param: 'body' });
  }
}

/** One port for everything: GraphQL over HTTP and WebSocket, the OpenAI-compatible REST API, health. */
export async function startServer(deps: ServerDeps, listen: { host: string; port: number }): Promise<RunningServer> {
  const { config, services, auth, logger } = deps;
  const { gateway, metrics } = services;
  const shutdown = createStreamShutdown();
  const graphql = createLazyGraphQLEndpoint({ services, config, auth, logger, tracer: deps.tracer, shutdown });
  if (config.server.graphql.preload) await graphql.load();
  const limit = config.server.bodyLimitBytes;
  const cors = createCors(config.server.cors);
  // GraphiQL is a local-mode convenience unless the config turns it on (or off) explicitly.
  const assets = createConsoleAssets({ console: config.server.console.enabled, graphiql: config.server.graphiql ?? auth.localMode, localMode: auth.localMode });
  const openStreams = new Set<ServerResponse>();
  const isLoopbackHost = loopbackHostCheck();
  const anthropic = createMessagesRoutes({ gateway, auth, readJson: async (req) => parseJson(await readBody(req, limit)), shutdown, openStreams, logger });
  let draining = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    try {
      if (auth.localMode && !isLoopbackHost(req.headers.host)) {
        res.writeHead(421, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error: { message: FOREIGN_HOST_MESSAGE, type: 'invalid_request_error', code: 'forbidden', param: 'host' } }));
        return;
      }
      if (path === '/metrics' && req.method === 'GET' && metrics) {
        await metrics.handler(req, res);
        return;
      }
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      if (path === '/readyz') {
        const problems = draining ? ['shutting down'] : (await Promise.all((deps.readiness ?? []).map((c) => c()))).filter((p): p is string => p !== null);
        const status = draining ? 'draining' : problems.length > 0 ? 'degraded' : 'ready';
        // Degraded still serves (e.g. Redis down: cache bypassed), so it stays 200; draining does not.
        res.writeHead(draining ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify({ status, problems }));
        return;
      }
      // Before either API runs, so its answers (errors included) carry the CORS headers a page needs to read them.
      if (isCorsPath(path) && cors.handle(req, res)) return;
      if (path === '/graphql') {
        if (assets.wantsGraphiQL(req, new URLSearchParams(q === -1 ? '' : url.slice(q + 1)))) return await assets.serveGraphiQL(req, res);
        let body = '';
        try {
          if (req.method === 'POST') body = await readBody(req, limit);
        } catch (e) {
          if (!(e instanceof GatewayError && e.kind === 'payload_too_large')) throw e;
          // A GraphQL client reads errors[], not OpenAI's error object.
          closeAfterAnswer(req, res);
          writeErrors(res, 413, [{ message: e.message, extensions: gatewayErrorExtensions(e) }], { connection: 'close' });
          return;
        }
        await graphql.handleHttp(req, res, body);
        return;
      }
      if (path.startsWith('/console') && (await assets.handle(req, res, path))) return;
      if (MESSAGES_PATHS.has(path)) return await anthropic.handle(req, res, requestId, path);
      if (path.startsWith('/v1/')) {
        const principal = await auth.resolve(req.headers.authorization);
        const controller = new AbortController();
        // The client going away (socket closed before we finished) cancels the upstream call. `on`, not
        // `once`: a response closes once, and once's wrapper is a bound function and a removal per request.
        res.on('close', () => {
          if (!res.writableFinished) controller.abort();
        });
        const ctx: RestContext = { req, res, requestId, principal, signal: controller.signal, shutdown: shutdown.signal };
        if (path === '/v1/chat/completions' && req.method === 'POST') {
          const body = parseJson(await readBody(req, limit));
          openStreams.add(res);
          const release = shutdown.hold();
          try {
            await chatCompletions(ctx, body, gateway, services);
          } finally {
            openStreams.delete(res);
            release();
            // A stream the shutdown ended (its error frame is out): its upstream call stops now.
            if (shutdown.signal.aborted) controller.abort();
          }
          return;
        }
        if (path === '/v1/models' && req.method === 'GET') return listModels(ctx, services);
        if (path === '/v1/embeddings' && req.method === 'POST') return await embeddings(ctx, parseJson(await readBody(req, limit)), gateway);
      }
      throw new GatewayError('not_found', `no route for ${req.method} ${path}`);
    } catch (e) {
      const err = toGatewayError(e);
      if (err.kind === 'internal') logger.error({ err: { message: err.message }, requestId, path }, 'request failed');
      // The rest of an oversized body is never read: the connection closes after this answer.
      if (err.kind === 'payload_too_large' && !res.headersSent) closeAfterAnswer(req, res);
      sendError(res, err, requestId, (e as { attempts?: [] }).attempts);
    }
  }

  /** API requests run inside their server span, whose trace id is sent as `x-trace-id` before any other header. */
  function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!deps.tracer) return handle(req, res);
    const route = tracedRoute(req.url);
    if (!route) return handle(req, res);
    return withServerSpan(deps.tracer, { method: req.method ?? 'GET', route, headers: req.headers }, async (span) => {
      const traceId = currentTraceId();
      if (traceId) res.setHeader('x-trace-id', traceId);
      await handle(req, res);
      span.setAttribute('http.response.status_code', res.statusCode);
    });
  }

  const { headersTimeoutMs, bodyTimeoutMs, keepAliveTimeoutMs, maxConnections } = config.server;
  const server = createServer(
    {
      noDelay: true,
      keepAliveTimeout: keepAliveTimeoutMs,
      // Node's requestTimeout is the time to receive the whole request (headers and body) and stops once it
      // has: a long streamed response is never cut by it. A connection that trickles or never sends its
      // headers, or never finishes its body, gets 408 and is closed (requestTimeout 0 would disable both).
      headersTimeout: headersTimeoutMs,
      requestTimeout: Math.max(bodyTimeoutMs, headersTimeoutMs),
      // How often Node checks those timeouts (default 30 s, which would triple a 10 s headers timeout).
      connectionsCheckingInterval: Math.min(1_000, Math.max(25, Math.floor(Math.min(headersTimeoutMs, bodyTimeoutMs) / 4))),
    },
    (req, res) => {
      void serve(req, res);
    },
  );
  // Connections (WebSockets included) past the cap are closed as soon as they are accepted.
  server.maxConnections = maxConnections;
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/graphql' || draining || (auth.localMode && !isLoopbackHost(req.headers.host))) {
      socket.destroy();
      return;
    }
    // A runtime key in the upgrade's Authorization header is looked up first (keys in connectionParams
    // are found when this instance already holds them).
    void auth
      .resolve(req.headers.authorization)
      .catch(() => undefined)
      .then(() => graphql.handleUpgrade(req, socket, head));
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(listen.port, listen.host, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;

  return {
    url: `http://${host}:${port}`,
    port,
    server,
    async close(graceMs = config.server.shutdownGraceMs) {
      draining = true;
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeIdleConnections();
      // Streams (REST and GraphQL) still open after the grace period end with a typed shutting_down event,
      // which gets a moment to reach the client before the sockets close.
      if (!(await shutdown.idle(graceMs))) {
        shutdown.cut();
        await shutdown.idle(CUT_FLUSH_MS);
      }
      for (const res of openStreams) res.destroy();
      await graphql.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
