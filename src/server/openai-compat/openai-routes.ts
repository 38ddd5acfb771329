import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { GatewayError } from '../../core/index.ts';
import type { Completion, Principal } from '../../gateway/completion.ts';
import type { Gateway } from '../../gateway/gateway-service.ts';
import type { AttemptRecord } from '../../router/executor.ts';
import { parseChatBody } from './chat-request.ts';
import { ChunkEncoder, completionBody, errorBody, errorStatus } from './chat-response.ts';

export interface RestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  principal: Principal;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

function attemptsHeader(attempts: readonly AttemptRecord[]): string {
  return attempts.map((a) => `${a.provider}/${a.model};status=${a.status === 'ok' ? 'ok' : a.errorKind};ms=${Math.round(a.latencyMs)}`).join(', ');
}

function completionHeaders(c: Completion, requestId: string): Record<string, string> {
  return {
    'x-request-id': requestId,
    'x-switchboard-route': c.route,
    'x-switchboard-route-version': String(c.routeVersion),
    'x-switchboard-provider': c.provider,
    'x-switchboard-model': c.model,
    'x-switchboard-attempts': String(c.attempts.length),
    'x-switchboard-attempt-log': attemptsHeader(c.attempts),
    ...(c.costUsd !== null && { 'x-switchboard-cost-usd': String(c.costUsd) }),
  };
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

export async function chatCompletions(ctx: RestContext, raw: unknown, gateway: Gateway): Promise<void> {
  const { request, stream, includeUsage } = parseChatBody(raw);
  request.requestId = ctx.requestId;
  request.signal = ctx.signal;
  request.principal = ctx.principal;
  if (!stream) {
    const c = await gateway.complete(request);
    ctx.res.writeHead(200, { 'content-type': 'application/json', ...completionHeaders(c, ctx.requestId) });
    ctx.res.end(JSON.stringify(completionBody(c)));
    return;
  }
  const { res } = ctx;
  let enc: ChunkEncoder | undefined;
  let started: { provider: string; model: string; route: string; routeVersion: number } | undefined;
  // Headers wait for the first token: until then a failure can still be a proper HTTP error status
  // (the client's SDK raises its usual error class), and the headers name the target that answered.
  const open = (completionId: string, extra: Record<string, string> = {}) => {
    if (res.headersSent) return;
    enc = new ChunkEncoder(completionId, started?.model ?? request.model ?? 'unknown');
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': ctx.requestId,
      ...(started && {
        'x-switchboard-route': started.route,
        'x-switchboard-route-version': String(started.routeVersion),
        'x-switchboard-provider': started.provider,
        'x-switchboard-model': started.model,
      }),
      ...extra,
    });
    res.write(enc.role());
  };
  let id = '';
  for await (const ev of gateway.stream(request)) {
    switch (ev.type) {
      case 'start':
        id = ev.id;
        started = { provider: ev.provider, model: ev.model, route: ev.route, routeVersion: ev.routeVersion };
        break;
      case 'switch':
        started = { ...started!, provider: ev.to.provider, model: ev.to.model };
        break;
      case 'text-delta':
        open(id);
        res.write(enc!.text(ev.text));
        break;
      case 'tool-call-delta':
        open(id);
        res.write(enc!.toolCall(ev.index, ev.id, ev.name, ev.argumentsDelta));
        break;
      case 'done': {
        const c = ev.completion;
        open(c.id, { 'x-switchboard-attempts': String(c.attempts.length) });
        res.write(enc!.finish(c.finishReason));
        if (includeUsage) res.write(enc!.usage(c.usage));
        res.end(enc!.done());
        return;
      }
      case 'error':
        if (!res.headersSent) {
          sendError(res, ev.error, ctx.requestId, ev.attempts);
          return;
        }
        // Mid-stream: OpenAI's in-band error frame, and no [DONE] — the stream did not complete.
        res.end(enc!.error(ev.error));
        return;
    }
  }
}

export function listModels(ctx: RestContext, gateway: Gateway): void {
  const created = Math.floor(Date.now() / 1000);
  const data = [
    ...gateway.routes.list().map((r) => ({ id: r.route.name, object: 'model', created, owned_by: 'switchboard-route' })),
    ...gateway.catalog.models().map((m) => ({ id: m.model.id, object: 'model', created, owned_by: m.provider.id })),
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

export async function embeddings(ctx: RestContext, raw: unknown, gateway: Gateway): Promise<void> {
  const parsed = EmbeddingsBody.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.join('.') || 'body';
    throw new GatewayError('invalid_request', `${param}: ${issue.message.replace(/^Invalid input: /, '')}`, { param });
  }
  const body = parsed.data;
  const input = typeof body.input === 'string' ? [body.input] : body.input;
  const r = await gateway.embed({ model: body.model, input, dimensions: body.dimensions, principal: ctx.principal, signal: ctx.signal });
  const base64 = body.encoding_format === 'base64';
  ctx.res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': ctx.requestId, 'x-switchboard-provider': r.provider, 'x-switchboard-model': r.modelId });
  ctx.res.end(
    JSON.stringify({
      object: 'list',
      data: r.embeddings.map((e, index) => ({
        object: 'embedding',
        index,
        // The official SDK asks for base64 by default: little-endian float32, as OpenAI sends it.
        embedding: base64 ? Buffer.from(new Float32Array(e).buffer).toString('base64') : e,
      })),
      model: r.modelId,
      usage: { prompt_tokens: r.usage.inputTokens, total_tokens: r.usage.inputTokens },
    }),
  );
}
