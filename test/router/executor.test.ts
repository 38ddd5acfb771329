/**
 * The attempt loop of `run` (non-streaming), against scripted fake targets and a fake clock: time only
 * moves when a fake call says it took a while or the executor sleeps, so waits are asserted as numbers.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError, RoutingError, type ErrorKind } from '../../src/core/index.ts';
import { createExecutor, type ExecuteOptions } from '../../src/router/executor.ts';
import type { BreakerState } from '../../src/router/circuit-breaker.ts';
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
  route: 'test-route',
  routeVersion: 1,
  candidates,
  excluded: [],
  estimatedInputTokens: 10,
});

const fail = (kind: ErrorKind, extra: ConstructorParameters<typeof GatewayError>[2] = {}) =>
  new GatewayError(kind, `${kind} from upstream`, extra);

/** One scripted answer of a target: take `ms` of fake time, then throw `error` or return `value`. */
interface Step {
  ms?: number;
  error?: unknown;
  value?: string;
}

interface CallRecord {
  provider: string;
  at: number;
  remainingMs: number;
  attempt: number;
}

/** Each call of a target consumes its next step; the last step repeats forever. */
function scripted(clock: FakeClock, script: Record<string, Step[]>) {
  const calls: CallRecord[] = [];
  const call = async (t: Target, remainingMs: number, attempt: number): Promise<string> => {
    calls.push({ provider: t.provider, at: clock.now(), remainingMs, attempt });
    const steps = script[t.provider];
    if (!steps || steps.length === 0) throw new Error(`no script for ${t.provider}`);
    const step = steps.length > 1 ? steps.shift()! : steps[0]!;
    if (step.ms) clock.advance(step.ms);
    if (step.error !== undefined) throw step.error;
    return step.value ?? `${t.provider} answered`;
  };
  const callsOf = (provider: string) => calls.filter((c) => c.provider === provider);
  return { call, calls, callsOf };
}

function setup(random: () => number = () => 0.5) {
  const clock = createFakeClock(1_000_000);
  const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random });
  return { clock, executor };
}

const OPTS: ExecuteOptions = { maxAttempts: 10, deadlineMs: 60_000 };

async function rejection(p: Promise<unknown>): Promise<RoutingError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RoutingError);
    return e as RoutingError;
  }
  throw new Error('expected the run to fail');
}

describe('executor.run: failover', () => {
  it('serves from the second target when the primary is unavailable (503), recording both attempts', async () => {
    const { clock, executor } = setup();
    const a = target('a');
    const b = target('b');
    const { call, calls } = scripted(clock, {
      a: [{ ms: 30, error: fail('unavailable', { status: 503, provider: 'a' }) }],
      b: [{ ms: 45, value: 'hello from b' }],
    });
    const res = await executor.run(planOf(a, b), call, OPTS);
    expect(res.value).toBe('hello from b');
    expect(res.target).toBe(b);
    expect(calls.map((c) => c.provider)).toEqual(['a', 'b']);
    expect(calls.map((c) => c.attempt)).toEqual([0, 1]);
    expect(res.attempts).toEqual([
      { provider: 'a', model: 'a-model', status: 'error', errorKind: 'unavailable', errorMessage: 'unavailable from upstream', latencyMs: 30 },
      { provider: 'b', model: 'b-model', status: 'ok', latencyMs: 45 },
    ]);
    // Failing over to a target not yet tried costs no waiting.
    expect(clock.sleeps).toEqual([]);
  });

  it('wraps a non-gateway throw as internal and stops there', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [{ error: new TypeError('boom') }], b: [{}] });
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, OPTS));
    expect(err.kind).toBe('internal');
    expect(err.provider).toBe('a');
    expect(calls).toHaveLength(1);
  });
});

describe('executor.run: rate limits and retry-after', () => {
  it('waits at least the retry-after on the only target before calling it again', async () => {
    const { clock, executor } = setup(() => 0.5);
    const { call, calls } = scripted(clock, {
      a: [{ ms: 10, error: fail('rate_limited', { retryAfterMs: 2_000, status: 429 }) }, { ms: 20, value: 'second try' }],
    });
    const res = await executor.run(planOf(target('a')), call, OPTS);
    expect(res.value).toBe('second try');
    expect(calls).toHaveLength(2);
    // retry-after counts from when the 429 arrived
    expect(calls[1]!.at - (calls[0]!.at + 10)).toBeGreaterThanOrEqual(2_000);
    expect(clock.sleeps.reduce((s, x) => s + x.ms, 0)).toBeGreaterThanOrEqual(2_000);
    expect(res.attempts[0]).toMatchObject({ status: 'error', errorKind: 'rate_limited' });
    expect(res.attempts[1]!.status).toBe('ok');
    expect(res.attempts[1]!.retryDelayMs).toBeGreaterThanOrEqual(2_000);
  });

  it('with two targets, the other serves at once', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [{ error: fail('rate_limited', { retryAfterMs: 2_000 }) }],
      b: [{ value: 'b served' }],
    });
    const res = await executor.run(planOf(target('a'), target('b')), call, OPTS);
    expect(res.value).toBe('b served');
    expect(calls.map((c) => c.provider)).toEqual(['a', 'b']);
    expect(calls[1]!.at).toBe(calls[0]!.at);
    expect(res.attempts[1]!.retryDelayMs).toBeUndefined();
    expect(clock.sleeps).toEqual([]);
  });

  it('does not call the rate-limited target again before its retry-after, while others keep backing off', async () => {
    const { clock, executor } = setup(() => 0.5);
    const { call, calls, callsOf } = scripted(clock, {
      a: [{ error: fail('rate_limited', { retryAfterMs: 2_000 }) }, { value: 'a after the limit' }],
      b: [{ error: fail('unavailable') }],
    });
    const start = clock.now();
    const res = await executor.run(planOf(target('a'), target('b')), call, { ...OPTS, maxAttempts: 20 });
    expect(res.value).toBe('a after the limit');
    const aCalls = callsOf('a');
    expect(aCalls).toHaveLength(2);
    expect(aCalls[1]!.at - start).toBeGreaterThanOrEqual(2_000);
    // b was retried in between, never twice at the same instant (backoff between rounds applies
    // even while another target is cooling down).
    const bTimes = callsOf('b').map((c) => c.at);
    expect(bTimes.length).toBeGreaterThan(1);
    for (let i = 1; i < bTimes.length; i++) expect(bTimes[i]!).toBeGreaterThan(bTimes[i - 1]!);
    expect(calls.length).toBeLessThan(20);
  });

  it('honours a retry-after sent with an overloaded error too', async () => {
    const { clock, executor } = setup(() => 0.5);
    const { call, calls } = scripted(clock, {
      a: [{ error: fail('overloaded', { retryAfterMs: 3_000, status: 529 }) }, { value: 'ok' }],
    });
    const res = await executor.run(planOf(target('a')), call, OPTS);
    expect(res.value).toBe('ok');
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(3_000);
  });
});

describe('executor.run: what each error kind does', () => {
  it('context_length_exceeded: only targets with a larger window are tried', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [{ error: fail('context_length_exceeded') }],
      b: [{ value: 'b (smaller window) must not be tried' }],
      c: [{ error: fail('context_length_exceeded') }],
      d: [{ value: 'd (smaller than c) must not be tried' }],
      e: [{ value: 'e fits' }],
    });
    const plan = planOf(
      target('a', { contextWindow: 8_000 }),
      target('b', { contextWindow: 4_000 }),
      target('c', { contextWindow: 16_000 }),
      target('d', { contextWindow: 12_000 }),
      target('e', { contextWindow: 32_000 }),
    );
    const res = await executor.run(plan, call, OPTS);
    expect(res.value).toBe('e fits');
    expect(calls.map((c) => c.provider)).toEqual(['a', 'c', 'e']);
  });

  it('context_length_exceeded on the largest window ends with that error', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [{ error: fail('context_length_exceeded') }],
      b: [{ value: 'smaller' }],
    });
    const err = await rejection(
      executor.run(planOf(target('a', { contextWindow: 200_000 }), target('b', { contextWindow: 8_000 })), call, OPTS),
    );
    expect(err.kind).toBe('context_length_exceeded');
    expect(calls).toHaveLength(1);
  });

  it('invalid_request: no fallback, one attempt, the error returned as is', async () => {
    const { clock, executor } = setup();
    const original = new GatewayError('invalid_request', "'messages.0.content' is malformed", {
      provider: 'a',
      status: 400,
      param: 'messages.0.content',
      providerCode: 'invalid_value',
    });
    const { call, calls } = scripted(clock, { a: [{ ms: 12, error: original }], b: [{ value: 'never' }] });
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, OPTS));
    expect(err.kind).toBe('invalid_request');
    expect(err.message).toBe(original.message);
    expect(err.param).toBe('messages.0.content');
    expect(err.status).toBe(400);
    expect(err.provider).toBe('a');
    expect(err.providerCode).toBe('invalid_value');
    expect(err.retryable).toBe(false);
    expect(calls).toHaveLength(1);
    expect(err.attempts).toEqual([
      { provider: 'a', model: 'a-model', status: 'error', errorKind: 'invalid_request', errorMessage: original.message, latencyMs: 12 },
    ]);
  });

  it.each(['auth', 'not_found', 'forbidden', 'unsupported_feature'] as const)(
    '%s: the target is skipped for the rest of the request',
    async (kind) => {
      const { clock, executor } = setup();
      const { call, callsOf } = scripted(clock, {
        a: [{ error: fail(kind) }],
        b: [{ error: fail('unavailable') }, { error: fail('unavailable') }, { value: 'b at last' }],
      });
      const res = await executor.run(planOf(target('a'), target('b')), call, OPTS);
      expect(res.value).toBe('b at last');
      expect(callsOf('a')).toHaveLength(1);
      expect(callsOf('b')).toHaveLength(3);
    },
  );

  it('unavailable, by contrast, leaves the target in later rounds', async () => {
    const { clock, executor } = setup();
    const { call, callsOf } = scripted(clock, {
      a: [{ error: fail('unavailable') }, { value: 'a on round two' }],
      b: [{ error: fail('unavailable') }],
    });
    const res = await executor.run(planOf(target('a'), target('b')), call, OPTS);
    expect(res.value).toBe('a on round two');
    expect(callsOf('a')).toHaveLength(2);
  });

  it('when every target is skipped, ends with the last error and no waiting', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [{ error: fail('auth') }], b: [{ error: fail('not_found') }] });
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, OPTS));
    expect(err.kind).toBe('not_found');
    expect(calls).toHaveLength(2);
    expect(err.attempts.map((a) => a.errorKind)).toEqual(['auth', 'not_found']);
    expect(clock.sleeps).toEqual([]);
  });

  it('an empty plan fails with unavailable and no attempts', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {});
    const err = await rejection(executor.run(planOf(), call, OPTS));
    expect(err.kind).toBe('unavailable');
    expect(err.attempts).toEqual([]);
    expect(calls).toEqual([]);
  });
});

describe('executor.run: bounds', () => {
  it('maxAttempts bounds the loop', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [{ error: fail('unavailable') }], b: [{ error: fail('timeout') }] });
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, { ...OPTS, maxAttempts: 3 }));
    expect(calls.map((c) => c.provider)).toEqual(['a', 'b', 'a']);
    expect(err.kind).toBe('unavailable');
    expect(err.attempts).toHaveLength(3);
    expect(err.message).toContain('after 3 attempts');
  });

  it('a retry-after past the deadline ends with the last error, without waiting', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, {
      a: [{ error: fail('rate_limited', { retryAfterMs: 10_000 }) }, { value: 'too late' }],
    });
    const err = await rejection(executor.run(planOf(target('a')), call, { ...OPTS, deadlineMs: 5_000 }));
    expect(err.kind).toBe('rate_limited');
    expect(err.retryAfterMs).toBe(10_000);
    expect(calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('the deadline bounds backoff: no call or wait goes past it', async () => {
    const { clock, executor } = setup(() => 0.99);
    const start = clock.now();
    const { call, calls } = scripted(clock, { a: [{ ms: 5, error: fail('unavailable') }] });
    const err = await rejection(
      executor.run(planOf(target('a')), call, { maxAttempts: 1_000, deadlineMs: 1_000, backoffBaseMs: 50, backoffCapMs: 400 }),
    );
    expect(err.kind).toBe('unavailable');
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.length).toBeLessThan(1_000);
    for (const c of calls) expect(c.at - start).toBeLessThan(1_000);
    for (const s of clock.sleeps) expect(s.at + s.ms - start).toBeLessThan(1_000);
  });

  it('passes each attempt what is left of the deadline', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [{ ms: 300, error: fail('unavailable') }], b: [{ value: 'ok' }] });
    await executor.run(planOf(target('a'), target('b')), call, { ...OPTS, deadlineMs: 1_000 });
    expect(calls.map((c) => c.remainingMs)).toEqual([1_000, 700]);
  });

  it('an attempt that overran the deadline is not followed by another', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [{ ms: 1_500, error: fail('timeout') }], b: [{ value: 'too late' }] });
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, { ...OPTS, deadlineMs: 1_000 }));
    expect(err.kind).toBe('timeout');
    expect(calls.map((c) => c.provider)).toEqual(['a']);
  });

  it('backoff between rounds uses full jitter over a growing, capped ceiling', async () => {
    const randoms = [0.5, 0.25, 0.75, 0.5, 0.1];
    const { clock, executor } = setup(() => randoms.shift() ?? 0.5);
    const { call } = scripted(clock, {
      a: [...Array.from({ length: 5 }, () => ({ error: fail('unavailable') })), { value: 'finally' }],
    });
    const res = await executor.run(planOf(target('a')), call, { maxAttempts: 10, deadlineMs: 60_000, backoffBaseMs: 100, backoffCapMs: 1_000 });
    expect(res.value).toBe('finally');
    // ceilings 100, 200, 400, 800, 1000 (capped) × the injected random
    expect(clock.sleeps.map((s) => s.ms)).toEqual([50, 50, 300, 400, 100]);
    expect(res.attempts.map((a) => a.retryDelayMs)).toEqual([undefined, 50, 50, 300, 400, 100]);
  });

  it('with a constant random the waits grow round after round', async () => {
    const { clock, executor } = setup(() => 0.5);
    const { call } = scripted(clock, { a: [{ error: fail('unavailable') }], b: [{ error: fail('overloaded') }] });
    await rejection(executor.run(planOf(target('a'), target('b')), call, { maxAttempts: 8, deadlineMs: 600_000, backoffBaseMs: 100, backoffCapMs: 100_000 }));
    // one wait per round of both targets: 50, 100, 200
    expect(clock.sleeps.map((s) => s.ms)).toEqual([50, 100, 200]);
  });

  it('full jitter may wait nothing at all (random 0)', async () => {
    const { clock, executor } = setup(() => 0);
    const { call, calls } = scripted(clock, { a: [{ error: fail('unavailable') }, { value: 'ok' }] });
    const res = await executor.run(planOf(target('a')), call, OPTS);
    expect(res.value).toBe('ok');
    expect(calls).toHaveLength(2);
    expect(clock.sleeps.reduce((s, x) => s + x.ms, 0)).toBe(0);
  });
});

describe('executor.run: cancellation', () => {
  it('an already aborted signal stops before any call with kind cancelled', async () => {
    const { clock, executor } = setup();
    const { call, calls } = scripted(clock, { a: [{ value: 'no' }] });
    const ac = new AbortController();
    ac.abort();
    const err = await rejection(executor.run(planOf(target('a')), call, { ...OPTS, signal: ac.signal }));
    expect(err.kind).toBe('cancelled');
    expect(calls).toEqual([]);
  });

  it('an abort during an attempt ends with cancelled, not the failure it caused, and tries nothing else', async () => {
    const { clock, executor } = setup();
    const ac = new AbortController();
    const calls: string[] = [];
    const call = async (t: Target): Promise<string> => {
      calls.push(t.provider);
      clock.advance(5);
      ac.abort();
      throw new DOMException('This operation was aborted', 'AbortError');
    };
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, { ...OPTS, signal: ac.signal }));
    expect(err.kind).toBe('cancelled');
    expect(calls).toEqual(['a']);
  });

  it('an abort after a retryable failure does not fail over', async () => {
    const { clock, executor } = setup();
    const ac = new AbortController();
    const { call, calls } = scripted(clock, { a: [{ error: fail('unavailable') }], b: [{ value: 'no' }] });
    const err = await rejection(
      executor.run(planOf(target('a'), target('b')), async (t, ms, n) => {
        try {
          return await call(t, ms, n);
        } finally {
          ac.abort();
        }
      }, { ...OPTS, signal: ac.signal }),
    );
    expect(err.kind).toBe('cancelled');
    expect(calls.map((c) => c.provider)).toEqual(['a']);
  });

  it('an abort while waiting (backoff or retry-after) ends with cancelled', async () => {
    const { clock, executor } = setup();
    const ac = new AbortController();
    clock.onSleep = () => ac.abort();
    const { call, calls } = scripted(clock, { a: [{ error: fail('rate_limited', { retryAfterMs: 1_000 }) }, { value: 'no' }] });
    const err = await rejection(executor.run(planOf(target('a')), call, { ...OPTS, signal: ac.signal }));
    expect(err.kind).toBe('cancelled');
    expect(calls).toHaveLength(1);
    expect(clock.sleeps).toHaveLength(1);
  });
});

describe('executor.run: breakers on the first pick', () => {
  // A breaker that refuses the listed keys and counts what it was asked, answering synchronously or later.
  function breakers(refuse: Set<string>, async: boolean) {
    const asked: string[] = [];
    const reported: string[] = [];
    const state: BreakerState = {
      peek: () => ({ state: 'closed', calls: 0, failures: 0 }),
      acquire: (key) => {
        asked.push(key);
        const ok = !refuse.has(key);
        return async ? Promise.resolve(ok) : ok;
      },
      report: (key, outcome) => {
        reported.push(`${key}:${outcome}`);
      },
    };
    return { state, asked, reported };
  }

  for (const async of [false, true]) {
    it(`a refused first target is skipped for the next, each asked once (${async ? 'async' : 'sync'} breaker)`, async () => {
      const clock = createFakeClock(1_000_000);
      const b = breakers(new Set(['a/a-model']), async);
      const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5, breakers: b.state });
      const { call, calls } = scripted(clock, { a: [{ value: 'no' }], b: [{ value: 'from b' }] });
      const res = await executor.run(planOf(target('a'), target('b')), call, OPTS);
      expect(res.value).toBe('from b');
      expect(calls.map((c) => c.provider)).toEqual(['b']);
      expect(b.asked).toEqual(['a/a-model', 'b/b-model']);
      expect(b.reported).toEqual(['b/b-model:success']);
    });

    it(`an allowed first target is asked once and called (${async ? 'async' : 'sync'} breaker)`, async () => {
      const clock = createFakeClock(1_000_000);
      const b = breakers(new Set(), async);
      const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5, breakers: b.state });
      const { call, calls } = scripted(clock, { a: [{ value: 'from a' }] });
      const res = await executor.run(planOf(target('a'), target('b')), call, OPTS);
      expect(res.value).toBe('from a');
      expect(calls.map((c) => c.provider)).toEqual(['a']);
      expect(b.asked).toEqual(['a/a-model']);
    });
  }

  it('every target refused: unavailable naming the open circuit, nothing called', async () => {
    const clock = createFakeClock(1_000_000);
    const b = breakers(new Set(['a/a-model', 'b/b-model']), false);
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5, breakers: b.state });
    const { call, calls } = scripted(clock, { a: [{ value: 'no' }], b: [{ value: 'no' }] });
    const err = await rejection(executor.run(planOf(target('a'), target('b')), call, OPTS));
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/a\/a-model: circuit open/);
    expect(calls).toHaveLength(0);
    expect(b.asked).toEqual(['a/a-model', 'b/b-model']);
  });
});
