import type { IncomingMessage, ServerResponse } from 'node:http';
import { attemptsOf, estimateInputTokens, GatewayError, toGatewayError } from '../../core/index.ts';
import { endOnShutdown } from '../../gateway/end-on-shutdown.ts';
import type { StoreRequest } from '../../gateway/gateway-request.ts';
import type { Gateway } from '../../gateway/services.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { Authenticator } from '../authenticator.ts';
import { completionHeaders, drained, requestControls, setHeaders, storeHeaders, withFindings, type RestContext } from '../openai-compat/openai-routes.ts';
import { closeAfterAnswer } from '../lingering-close.ts';
import type { StreamShutdown } from '../stream-shutdown.ts';
import { sendAnthropicError } from './anthropic-errors.ts';
import { parseCountTokensBody, parseMessagesBody } from './messages-request.ts';
import { messageBody, messageIdOf } from './messages-response.ts';
import { MessageStreamEncoder } from './messages-stream.ts';

/**
 * The Anthropic Messages API: `POST /v1/messages` and `POST /v1/messages/count_tokens`, through the same
 * pipeline as REST chat (routes, fallback, limits, budgets, cache, idempotency, ledger) and with REST's
 * response headers, but Anthropic's bodies, stream events and errors, so Anthropic SDKs and Claude Code
 * work against the gateway by changing only their base URL. Auth, body reading and errors are handled
 * here, not in the server's REST branch, so every answer (a bad key or an oversized body included) is in
 * Anthropic's error shape.
 */

const MESSAGES = '/v1/messages';
const COUNT_TOKENS = '/v1/messages/count_tokens';
export const MESSAGES_PATHS: ReadonlySet<string> = new Set([MESSAGES, COUNT_TOKENS]);

export interface MessagesRoutesDeps {
  gateway: Gateway;
  auth: Pick<Authenticator, 'localMode' | 'resolve'>;
  /** The server's body reader (its size limit) and JSON parser. */
  readJson(req: IncomingMessage): Promise<unknown>;
  shutdown: StreamShutdown;
  /** Streams the server destroys when it closes. */
  openStreams: Set<ServerResponse>;
  logger: Logger;
}

export interface MessagesRoutes {
  handle(req: IncomingMessage, res: ServerResponse, requestId: string, path: string): Promise<void>;
}

/**
 * The gateway key as Anthropic clients send it: `x-api-key` (the SDK's `apiKey`), else `Authorization:
 * Bearer` (its `authToken`, Claude Code's ANTHROPIC_AUTH_TOKEN), as the Authorization value the
 * authenticator reads.
 */
function authorizationOf(req: IncomingMessage): string | undefined {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key !== '') return `Bearer ${key}`;
  return req.headers.authorization;
}

async function countTokens(ctx: RestContext, raw: unknown, gateway: Gateway): Promise<void> {
  const request = parseCountTokensBody(raw);
  // The same count routing uses (chars/4, the tokenizer near a context window), after the same route
  // resolution and access rule: an estimate, not the target's own tokenizer.
  const plan = await gateway.explain({ ...request, requestId: ctx.requestId, signal: ctx.signal, principal: ctx.principal });
  const json = JSON.stringify({ input_tokens: plan.estimatedInputTokens });
  ctx.res.writeHead(200, [
    'content-type', 'application/json',
    'content-length', String(Buffer.byteLength(json)),
    'x-request-id', ctx.requestId,
    'request-id', ctx.requestId,
    'x-switchboard-route', plan.route,
  ]);
  ctx.res.end(json);
}

async function messages(ctx: RestContext, raw: unknown, gateway: Gateway): Promise<void> {
  const parsed = parseMessagesBody(raw);
  const request: StoreRequest = Object.assign(parsed.request, requestControls(ctx));
  const meta = gateway.prepare(request);
  const { res, requestId } = ctx;
  if (!parsed.stream) {
    const c = await withFindings(res, meta, gateway.complete(meta));
    const json = JSON.stringify(messageBody(c));
    res.writeHead(200, [...completionHeaders(c, requestId, meta, Buffer.byteLength(json)), 'request-id', requestId]);
    res.end(json);
    return;
  }
  let enc: MessageStreamEncoder | undefined;
  let started: { provider: string; model: string; route: string; routeVersion: number } | undefined;
  // As on REST, headers wait for the first content: until then a failure (every target failed, the
  // router failing over invisibly in between) is an HTTP error the SDK raises as its own error class.
  // Returns message_start and a ping the first time (sent in one write with the first delta), '' after.
  const open = (completionId: string, attempts?: number): string => {
    if (res.headersSent) return '';
    const model = started?.model ?? request.model ?? 'unknown';
    enc = new MessageStreamEncoder(messageIdOf(completionId), model, requestId);
    const h = ['content-type', 'text/event-stream; charset=utf-8', 'cache-control', 'no-cache', 'connection', 'keep-alive', 'x-request-id', requestId, 'request-id', requestId];
    if (started) {
      h.push('x-switchboard-route', started.route, 'x-switchboard-route-version', String(started.routeVersion), 'x-switchboard-provider', started.provider, 'x-switchboard-model', started.model);
    }
    for (const [k, v] of Object.entries(storeHeaders(meta))) h.push(k, v);
    if (attempts !== undefined) h.push('x-switchboard-attempts', String(attempts));
    res.writeHead(200, h);
    return enc.start(estimateInputTokens(request.chat));
  };
  // A full socket buffer: stop pulling from upstream until the client reads (false: it left). Written out at
  // each delta rather than in an async helper, whose promise and turn every chunk would pay.
  let id = '';
  for await (const ev of endOnShutdown(gateway.stream(meta), ctx.shutdown)) {
    switch (ev.type) {
      case 'start':
        id = ev.id;
        started = { provider: ev.provider, model: ev.model, route: ev.route, routeVersion: ev.routeVersion };
        break;
      case 'switch':
        started = { ...started!, provider: ev.to.provider, model: ev.to.model };
        break;
      case 'reasoning-delta': {
        const first = open(id);
        if (!res.write(first + enc!.reasoning(ev)) && !(await drained(res))) return;
        break;
      }
      case 'text-delta': {
        const first = open(id);
        if (!res.write(first + enc!.text(ev.text)) && !(await drained(res))) return;
        break;
      }
      case 'tool-call-delta': {
        const first = open(id);
        let frames: string;
        try {
          frames = enc!.toolCall(ev.index, ev.id, ev.name, ev.argumentsDelta);
        } catch (e) {
          res.end(first + enc!.error(toGatewayError(e)));
          return;
        }
        if (!res.write(first + frames) && !(await drained(res))) return;
        break;
      }
      case 'done': {
        const c = ev.completion;
        res.end(open(c.id, c.attempts.length) + enc!.finish(c));
        return;
      }
      case 'error':
        if (!res.headersSent) {
          setHeaders(res, storeHeaders(meta));
          sendAnthropicError(res, ev.error, requestId, ev.attempts);
          return;
        }
        // After the first event: Anthropic's error event, and no message_stop — the message did not complete.
        res.end(enc!.error(ev.error));
        return;
    }
  }
}

export function createMessagesRoutes(deps: MessagesRoutesDeps): MessagesRoutes {
  const { gateway, auth, shutdown, openStreams, logger } = deps;
  return {
    async handle(req, res, requestId, path) {
      try {
        if (req.method !== 'POST') throw new GatewayError('not_found', `no route for ${req.method} ${path}`);
        const authorization = authorizationOf(req);
        if (authorization === undefined && !auth.localMode) {
          throw new GatewayError('auth', 'missing API key: send "x-api-key: <key>" or "Authorization: Bearer <key>"');
        }
        const principal = await auth.resolve(authorization);
        const controller = new AbortController();
        // The client going away (socket closed before we finished) cancels the upstream call. `on`, not
        // `once`: a response closes once, and once's wrapper is a bound function and a removal per request.
        res.on('close', () => {
          if (!res.writableFinished) controller.abort();
        });
        const ctx: RestContext = { req, res, requestId, principal, signal: controller.signal, shutdown: shutdown.signal };
        const body = await deps.readJson(req);
        if (path === COUNT_TOKENS) {
          await countTokens(ctx, body, gateway);
          return;
        }
        openStreams.add(res);
        const release = shutdown.hold();
        try {
          await messages(ctx, body, gateway);
        } finally {
          openStreams.delete(res);
          release();
          // A stream the shutdown ended (its error event is out): its upstream call stops now.
          if (shutdown.signal.aborted) controller.abort();
        }
      } catch (e) {
        const err = toGatewayError(e);
        if (err.kind === 'internal') logger.error({ err: { message: err.message }, requestId, path }, 'request failed');
        // The rest of an oversized body is never read: the connection closes after this answer.
        if (err.kind === 'payload_too_large' && !res.headersSent) closeAfterAnswer(req, res);
        sendAnthropicError(res, err, requestId, attemptsOf(e));
      }
    },
  };
}
