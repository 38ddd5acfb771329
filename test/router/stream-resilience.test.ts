/**
 * Stalls and resumption in runStream, with fake targets. Stall timers are injected: they fire on the next
 * macrotask (setImmediate), after every part a live fake target has ready (microtasks), so only a target
 * that never yields again can lose the race — deterministic, and nobody waits real seconds.
 */
import { describe, expect, it } from 'vitest';
import { emptyUsage, GatewayError, type StreamPart } from '../../src/core/index.ts';
import { createExecutor, type AttemptStreamCall, type RoutedStreamEvent } from '../../src/router/executor.ts';
import type { RoutePlan, Target } from '../../src/router/route-plan.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { target } from './helpers.ts';

const planOf = (...candidates: Target[]): RoutePlan => ({ route: 'r', routeVersion: 1, candidates, excluded: [], estimatedInputTokens: 5 });
const text = (t: string): StreamPart => ({ type: 'text-delta', text: t });
const finish: StreamPart = { type: 'finish', finishReason: 'stop', usage: { ...emptyUsage(), inputTokens: 5, outputTokens: 5 } };

/** A stream that yields `parts`, then (if `stallAfter`) waits until its signal aborts, like a stalled socket. */
function fakeStream(parts: StreamPart[], signal: AbortSignal | undefined, stall: boolean): AsyncIterable<StreamPart> {
  return (async function* () {
    for (const p of parts) yield p;
    if (stall) {
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      yield { type: 'error', error: new GatewayError('cancelled', 'aborted') };
    }
  })();
}

function setup() {
  const clock = createFakeClock(0);
  const timers: number[] = [];
  const executor = createExecutor({
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    setTimer: (ms, fn) => {
      timers.push(ms);
      const t = setImmediate(fn);
      return () => clearImmediate(t);
    },
  });
  return { executor, timers };
}

async function collect(events: AsyncIterable<RoutedStreamEvent>): Promise<RoutedStreamEvent[]> {
  const out: RoutedStreamEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

const textOf = (events: RoutedStreamEvent[]) => events.map((e) => (e.type === 'text-delta' ? e.text : '')).join('');

describe('time to first token', () => {
  it('a target that stalls before its first token is replaced; the client sees only the next one', async () => {
    const { executor, timers } = setup();
    const aborted: string[] = [];
    const call: AttemptStreamCall = (t, _ms, _n, signal) => {
      signal?.addEventListener('abort', () => aborted.push(t.provider), { once: true });
      return t.provider === 'a' ? fakeStream([{ type: 'start', model: 'a' }], signal, true) : fakeStream([{ type: 'start', model: 'b' }, text('Hello'), finish], signal, false);
    };
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, { maxAttempts: 3, deadlineMs: 10_000, firstTokenMs: () => 250 }));
    expect(events.map((e) => e.type)).toEqual(['attempt', 'switch', 'attempt', 'start', 'text-delta', 'attempts', 'finish']);
    const sw = events[1] as Extract<RoutedStreamEvent, { type: 'switch' }>;
    expect(sw.error.kind).toBe('timeout');
    expect(sw.error.message).toContain('no first token within 250 ms');
    expect(events.filter((e) => e.type === 'start').map((e) => (e as { model?: string }).model)).toEqual(['b']);
    expect(aborted).toEqual(['a']);
    expect(timers).toContain(250);
  });

  it('after content, an idle stall ends with a typed error carrying the partial text', async () => {
    const { executor } = setup();
    const call: AttemptStreamCall = (t, _ms, _n, signal) => fakeStream([text('one '), text('two ')], signal, true);
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, { maxAttempts: 3, deadlineMs: 10_000, idleMs: () => 100 }));
    const last = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(last.error.kind).toBe('timeout');
    expect(last.error.message).toContain('stream stalled');
    expect(last.error.partialText).toBe('one two ');
    expect(events.some((e) => e.type === 'switch')).toBe(false);
  });
});

describe('resumeStreams', () => {
  const five = ['The ', 'quick ', 'brown ', 'fox ', 'jumps '];

  it('continues on the next target from the text already sent: one answer from two providers and a resumed switch', async () => {
    const { executor } = setup();
    const resumes: Array<{ provider: string; partialText?: string }> = [];
    const call: AttemptStreamCall = (t, _ms, _n, signal, resume) => {
      resumes.push({ provider: t.provider, ...(resume && { partialText: resume.partialText }) });
      if (t.provider === 'a') return fakeStream([...five.map(text), { type: 'error', error: new GatewayError('unavailable', 'connection reset') }], signal, false);
      return fakeStream([{ type: 'start', model: 'b' }, text('over the lazy dog.'), finish], signal, false);
    };
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, { maxAttempts: 3, deadlineMs: 10_000, resume: true }));
    expect(resumes).toEqual([{ provider: 'a' }, { provider: 'b', partialText: five.join('') }]);
    expect(textOf(events)).toBe('The quick brown fox jumps over the lazy dog.');
    const sw = events.find((e) => e.type === 'switch') as Extract<RoutedStreamEvent, { type: 'switch' }>;
    expect(sw).toMatchObject({ resumed: true, from: { provider: 'a' }, to: { provider: 'b' } });
    expect(events.at(-1)!.type).toBe('finish');
    const attempts = (events.find((e) => e.type === 'attempts') as Extract<RoutedStreamEvent, { type: 'attempts' }>).attempts;
    expect(attempts).toMatchObject([{ provider: 'a', status: 'error' }, { provider: 'b', status: 'ok', resumed: true }]);
  });

  it('without resumeStreams the same failure ends with the typed error and the 5 chunks of text', async () => {
    const { executor } = setup();
    const call: AttemptStreamCall = (t, _ms, _n, signal) =>
      fakeStream([...five.map(text), { type: 'error', error: new GatewayError('unavailable', 'connection reset') }], signal, false);
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, { maxAttempts: 3, deadlineMs: 10_000 }));
    const last = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(last.error.partialText).toBe(five.join(''));
    expect(events.filter((e) => e.type === 'attempt')).toHaveLength(1);
  });

  it('never resumes after a tool-call fragment was sent', async () => {
    const { executor } = setup();
    const call: AttemptStreamCall = (t, _ms, _n, signal) =>
      fakeStream([{ type: 'tool-call-delta', index: 0, id: 'c1', name: 'f', argumentsDelta: '{"a":' }, { type: 'error', error: new GatewayError('unavailable', 'reset') }], signal, false);
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, { maxAttempts: 3, deadlineMs: 10_000, resume: true }));
    expect(events.at(-1)!.type).toBe('error');
    expect(events.filter((e) => e.type === 'attempt')).toHaveLength(1);
  });
});
