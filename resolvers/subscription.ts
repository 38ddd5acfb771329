import { attemptsOf, GatewayError, graphqlCodeOf, newId, onSharedAbort } from '../src/core/index.ts';
import type { AttemptRecord, Completion, CompletionEvent, TargetRef } from '../src/core/index.ts';
import type { GatewayRequest } from '../src/gateway/gateway-request.ts';
import { endOnShutdown, type CompletionEventStream } from '../src/gateway/end-on-shutdown.ts';
import { toGatewayRequest, type CompletionInputArgs } from './completion-input.ts';
import type { GraphQLContext } from './context.ts';
import { targetFields } from './provider.ts';

/** A CompletionEvent as the GraphQL union member it becomes (`__typename` picks the member). */
export type EventPayload =
  | { __typename: 'CompletionStartEvent'; completionId: string; route: string; routeVersion: number; provider: string; model: string }
  | {
      __typename: 'ReasoningDeltaEvent';
      text: string;
      index: number;
      signature: string | null;
      redacted: boolean;
      provider: string | null;
      toolCallId: string | null;
    }
  | { __typename: 'TextDeltaEvent'; text: string }
  | { __typename: 'ToolCallDeltaEvent'; index: number; id: string | null; name: string | null; argumentsDelta: string }
  | { __typename: 'SwitchEvent'; from: TargetRef; to: TargetRef; reason: string; errorCode: string; resumed: boolean }
  | { __typename: 'CompletionDoneEvent'; completion: Completion }
  | {
      __typename: 'CompletionErrorEvent';
      completionId: string;
      code: string;
      message: string;
      partialText: string;
      retryable: boolean;
      attempts: AttemptRecord[];
    };

export function toPayload(ev: CompletionEvent): EventPayload {
  switch (ev.type) {
    case 'start':
      return { __typename: 'CompletionStartEvent', completionId: ev.id, route: ev.route, routeVersion: ev.routeVersion, provider: ev.provider, model: ev.model };
    case 'reasoning-delta':
      return {
        __typename: 'ReasoningDeltaEvent',
        text: ev.text,
        index: ev.index ?? 0,
        signature: ev.signature ?? null,
        redacted: ev.redacted === true,
        provider: ev.provider ?? null,
        toolCallId: ev.toolCallId ?? null,
      };
    case 'text-delta':
      return { __typename: 'TextDeltaEvent', text: ev.text };
    case 'tool-call-delta':
      return { __typename: 'ToolCallDeltaEvent', index: ev.index, id: ev.id ?? null, name: ev.name ?? null, argumentsDelta: ev.argumentsDelta };
    case 'switch':
      return {
        __typename: 'SwitchEvent',
        from: ev.from,
        to: ev.to,
        reason: ev.reason,
        errorCode: graphqlCodeOf(ev.errorKind as GatewayError['kind']),
        resumed: ev.resumed,
      };
    case 'done':
      return { __typename: 'CompletionDoneEvent', completion: ev.completion };
    case 'error':
      return errorPayload(ev.id, ev.error, ev.partialText, ev.attempts);
  }
}

function errorPayload(id: string, error: GatewayError, partialText: string, attempts: AttemptRecord[]): EventPayload {
  return {
    __typename: 'CompletionErrorEvent',
    completionId: id,
    code: graphqlCodeOf(error.kind),
    message: error.message,
    partialText,
    retryable: error.retryable,
    attempts: attempts.length > 0 ? attempts : attemptsOf(error),
  };
}

/**
 * The gateway's event stream as a subscription source. Keeps the gateway's promise of exactly one
 * terminal event even if the generator throws or ends early (an error event is emitted then), and turns
 * `return()` — the client completing the subscription or the socket closing — into an abort of the
 * upstream call through the request's AbortController.
 */
export function completionEvents(
  source: CompletionEventStream,
  abort: AbortController,
  onFinish: () => void = () => undefined,
): AsyncIterableIterator<EventPayload> {
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      onFinish();
    }
  };
  let id: string | undefined;
  let text = '';
  const fail = (e: unknown): IteratorResult<EventPayload> => {
    finish();
    // An unexpected throw's message may say anything: the client gets a generic one.
    const safe = e instanceof GatewayError ? e : new GatewayError('internal', 'the completion stream failed unexpectedly');
    return { done: false, value: errorPayload(id ?? newId('cmpl'), safe, text, attemptsOf(safe)) };
  };
  const iterator: AsyncIterableIterator<EventPayload> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      if (finished) return { done: true, value: undefined };
      let r: IteratorResult<CompletionEvent>;
      try {
        r = await source.next();
      } catch (e) {
        if (finished) return { done: true, value: undefined };
        return fail(e);
      }
      if (finished) return { done: true, value: undefined };
      if (r.done) return fail(new GatewayError('internal', 'stream ended without a terminal event'));
      const ev = r.value;
      if (ev.type === 'start') id = ev.id;
      if (ev.type === 'text-delta') text += ev.text;
      if (ev.type === 'done' || ev.type === 'error') {
        finish();
        // Nothing reads the source after its terminal event: end it now, so its finally blocks run (endOnShutdown
        // removes its listener from the server-wide shutdown signal, which otherwise kept the whole stream, text
        // included, alive: ~10 MB retained per 10 MB subscription in the chaos suite's upstream-faults case).
        source.return(undefined).catch(() => undefined);
      }
      return { done: false, value: toPayload(ev) };
    },
    async return() {
      if (!finished) {
        finish();
        abort.abort(new GatewayError('cancelled', 'subscription closed by the client'));
        // Let the generator unwind (its pending next() settles once the adapter sees the abort); never wait on it.
        source.return(undefined).catch(() => undefined);
      }
      return { done: true, value: undefined };
    },
  };
  return iterator;
}

export const subscriptionResolvers = {
  Subscription: {
    completionStream: {
      subscribe: (_: unknown, args: { input: CompletionInputArgs }, ctx: GraphQLContext) => {
        const abort = new AbortController();
        // The connection's signal (socket closed) cancels this stream too, and so does the end of the
        // shutdown grace period (after which endOnShutdown sends the terminal event).
        // Both are shared (by the connection's operations, by every stream): a Set entry each, not a listener.
        const parents = [ctx.signal, ctx.shutdown].filter((s): s is AbortSignal => s !== undefined);
        const onParentAbort = (reason: unknown) => abort.abort(reason);
        const aborted = parents.find((s) => s.aborted);
        const unwatch = aborted ? [] : parents.map((s) => onSharedAbort(s, onParentAbort));
        if (aborted) abort.abort(aborted.reason);
        const detach = () => {
          for (const u of unwatch) u();
        };
        let req: GatewayRequest;
        try {
          req = toGatewayRequest(args.input, { ...ctx, signal: abort.signal });
        } catch (e) {
          detach();
          throw e;
        }
        return completionEvents(endOnShutdown(ctx.gateway.stream(req), ctx.shutdown), abort, detach);
      },
      resolve: (payload: EventPayload) => payload,
    },
  },
  CompletionEvent: {
    __resolveType: (e: EventPayload) => e.__typename,
  },
  CompletionStartEvent: targetFields,
  TargetRef: targetFields,
};
