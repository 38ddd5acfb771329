import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { GatewayError, issueMessage, type AttemptRecord, type Completion, type Principal } from '../../core/index.ts';
import { wireProtocolOf } from '../../core/protocols.ts';
import { maySeeRoute, pinnableDeployments } from '../../gateway/access-rule.ts';
import { endOnShutdown } from '../../gateway/end-on-shutdown.ts';
import { embeddingsRequest } from '../../gateway/embeddings.ts';
import type { Gateway, Services } from '../../gateway/services.ts';
import { CACHE_MODES, type CacheDirective, type GatewayRequest, type StoreRequest } from '../../gateway/gateway-request.ts';
import { paramsNotFor } from '../../gateway/protocol-params.ts';
import { rateLimitHeaders } from '../../gateway/limits-stage.ts';
import type { RequestFindings } from '../../gateway/request-context.ts';
import { parseChatBody } from './chat-request.ts';
import { ChunkEncoder, completionBody, errorBody, errorStatus, thinkingBlocksOf } from './chat-response.ts';

export interface RestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  principal: Principal;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Aborted at the end of the shutdown grace period: an open stream then ends with a `shutting_down` error frame. */
  shutdown?: AbortSignal | undefined;
}

export function attemptsHeader(attempts: readonly AttemptRecord[]): string {
  // Most requests make one attempt: no array and join for them.
  if (attempts.length === 1) return attemptLog(attempts[0]!);
  return attempts.map(attemptLog).join(', ');
}

const attemptLog = (a: AttemptRecord): string => `${a.provider}/${a.model};status=${a.status === 'ok' ? 'ok' : a.errorKind};ms=${Math.round(a.latencyMs)}`;

/**
 * A completion's response headers as a flat [name, value, …] list (what `writeHead` takes fastest), with the
 * store features' findings after them. The body's length is known, so the response is not chunked.
 */
export function completionHeaders(c: Completion, requestId: string, meta: RequestFindings, bodyBytes: number): string[] {
  const h = [
    'content-type', 'application/json',
    'content-length', String(bodyBytes),
    'x-request-id', requestId,
    'x-switchboard-route', c.route,
    'x-switchboard-route-version', String(c.routeVersion),
    'x-switchboard-provider', c.provider,
    'x-switchboard-model', c.model,
    'x-switchboard-attempts', String(c.attempts.length),
    'x-switchboard-attempt-log', attemptsHeader(c.attempts),
  ];
  // A cache hit's cost header comes from the store's findings (below), never twice.
  if (c.costUsd !== null && !servedFromCache(meta)) h.push('x-switchboard-cost-usd', String(c.costUsd));
  pushStoreHeaders(h, meta);
  return h;
}

/** Sends an OpenAI-style error; `retry-after` for rate limits; attempts when routing failed. */
export function sendError(res: ServerResponse, e: GatewayError, requestId: string, attempts?: readonly AttemptRecord[]): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  if (e.retryAfterMs !== undefined && (e.kind === 'rate_limited' || e.kind === 'overloaded' || e.kind === 'budget_exceeded')) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(e.retryAfterMs / 1000)));
  }
  if (attempts && attempts.length > 0) {
    headers['x-switchboard-attempts'] = String(attempts.length);
    headers['x-switchboard-attempt-log'] = attemptsHeader(attempts);
  }
  res.writeHead(errorStatus(e), headers).end(JSON.stringify(errorBody(e)));
}

const CACHE_HEADER = 'x-switchboard-cache';

function badCacheHeader(message: string): GatewayError {
  return new GatewayError('invalid_request', `${CACHE_HEADER}: ${message} (e.g. "BYPASS" or "DEFAULT; ttl=60")`, { param: CACHE_HEADER });
}

/** `x-switchboard-cache: MODE[; ttl=SECONDS]`, MODE one of DEFAULT, BYPASS, REFRESH, ONLY. */
export function parseCacheHeader(value: string | string[] | undefined): CacheDirective | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(';') : value;
  const [head, ...params] = text.split(';').map((p) => p.trim());
  const mode = head!.toUpperCase();
  if (!(CACHE_MODES as readonly string[]).includes(mode)) throw badCacheHeader(`unknown mode "${head}"`);
  const directive: CacheDirective = { mode: mode as CacheDirective['mode'] };
  for (const p of params) {
    if (p === '') continue;
    const m = /^(?:ttl|ttlSeconds)\s*=\s*(\d+)$/i.exec(p);
    if (!m || Number(m[1]) <= 0) throw badCacheHeader(`cannot read "${p}"; ttl is whole seconds above 0`);
    directive.ttlSeconds = Number(m[1]);
  }
  return directive;
}

const servedFromCache = (meta: RequestFindings) => meta.cacheStatus === 'HIT' || meta.cacheStatus === 'COALESCED';

/** What the store features found out, as response headers (also on errors: a 429 carries its limits). */
export function storeHeaders(meta: RequestFindings): Record<string, string> {
  if (meta.cacheStatus === undefined && !meta.idempotentReplay && (meta.rateLimits === undefined || meta.rateLimits.length === 0)) return {};
  return {
    ...(meta.cacheStatus && { [CACHE_HEADER]: meta.cacheStatus }),
    ...(meta.idempotentReplay && { 'x-switchboard-idempotent-replay': 'true' }),
    // A hit is known before the first token, so a replayed stream's headers can say what it costs.
    ...(servedFromCache(meta) && { 'x-switchboard-cost-usd': '0' }),
    ...rateLimitHeaders(meta.rateLimits ?? []),
  };
}

/** storeHeaders onto a flat header list; the common findings (a cache miss or bypass, no limits) without an object between. */
function pushStoreHeaders(h: string[], meta: RequestFindings): void {
  if (!meta.idempotentReplay && (meta.rateLimits === undefined || meta.rateLimits.length === 0) && !servedFromCache(meta)) {
    if (meta.cacheStatus !== undefined) h.push(CACHE_HEADER, meta.cacheStatus);
    return;
  }
  for (const [k, v] of Object.entries(storeHeaders(meta))) h.push(k, v);
}

export function setHeaders(res: ServerResponse, headers: Record<string, string>): void {
  if (res.headersSent) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
}

/** The answer of `call`; when it fails, the stages' findings are set as headers of the error response the caller writes. */
export async function withFindings<T>(res: ServerResponse, meta: RequestFindings, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    setHeaders(res, storeHeaders(meta));
    throw e;
  }
}

/**
 * Backpressure for a stream: called when `res.write` returned false, resolves true once the client has
 * taken the buffered frames ('drain') or false when it is gone ('close'). Until then the stream loop does
 * not pull the next delta, so the provider's response is not read either and its socket is paused (the
 * HTTP client stops reading past its own small buffer); a client reading slowly cannot make the gateway
 * hold the whole reply in memory. Called only when the buffer is full, so the usual write costs nothing.
 */
export function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/** What every API request carries besides its body: who asks, its id and abort signal, and the cache and idempotency headers. */
export function requestControls(ctx: RestContext) {
  const idempotencyKey = ctx.req.headers['idempotency-key'];
  return {
    requestId: ctx.requestId,
    signal: ctx.signal,
    principal: ctx.principal,
    cache: parseCacheHeader(ctx.req.headers[CACHE_HEADER]),
    idempotencyKey: Array.isArray(idempotencyKey) ? idempotencyKey[0] : idempotencyKey,
  };
}

const DROPPED_HEADER = 'x-switchboard-dropped-params';

/**
 * The parameters of `request` the answering provider's protocol could not take, which it therefore ran
 * without (the route's `unsupportedParams: drop`; under `refuse` such a target never answers): a function
 * of the protocol, so a cached or replayed answer names them too.
 */
function droppedFor(request: GatewayRequest, catalog: Services['catalog'], provider: string): string {
  if (!request.protocolParams) return '';
  const config = catalog.provider(provider);
  return config ? paramsNotFor(request.protocolParams, wireProtocolOf(config.protocol)).join(', ') : '';
}

export async function chatCompletions(ctx: RestContext, raw: unknown, gateway: Gateway, services: Pick<Services, 'catalog'>): Promise<void> {
  const parsedBody = parseChatBody(raw);
  const { stream, includeUsage } = parsedBody;
  const request: StoreRequest = Object.assign(parsedBody.request, requestControls(ctx));
  // The request's context: what the pipeline's stages find out (cache status, rate limits) becomes headers.
  const meta = gateway.prepare(request);
  if (!stream) {
    const c = await withFindings(ctx.res, meta, gateway.complete(meta));
    const json = JSON.stringify(completionBody(c));
    const headers = completionHeaders(c, ctx.requestId, meta, Buffer.byteLength(json));
    const dropped = droppedFor(request, services.catalog, c.provider);
    if (dropped) headers.push(DROPPED_HEADER, dropped);
    ctx.res.writeHead(200, headers);
    ctx.res.end(json);
    return;
  }
  const { res } = ctx;
  let enc: ChunkEncoder | undefined;
  let started: { provider: string; model: string; route: string; routeVersion: number } | undefined;
  // Headers wait for the first token: until then a failure can still be a proper HTTP error status
  // (the client's SDK raises its usual error class), and the headers name the target that answered.
  // Returns the role frame the first time (the caller sends it in one write with the first delta, so the
  // first token leaves in the same packet as the headers), '' after.
  const open = (completionId: string, attempts?: number): string => {
    if (res.headersSent) return '';
    enc = new ChunkEncoder(completionId, started?.model ?? request.model ?? 'unknown');
    // A flat [name, value, …] list, as for completions: writeHead takes it without a per-header pass.
    const h = ['content-type', 'text/event-stream; charset=utf-8', 'cache-control', 'no-cache', 'connection', 'keep-alive', 'x-request-id', ctx.requestId];
    if (started) {
      h.push('x-switchboard-route', started.route, 'x-switchboard-route-version', String(started.routeVersion), 'x-switchboard-provider', started.provider, 'x-switchboard-model', started.model);
      const dropped = droppedFor(request, services.catalog, started.provider);
      if (dropped) h.push(DROPPED_HEADER, dropped);
    }
    pushStoreHeaders(h, meta);
    if (attempts !== undefined) h.push('x-switchboard-attempts', String(attempts));
    res.writeHead(200, h);
    return enc.role();
  };
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
        // A bare signature has no text to show; the signed blocks come whole before the finish.
        if (ev.text === '' || ev.redacted === true) break;
        const first = open(id);
        if (!res.write(first + enc!.reasoning(ev.text)) && !(await drained(res))) return;
        break;
      }
      case 'text-delta': {
        const first = open(id);
        // A full socket buffer: stop pulling from upstream until the client reads (or leaves).
        if (!res.write(first + enc!.text(ev.text)) && !(await drained(res))) return;
        break;
      }
      case 'tool-call-delta': {
        const first = open(id);
        if (!res.write(first + enc!.toolCall(ev.index, ev.id, ev.name, ev.argumentsDelta)) && !(await drained(res))) return;
        break;
      }
      case 'done': {
        const c = ev.completion;
        const first = open(c.id, c.attempts.length);
        const blocks = thinkingBlocksOf(c.message.reasoningParts);
        // The end of the stream in one write: signed reasoning blocks, finish, usage, [DONE].
        res.end(first + (blocks ? enc!.thinkingBlocks(blocks) : '') + enc!.finish(c.finishReason) + (includeUsage ? enc!.usage(c.usage) : '') + enc!.done());
        return;
      }
      case 'error':
        if (!res.headersSent) {
          setHeaders(res, storeHeaders(meta));
          sendError(res, ev.error, ctx.requestId, ev.attempts);
          return;
        }
        // Mid-stream: OpenAI's in-band error frame, and no [DONE] — the stream did not complete.
        res.end(enc!.error(ev.error));
        return;
    }
  }
}

export function listModels(ctx: RestContext, services: Pick<Services, 'catalog' | 'routes'>): void {
  const { catalog, routes } = services;
  const created = Math.floor(Date.now() / 1000);
  // What this key may name in `model`: its routes and the models it may pin (everything for an admin).
  const p = ctx.principal;
  const models = p.scope === 'admin' ? catalog.models() : pinnableDeployments(p, catalog.models(), routes);
  const data = [
    ...routes.list().filter((r) => maySeeRoute(p, r.route.name)).map((r) => ({ id: r.route.name, object: 'model', created, owned_by: 'switchboard-route' })),
    ...models.map((m) => ({ id: m.model.id, object: 'model', created, owned_by: m.provider.id })),
  ];
  const seen = new Set<string>();
  const unique = data.filter((d) => (seen.has(d.id) ? false : (seen.add(d.id), true)));
  ctx.res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': ctx.requestId });
  ctx.res.end(JSON.stringify({ object: 'list', data: unique }));
}

const EmbeddingsBody = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  dimensions: z.number().int().positive().optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
});

/**
 * POST /v1/embeddings through the same pipeline as chat: `model` names a route or an embeddings model;
 * fallback, limits, budgets, the cache and the ledger apply, and the response carries chat's headers.
 */
export async function embeddings(ctx: RestContext, raw: unknown, gateway: Gateway): Promise<void> {
  const parsed = EmbeddingsBody.safeParse(raw);
  if (!parsed.success) {
    // Dotted (`input.3`), unlike chat's `messages[3]`: clients already read this `param`.
    const issue = parsed.error.issues[0]!;
    const param = issue.path.join('.') || 'body';
    throw new GatewayError('invalid_request', `${param}: ${issueMessage(issue)}`, { param });
  }
  const body = parsed.data;
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  const meta = gateway.prepare(embeddingsRequest({ model: body.model, embeddings: { input, dimensions: body.dimensions }, ...requestControls(ctx) }));
  const r = await withFindings(ctx.res, meta, gateway.embed(meta));
  const base64 = body.encoding_format === 'base64';
  const json = JSON.stringify({
    object: 'list',
    data: r.embeddings.map((e, index) => ({
      object: 'embedding',
      index,
      // The official SDK asks for base64 by default: little-endian float32, as OpenAI sends it.
      embedding: base64 ? Buffer.from(new Float32Array(e).buffer).toString('base64') : e,
    })),
    model: r.model,
    usage: { prompt_tokens: r.usage.inputTokens, total_tokens: r.usage.inputTokens },
  });
  ctx.res.writeHead(200, completionHeaders(r, ctx.requestId, meta, Buffer.byteLength(json)));
  ctx.res.end(json);
}
