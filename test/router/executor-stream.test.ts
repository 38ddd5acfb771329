/**
 * `runStream`: failover before the first content part, a typed error carrying the partial text after
 * it, and the order of routed events. Fake targets yield scripted StreamParts; a fake clock keeps waits
 * deterministic.
 */
import { describe, expect, it } from 'vitest';
import { emptyUsage, GatewayError, RoutingError, type ErrorKind, type StreamPart } from '../../src/core/index.ts';
import { createExecutor, type ExecuteOptions, type RoutedStreamEvent } from '../../src/router/executor.ts';
import type { RoutePlan, Target } from '../../src/router/route-plan.ts';
import { createFakeClock, type FakeClock } from '../helpers/fake-clock.ts';

const target = (provider: string, extra: Partial<Target> = {}): Target => ({
  provider,
  model: `${provider}-model`,
  upstreamModel: `${provider}-upstream`,
  capabilities: ['tools', 'streaming'],
  contextWindow: 8_000,
  weight: 1,
  ...extra,
});

const planOf = (...candidates: Target[]): RoutePlan => ({
  route: 'stream-route',
  routeVersion: 3,
  candidates,
  excluded: [],
  estimatedInputTokens: 10,
});

const fail = (kind: ErrorKind, extra: ConstructorParameters<typeof GatewayError>[2] = {}) =>
  new GatewayError(kind, `${kind} mid-stream`, extra);

const start = (model: string): StreamPart => ({ type: 'start', model, providerRequestId: `req-${model}` });
const text = (t: string): StreamPart => ({ type: 'text-delta', text: t });
const finish = (): StreamPart => ({ type: 'finish', finishReason: 'stop', usage: { ...emptyUsage(), inputTokens: 3, outputTokens: 2 } });
const error = (kind: ErrorKind, extra: ConstructorParameters<typeof GatewayError>[2] = {}): StreamPart => ({
  type: 'error',
  error: fail(kind, extra),
});

/** Each call of a target streams its next script; the last script repeats. */
function scripted(clock: FakeClock, script: Record<string, StreamPart[][]>) {
  const calls: { provider: string; at: number; remainingMs: number; attempt: number }[] = [];
  const call = (t: Target, remainingMs: number, attempt: number): AsyncIterable<StreamPart> => {
    calls.push({ provider: t.provider, at: clock.now(), remainingMs, attempt });
    const scripts = script[t.provider];
    if (!scripts || scripts.length === 0) throw new Error(`no script for ${t.provider}`);
    const parts = scripts.length > 1 ? scripts.shift()! : scripts[0]!;
    return (async function* () {
      for (const p of parts) yield p;
    })();
  };
  return { call, calls };
}

function setup(random: () => number = () => 0.5) {
  const clock = createFakeClock(50_000);
  const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random });
  return { clock, executor };
}

const OPTS: ExecuteOptions = { maxAttempts: 6, deadlineMs: 60_000 };

async function collect(events: AsyncIterable<RoutedStreamEvent>): Promise<RoutedStreamEvent[]> {
  const out: RoutedStreamEvent[] = [];
  for await (const ev of events) out.push(ev);
  return out;
}

const isTerminal = (ev: RoutedStreamEvent) => ev.type === 'finish' || ev.type === 'error';

/**
 * The routed event grammar: attempt, (switch, attempt)*, parts…, attempts, terminal — with exactly one
 * terminal part, last. Returns the event types for further checks.
 */
function expectWellFormed(events: RoutedStreamEvent[]): string[] {
  const types = events.map((e) => e.type);
  expect(events.filter(isTerminal)).toHaveLength(1);
  expect(isTerminal(events.at(-1)!)).toBe(true);
  expect(types.at(-2)).toBe('attempts');
  expect(types.filter((t) => t === 'attempts')).toHaveLength(1);
  const body = types.slice(0, -2);
  if (body.length > 0) {
    expect(body[0]).toBe('attempt');
    let i = 1;
    while (body[i] === 'switch') {
      expect(body[i + 1]).toBe('attempt');
      i += 2;
    }
    for (const t of body.slice(i)) expect(['start', 'text-delta', 'reasoning-delta', 'tool-call-delta']).toContain(t);
  }
  return types;
}

describe('executor.runStream: before the first content part', () => {
  it('an error part fails over: a switch event, then the next target’s parts and one terminal', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [[start('a-upstream'), error('unavailable', { status: 503 })]],
      b: [[start('b-upstream'), text('Hel'), text('lo'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    const types = expectWellFormed(events);
    expect(types).toEqual(['attempt', 'switch', 'attempt', 'start', 'text-delta', 'text-delta', 'attempts', 'finish']);
    expect(calls.map((c) => c.provider)).toEqual(['a', 'b']);

    const sw = events[1] as Extract<RoutedStreamEvent, { type: 'switch' }>;
    expect(sw.from.provider).toBe('a');
    expect(sw.to.provider).toBe('b');
    expect(sw.error.kind).toBe('unavailable');
    // The failed attempt's own parts (its start, with its request id) never reach the client.
    const starts = events.filter((e): e is Extract<StreamPart, { type: 'start' }> => e.type === 'start');
    expect(starts.map((s) => s.model)).toEqual(['b-upstream']);

    const attempts = events.find((e) => e.type === 'attempts') as Extract<RoutedStreamEvent, { type: 'attempts' }>;
    expect(attempts.attempts.map((a) => [a.provider, a.status, a.errorKind])).toEqual([
      ['a', 'error', 'unavailable'],
      ['b', 'ok', undefined],
    ]);
  });

  it('keeps the events in order across several switches', async () => {
    const { clock, executor } = setup();
    const { call } = scripted(clock, {
      a: [[error('overloaded')]],
      b: [[start('b'), error('timeout')]],
      c: [[start('c'), text('ok'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a'), target('b'), target('c')), call, OPTS));
    expect(expectWellFormed(events)).toEqual(['attempt', 'switch', 'attempt', 'switch', 'attempt', 'start', 'text-delta', 'attempts', 'finish']);
    const attemptsOf = events.filter((e) => e.type === 'attempt').map((e) => (e as { target: Target }).target.provider);
    expect(attemptsOf).toEqual(['a', 'b', 'c']);
  });

  it('a stream that ends without a terminal part is an invalid_response, and fails over', async () => {
    const { clock, executor } = setup();
    const { call } = scripted(clock, { a: [[start('a')]], b: [[text('from b'), finish()]] });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    const types = expectWellFormed(events);
    expect(types).toContain('switch');
    const sw = events.find((e) => e.type === 'switch') as Extract<RoutedStreamEvent, { type: 'switch' }>;
    expect(sw.error.kind).toBe('invalid_response');
    expect(events.at(-1)!.type).toBe('finish');
  });

  it('invalid_request ends at once: one attempt, no switch, the error as is', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [[error('invalid_request', { param: 'tools.0.name', status: 400 })]],
      b: [[text('never'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    expect(expectWellFormed(events)).toEqual(['attempt', 'attempts', 'error']);
    const err = (events.at(-1) as Extract<StreamPart, { type: 'error' }>).error;
    expect(err.kind).toBe('invalid_request');
    expect(err.message).toBe('invalid_request mid-stream');
    expect(err.param).toBe('tools.0.name');
    expect(calls).toHaveLength(1);
  });

  it('skips a target that failed with auth for the rest of the stream', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [[error('auth')]],
      b: [[error('unavailable')], [text('b again'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    expectWellFormed(events);
    expect(events.at(-1)!.type).toBe('finish');
    expect(calls.map((c) => c.provider)).toEqual(['a', 'b', 'b']);
  });

  it('maxAttempts bounds the stream’s attempts; it ends with the last error', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [[error('unavailable')]], b: [[error('overloaded')]] });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, { ...OPTS, maxAttempts: 3 }));
    expectWellFormed(events);
    expect(calls).toHaveLength(3);
    const terminal = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(terminal.error.kind).toBe('unavailable');
    expect((terminal.error as RoutingError).attempts).toHaveLength(3);
  });

  it('a stream that throws (an adapter bug) still ends with exactly one terminal error part', async () => {
    const { executor } = setup();
    const call = (): AsyncIterable<StreamPart> =>
      (async function* () {
        yield start('a');
        throw new Error('adapter blew up');
      })();
    const events = await collect(executor.runStream(planOf(target('a')), call, OPTS));
    expectWellFormed(events);
    const terminal = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(terminal.type).toBe('error');
    expect(terminal.error.message).toContain('adapter blew up');
  });
});

describe('executor.runStream: after the first content part', () => {
  it('an error ends the stream with one typed error carrying the delivered text, and no switch', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [[start('a'), text('Hel'), text('lo, wor'), error('unavailable', { status: 502 })]],
      b: [[text('never'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    const types = expectWellFormed(events);
    expect(types).toEqual(['attempt', 'start', 'text-delta', 'text-delta', 'attempts', 'error']);
    expect(types).not.toContain('switch');
    expect(calls.map((c) => c.provider)).toEqual(['a']);
    const terminal = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(terminal.error).toBeInstanceOf(RoutingError);
    expect(terminal.error.kind).toBe('unavailable');
    expect(terminal.error.partialText).toBe('Hello, wor');
    expect((terminal.error as RoutingError).attempts).toHaveLength(1);
  });

  it('a tool-call fragment counts as content: no switch after it', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [[{ type: 'tool-call-delta', index: 0, id: 'call_1', name: 'lookup', argumentsDelta: '{"q":' }, error('timeout')]],
      b: [[text('never'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    const types = expectWellFormed(events);
    expect(types).not.toContain('switch');
    expect(calls).toHaveLength(1);
    const terminal = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(terminal.error.kind).toBe('timeout');
    expect(terminal.error.partialText).toBe('');
  });

  it('a stream that stops after content without a terminal part ends with invalid_response and the partial text', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [[text('partial answ')]], b: [[text('never'), finish()]] });
    const events = await collect(executor.runStream(planOf(target('a'), target('b')), call, OPTS));
    expectWellFormed(events);
    expect(calls).toHaveLength(1);
    const terminal = events.at(-1) as Extract<StreamPart, { type: 'error' }>;
    expect(terminal.type).toBe('error');
    expect(terminal.error.kind).toBe('invalid_response');
    expect(terminal.error.partialText).toBe('partial answ');
  });

  it('nothing the target yields after its terminal part is passed on', async () => {
    const { clock, executor } = setup();
    const { call } = scripted(clock, { a: [[text('done'), finish(), text('junk'), error('internal')]] });
    const events = await collect(executor.runStream(planOf(target('a')), call, OPTS));
    expect(expectWellFormed(events)).toEqual(['attempt', 'text-delta', 'attempts', 'finish']);
  });
});

describe('executor.runStream: waiting and cancellation', () => {
  it('a rate-limited only target is retried after its retry-after', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [[error('rate_limited', { retryAfterMs: 2_000 })], [text('ok'), finish()]],
    });
    const events = await collect(executor.runStream(planOf(target('a')), call, OPTS));
    expectWellFormed(events);
    expect(events.at(-1)!.type).toBe('finish');
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(2_000);
    const attempts = events.find((e) => e.type === 'attempts') as Extract<RoutedStreamEvent, { type: 'attempts' }>;
    expect(attempts.attempts[1]!.retryDelayMs).toBeGreaterThanOrEqual(2_000);
  });

  it('an aborted signal ends the stream with kind cancelled and calls nothing', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [[text('no'), finish()]] });
    const ac = new AbortController();
    ac.abort();
    const events = await collect(executor.runStream(planOf(target('a')), call, { ...OPTS, signal: ac.signal }));
    expect(expectWellFormed(events)).toEqual(['attempts', 'error']);
    expect((events.at(-1) as Extract<StreamPart, { type: 'error' }>).error.kind).toBe('cancelled');
    expect(calls).toEqual([]);
  });

  it('an abort while waiting for a retry ends with cancelled', async () => {
    const { clock, executor } = setup();
    const ac = new AbortController();
    clock.onSleep = () => ac.abort();
    const { call, calls } = scripted(clock, { a: [[error('unavailable')], [text('no'), finish()]] });
    const events = await collect(executor.runStream(planOf(target('a')), call, { ...OPTS, signal: ac.signal }));
    expectWellFormed(events);
    expect((events.at(-1) as Extract<StreamPart, { type: 'error' }>).error.kind).toBe('cancelled');
    expect(calls).toHaveLength(1);
  });
});

describe('executor.runStream: the attempt event and the upstream call', () => {
  it('starts the attempt before the consumer has taken its attempt event, and aborts it when the consumer leaves there', async () => {
    const { executor } = setup();
    let started = 0;
    let signal: AbortSignal | undefined;
    const call = (_t: Target, _remainingMs: number, _attempt: number, s?: AbortSignal): AsyncIterable<StreamPart> => {
      signal = s;
      return (async function* () {
        started++;
        // The upstream answers only when aborted (the consumer never reads further).
        await new Promise<void>((resolve) => s!.addEventListener('abort', () => resolve(), { once: true }));
        yield error('cancelled');
      })();
    };
    const it = executor.runStream(planOf(target('a')), call, OPTS)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toMatchObject({ type: 'attempt', attempt: 0 });
    // The call is under way while the consumer still holds the attempt event.
    expect(started).toBe(1);
    expect(signal?.aborted).toBe(false);
    await it.return(undefined);
    expect(signal?.aborted).toBe(true);
  });
});
