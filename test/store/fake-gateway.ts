import { GatewayError, type ChatRequest, type FinishReason } from '../../src/core/index.ts';
import type { Completion, CompletionEvent } from '../../src/gateway/completion.ts';
import type { Handlers, StoreRequest } from '../../src/gateway/handlers.ts';

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
  const build = (req: StoreRequest, r: FakeReply, i: number): Completion => ({
    id: `cmpl_up_${i}`,
    route: req.route ?? 'default',
    routeVersion: 1,
    provider: 'sim',
    model: 'm',
    upstreamModel: 'm-2025',
    message: { role: 'assistant', content: r.text ?? `answer to ${JSON.stringify(req.chat.messages.at(-1)?.content)}`, toolCalls: [] },
    finishReason: r.finishReason ?? 'stop',
    usage: { inputTokens: r.inputTokens ?? 10, outputTokens: r.outputTokens ?? 5, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 },
    costUsd: r.costUsd === undefined ? 0.001 : r.costUsd,
    latencyMs: 12,
    timeToFirstTokenMs: null,
    cached: false,
    attempts: [{ provider: 'sim', model: 'm', status: 'ok', latencyMs: 12 }],
    createdAt: new Date(),
    traceId: null,
    principal: req.principal?.name,
  });
  const g = {
    get calls() {
      return n;
    },
    hold() {
      held = new Promise((r) => (release = r));
    },
    release: () => release(),
    async complete(req: StoreRequest): Promise<Completion> {
      const i = ++n;
      if (held) await held;
      const r = reply(req, i);
      if (r.fail) throw Object.assign(new Error('upstream failed'), { name: 'UpstreamError' });
      return build(req, r, i);
    },
    async *stream(req: StoreRequest): AsyncGenerator<CompletionEvent> {
      const i = ++n;
      if (held) await held;
      const r = reply(req, i);
      const c = build(req, r, i);
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
  return g satisfies Handlers<StoreRequest> & Record<string, unknown>;
}

export function chat(content: string, extra: Partial<ChatRequest> = {}): ChatRequest {
  return { messages: [{ role: 'user', content }], temperature: 0, ...extra };
}

export async function collect(events: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}
