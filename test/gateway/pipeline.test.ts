/**
 * The pipeline's contract (src/gateway/pipeline.ts): an exception thrown by any stage hook becomes the
 * request's one typed error (one GatewayError for `complete`, one error event for `stream`), every stage
 * it entered hears exactly one of done/error, and hooks a stage does not install are never called.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError, type Completion, type CompletionEvent } from '../../src/core/index.ts';
import { createPipeline, type Stage } from '../../src/gateway/pipeline.ts';
import { fakeGateway, pipelineOf, resolvedOf } from '../store/fake-gateway.ts';

type Hook = 'before' | 'onEvent' | 'done';

/** A stage that records every hook it gets, and throws a plain Error from `throwIn`. */
function spy(name: string, throwIn?: Hook) {
  const calls: string[] = [];
  const boom = () => {
    throw new Error(`${name} broke`);
  };
  const stage: Stage = {
    name,
    before() {
      calls.push('before');
      if (throwIn === 'before') boom();
    },
    onEvent(_ctx, ev) {
      calls.push(`event:${ev.type}`);
      if (throwIn === 'onEvent' && ev.type === 'text-delta') boom();
    },
    done() {
      calls.push('done');
      if (throwIn === 'done') boom();
    },
    error(_ctx, f) {
      calls.push(`error:${f.error.kind}`);
    },
  };
  return { stage, calls };
}

async function collect(events: AsyncIterable<CompletionEvent>): Promise<CompletionEvent[]> {
  const out: CompletionEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

const ask = { chat: { messages: [{ role: 'user' as const, content: 'hi' }] } };

describe('a stage that throws', () => {
  for (const where of ['before', 'onEvent', 'done'] as const) {
    it(`in ${where}: one error event (stream), one GatewayError (complete); every entered stage hears once`, async () => {
      const outer = spy('outer');
      const thrower = spy('thrower', where);
      const inner = spy('inner');
      const upstream = fakeGateway();
      const p = pipelineOf([outer.stage, thrower.stage, inner.stage], upstream);

      const events = await collect(p.stream(ask));
      const errors = events.filter((e) => e.type === 'error');
      expect(errors).toHaveLength(1);
      expect(events.at(-1)).toBe(errors[0]);
      expect(events.some((e) => e.type === 'done')).toBe(false);
      const failure = errors[0] as Extract<CompletionEvent, { type: 'error' }>;
      expect(failure.error).toBeInstanceOf(GatewayError);
      expect(failure.error).toMatchObject({ kind: 'internal', message: 'thrower broke' });
      for (const s of [outer, thrower, inner]) {
        const endings = s.calls.filter((c) => c === 'done' || c.startsWith('error:'));
        // A stage whose before threw was never entered; one whose done threw already had its ending.
        const entered = s === inner ? where !== 'before' : s !== thrower || where !== 'before';
        expect(endings, `${s.stage.name}: ${s.calls.join(' ')}`).toHaveLength(entered ? 1 : 0);
      }
      expect(outer.calls.at(-1)).toBe('error:internal');

      outer.calls.length = 0;
      const rejection = await p.complete(ask).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (where === 'onEvent') {
        // A completion has no stream events: nothing throws.
        expect(rejection).toBeUndefined();
        expect(outer.calls).toEqual(['before', 'done']);
      } else {
        expect(rejection).toBeInstanceOf(GatewayError);
        expect(rejection).toMatchObject({ kind: 'internal', message: 'thrower broke' });
        expect(outer.calls).toEqual(['before', 'error:internal']);
      }
    });
  }

  it('an upstream that throws instead of ending with an error event: one error event', async () => {
    const outer = spy('outer');
    const p = createPipeline({
      stages: [outer.stage],
      upstream: {
        complete: async () => {
          throw new TypeError('not a GatewayError');
        },
        // eslint-disable-next-line require-yield
        async *stream(): AsyncGenerator<CompletionEvent> {
          throw new TypeError('not a GatewayError');
        },
      },
    });
    const events = await collect(p.stream(ask));
    expect(events).toEqual([expect.objectContaining({ type: 'error', error: expect.objectContaining({ kind: 'internal', message: 'not a GatewayError' }) })]);
    await expect(p.complete(ask)).rejects.toBeInstanceOf(GatewayError);
    expect(outer.calls.filter((c) => c.startsWith('error:'))).toEqual(['error:internal', 'error:internal']);
  });
});

describe('hooks', () => {
  it('an early answer skips the later stages and the upstream; the stages outside it finish with it', async () => {
    const outer = spy('outer');
    const inner = spy('inner');
    const upstream = fakeGateway();
    const canned: Completion = await upstream.complete({ request: ask, resolved: resolvedOf(ask), traceId: null, onAttempt: undefined, onPlan: undefined });
    const answering: Stage = { name: 'answering', before: () => canned, done: () => expect.unreachable(), error: () => expect.unreachable() };
    const p = pipelineOf([outer.stage, answering, inner.stage], upstream);
    const events = await collect(p.stream(ask));
    expect(events.map((e) => e.type)).toEqual(['start', 'text-delta', 'done']);
    expect(await p.complete(ask)).toBe(canned);
    expect(upstream.calls).toBe(1);
    expect(inner.calls).toEqual([]);
    expect(outer.calls).toEqual(['before', 'event:start', 'event:text-delta', 'done', 'before', 'done']);
  });

  it('a consumer that stops reading: every entered stage hears `cancelled`, once', async () => {
    const outer = spy('outer');
    const inner = spy('inner');
    const p = pipelineOf([outer.stage, inner.stage], fakeGateway());
    for await (const ev of p.stream(ask)) if (ev.type === 'text-delta') break;
    expect(outer.calls).toEqual(['before', 'event:start', 'event:text-delta', 'error:cancelled']);
    expect(inner.calls).toEqual(['before', 'event:start', 'event:text-delta', 'error:cancelled']);
  });

  it('the upstream stream is closed when the request ends, also while it waits after its terminal event', async () => {
    let closed = 0;
    const upstream = fakeGateway();
    const p = createPipeline({
      stages: [spy('outer').stage],
      upstream: {
        complete: upstream.complete,
        async *stream(call) {
          try {
            // Suspended at its `done` until someone reads on (nobody does) or closes it.
            yield* upstream.stream({ ...call, resolved: resolvedOf(ask) });
          } finally {
            closed++;
          }
        },
      },
    });
    expect((await collect(p.stream(ask))).at(-1)?.type).toBe('done');
    expect(closed).toBe(1);
  });

  it('a context runs once', async () => {
    const p = pipelineOf([], fakeGateway());
    const ctx = p.prepare(ask);
    await p.complete(ctx);
    await expect(p.complete(ctx)).rejects.toMatchObject({ kind: 'internal' });
  });
});
