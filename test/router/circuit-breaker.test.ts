/** Circuit breakers on the fake clock: open after N failures, skip, half-open after the cooldown, close on success. */
import { describe, expect, it } from 'vitest';
import { BreakerConfigSchema, type BreakerConfig } from '../../src/config/index.ts';
import { GatewayError } from '../../src/core/index.ts';
import { createInMemoryBreakerState } from '../../src/router/circuit-breaker.ts';
import { createExecutor } from '../../src/router/executor.ts';
import { planRoute } from '../../src/router/route-plan.ts';
import { createFakeClock } from '../helpers/fake-clock.ts';
import { target } from './helpers.ts';

const config = (extra: Partial<BreakerConfig> = {}) => BreakerConfigSchema.parse({ consecutiveFailures: 3, cooldownMs: 10_000, ...extra });
const hello = { messages: [{ role: 'user' as const, content: 'hi' }] };

function setup(extra: Partial<BreakerConfig> = {}) {
  const clock = createFakeClock(0);
  const breakers = createInMemoryBreakerState(config(extra));
  const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5, breakers });
  const ts = [target('a'), target('b')];
  const calls: string[] = [];
  let aFails = true;
  const call = async (t: { provider: string }) => {
    calls.push(t.provider);
    if (t.provider === 'a' && aFails) throw new GatewayError('unavailable', 'a is down', { status: 503 });
    return t.provider;
  };
  const request = async () => {
    const plan = planRoute('r', 1, ts, hello, { breakers, now: clock.now() });
    const res = await executor.run(plan, call, { maxAttempts: 4, deadlineMs: 5_000 });
    return { plan, res };
  };
  return { clock, breakers, calls, request, heal: () => (aFails = false) };
}

describe('circuit breaker', () => {
  it('opens after N consecutive failures, skips the target, half-opens after the cooldown, closes on success', async () => {
    const { clock, breakers, calls, request, heal } = setup();
    for (let i = 0; i < 3; i++) expect((await request()).res.value).toBe('b');
    expect(calls.filter((c) => c === 'a')).toHaveLength(3);
    expect(breakers.peek('a/a-model', clock.now())).toMatchObject({ state: 'open', reason: '3 consecutive failures' });

    // Open: planning excludes it with the reason, and no request calls it.
    const skipped = await request();
    expect(skipped.plan.excluded).toEqual([{ provider: 'a', model: 'a-model', reason: expect.stringMatching(/^circuit open for another 10 s \(3 consecutive failures\)$/) }]);
    expect(skipped.res.attempts.map((a) => a.provider)).toEqual(['b']);
    expect(calls.filter((c) => c === 'a')).toHaveLength(3);

    clock.advance(10_000);
    expect(breakers.peek('a/a-model', clock.now()).state).toBe('half-open');
    heal();
    const probe = await request();
    expect(probe.res.value).toBe('a');
    expect(breakers.peek('a/a-model', clock.now()).state).toBe('closed');
  });

  it('a failed probe reopens the circuit for another cooldown', async () => {
    const { clock, breakers, request } = setup();
    for (let i = 0; i < 3; i++) await request();
    clock.advance(10_000);
    await request();
    expect(breakers.peek('a/a-model', clock.now())).toMatchObject({ state: 'open', openUntil: clock.now() + 10_000, reason: expect.stringContaining('probe failed') });
  });

  it('half-open lets only the configured number of probes through at a time', () => {
    const clock = createFakeClock(0);
    const b = createInMemoryBreakerState(config({ halfOpenProbes: 2 }));
    for (let i = 0; i < 3; i++) b.report('k', 'failure', clock.now());
    expect(b.acquire('k', clock.now())).toBe(false);
    clock.advance(10_000);
    expect([b.acquire('k', clock.now()), b.acquire('k', clock.now()), b.acquire('k', clock.now())]).toEqual([true, true, false]);
    b.report('k', 'neutral', clock.now()); // a cancelled probe frees its slot
    expect(b.acquire('k', clock.now())).toBe(true);
  });

  it('opens on the error rate over the window even without a run of failures', () => {
    const b = createInMemoryBreakerState(config({ consecutiveFailures: 100, errorRate: 0.5, minCalls: 10, windowMs: 60_000 }));
    for (let i = 0; i < 10; i++) b.report('k', i % 2 === 1 ? 'failure' : 'success', i * 1_000);
    expect(b.peek('k', 9_000)).toMatchObject({ state: 'open', reason: 'error rate 50% over 10 calls' });
    // Calls older than the window no longer count.
    const c = createInMemoryBreakerState(config({ consecutiveFailures: 100, errorRate: 0.5, minCalls: 4, windowMs: 10_000 }));
    c.report('k', 'failure', 0);
    c.report('k', 'failure', 1);
    c.report('k', 'success', 50_000);
    c.report('k', 'failure', 50_001);
    expect(c.peek('k', 50_001)).toMatchObject({ state: 'closed', calls: 2, failures: 1 });
  });

  it('auth marks the deployment broken for every later request, not just this one', async () => {
    const clock = createFakeClock(0);
    const breakers = createInMemoryBreakerState(config({ authBrokenMs: 60_000 }));
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5, breakers });
    const calls: string[] = [];
    const call = async (t: { provider: string }) => {
      calls.push(t.provider);
      if (t.provider === 'a') throw new GatewayError('auth', 'bad key', { status: 401 });
      return t.provider;
    };
    const ts = [target('a'), target('b')];
    await executor.run(planRoute('r', 1, ts, hello, { breakers, now: clock.now() }), call, { maxAttempts: 4, deadlineMs: 1_000 });
    const next = planRoute('r', 1, ts, hello, { breakers, now: clock.now() });
    expect(next.excluded[0]!.reason).toContain('deployment broken');
    await executor.run(next, call, { maxAttempts: 4, deadlineMs: 1_000 });
    expect(calls).toEqual(['a', 'b', 'b']);
    clock.advance(60_000);
    expect(breakers.peek('a/a-model', clock.now()).state).toBe('half-open');
  });

  it('a 429 keeps every request off the target until its retry-after, without counting as a failure', async () => {
    const clock = createFakeClock(0);
    const breakers = createInMemoryBreakerState(config());
    const executor = createExecutor({ now: clock.now, sleep: clock.sleep, random: () => 0.5, breakers });
    const calls: Array<{ provider: string; at: number }> = [];
    let limited = true;
    const call = async (t: { provider: string }) => {
      calls.push({ provider: t.provider, at: clock.now() });
      if (t.provider === 'a' && limited) throw new GatewayError('rate_limited', 'slow down', { status: 429, retryAfterMs: 2_000 });
      return t.provider;
    };
    const ts = [target('a'), target('b')];
    const run = () => executor.run(planRoute('r', 1, ts, hello, { breakers, now: clock.now() }), call, { maxAttempts: 4, deadlineMs: 10_000 });
    expect((await run()).value).toBe('b');
    clock.advance(1_000);
    expect((await run()).value).toBe('b');
    expect(calls.filter((c) => c.provider === 'a')).toHaveLength(1);
    clock.advance(1_000);
    limited = false;
    expect((await run()).value).toBe('a');
    const aCalls = calls.filter((c) => c.provider === 'a');
    expect(aCalls[1]!.at - aCalls[0]!.at).toBeGreaterThanOrEqual(2_000);
    expect(breakers.peek('a/a-model', clock.now()).state).toBe('closed');
  });
});
