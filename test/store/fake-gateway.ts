import { GatewayError, type ChatRequest, type Completion, type CompletionEvent, type FinishReason } from '../../src/core/index.ts';
import type { StoreRequest } from '../../src/gateway/gateway-request.ts';
import { createPipeline, type RequestPipeline, type Stage, type Upstream } from '../../src/gateway/pipeline.ts';
import type { GatewayCall } from '../../src/gateway/request-context.ts';
import { ResolvedRequest } from '../../src/gateway/route-resolver.ts';

export interface FakeReply {
  text?: string;
  finishReason?: FinishReason;
  costUsd?: number | null;
  inputTokens?: number;
  outputTokens?: number;
  /** Throw (complete) or end with an error event (stream) instead of answering. */
  fail?: boolean;
  /** For streams: fail after the first delta. */
  failMidStream?: boolean;
}

/**
 * A stand-in for the gateway service: counts upstream calls, and can hold every call until `release()`
 * so concurrent requests really are in flight together.
 */
export function fakeGateway(reply: (req: StoreRequest, n: number) => FakeReply = () => ({})) {
  let n = 0;
  let held: Promise<void> | undefined;
  let release: () => void = () => {};
  const build = (call: GatewayCall, r: FakeReply, i: number): Completion => ({
    id: `cmpl_up_${i}`,
    route: call.resolved.route.name,
    routeVersion: 1,
    provider: 'sim',
    model: 'm',
    upstreamModel: 'm-2025',
    message: { role: 'assistant', content: r.text ?? `answer to ${JSON.stringify(call.request.chat.messages.at(-1)?.content)}`, toolCalls: [] },
    finishReason: r.finishReason ?? 'stop',
    usage: { inputTokens: r.inputTokens ?? 10, outputTokens: r.outputTokens ?? 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    costUsd: r.costUsd === undefined ? 0.001 : r.costUsd,
    latencyMs: 12,
    timeToFirstTokenMs: null,
    cached: false,
    attempts: [{ provider: 'sim', model: 'm', status: 'ok', latencyMs: 12 }],
    createdAt: new Date(),
    traceId: null,
    principal: call.request.principal?.name,
  });
  const g = {
    get calls() {
      return n;
    },
    hold() {
      held = new Promise((r) => (release = r));
    },
    release: () => release(),
    async complete(call: GatewayCall): Promise<Completion> {
      const req = call.request as StoreRequest;
      const i = ++n;
      if (held) await held;
      const r = reply(req, i);
      if (r.fail) throw Object.assign(new Error('upstream failed'), { name: 'UpstreamError' });
      return build(call, r, i);
    },
    async *stream(call: GatewayCall): AsyncGenerator<CompletionEvent> {
      const req = call.request as StoreRequest;
      const i = ++n;
      if (held) await held;
      const r = reply(req, i);
      const c = build(call, r, i);
      if (r.fail) {
        yield { type: 'error', id: c.id, error: new GatewayError('unavailable', 'upstream failed'), partialText: '', attempts: [] };
        return;
      }
      yield { type: 'start', id: c.id, route: c.route, routeVersion: 1, provider: 'sim', model: 'm' };
      const text = c.message.content ?? '';
      yield { type: 'text-delta', text: text.slice(0, 3) };
      if (r.failMidStream) {
        yield { type: 'error', id: c.id, error: new GatewayError('invalid_response', 'cut'), partialText: text.slice(0, 3), attempts: [] };
        return;
      }
      yield { type: 'text-delta', text: text.slice(3) };
      yield { type: 'done', completion: c };
    },
  };
  return g satisfies Upstream & Record<string, unknown>;
}

/** A stand-in for the gateway's resolution: the request's own route, no targets (these tests inject cost estimates). */
export function resolvedOf(req: StoreRequest): ResolvedRequest {
  const name = req.route ?? 'default';
  const route = { name, strategy: 'priority' as const, targets: [], maxAttempts: 2, deadlineMs: 60_000, resumeStreams: false, onContentFilter: 'stop' as const, expectedOutputTokens: 256 };
  return new ResolvedRequest(req.chat, req.principal, 'route', route, 1, [], req.route, req.model);
}

/**
 * `stages` composed around a fake upstream, behind a stand-in for the gateway's resolution, as the app
 * composes them around the gateway. `authorize` may refuse a request there, as the access rule would.
 */
export function pipelineOf(stages: Stage[], upstream: Upstream, opts: { now?: () => number; authorize?: (req: StoreRequest) => void } = {}): RequestPipeline {
  const resolve: Stage = {
    name: 'resolve',
    before(ctx) {
      opts.authorize?.(ctx.request);
      ctx.resolved = resolvedOf(ctx.request);
    },
  };
  return createPipeline({ stages: [resolve, ...stages], upstream, now: opts.now });
}

export function chat(content: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  return { messages: [{ role: 'user', content }], temperature: 0, ...extra };
}

export async function collect(events: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}
