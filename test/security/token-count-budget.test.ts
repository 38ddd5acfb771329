/**
 * One request must not stall later ones through the tokenizer: a count has a time budget (then the
 * chars/4 estimate stands in), an aborted request's count is dropped, a count that will not stop loses
 * its worker, and a long run of one character is counted in near-linear time (js-tiktoken's BPE is
 * quadratic in the length of one pre-tokenizer piece).
 */
import type { Worker } from 'node:worker_threads';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/index.ts';
import { estimateInputTokens, type ChatRequest } from '../../src/core/index.ts';
import { createTokenCounter, spawnTokenCountWorker, type TokenCounter } from '../../src/gateway/token-counter.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const chat = (content: string): ChatRequest => ({ messages: [{ role: 'user', content }] });
const PATHOLOGICAL = 'hello world '.repeat(1_000) + '}'.repeat(40_000);
const NORMAL = 'lorem ipsum dolor sit amet '.repeat(1_000);

interface ManualTimer {
  ms: number;
  fire(): void;
  cancelled: boolean;
}

/** Timers that only fire when the test says so; `armed(n)` resolves once n have been set. */
function manualTimers() {
  const timers: ManualTimer[] = [];
  let wake: (() => void) | undefined;
  return {
    timers,
    setTimer(ms: number, fn: () => void) {
      const t: ManualTimer = { ms, fire: () => !t.cancelled && ((t.cancelled = true), fn()), cancelled: false };
      timers.push(t);
      wake?.();
      return () => void (t.cancelled = true);
    },
    async armed(n: number): Promise<ManualTimer[]> {
      while (timers.length < n) await new Promise<void>((r) => (wake = r));
      return timers;
    },
  };
}

/** The real worker, with the messages it was sent and whether it exited. */
function watchedWorkers() {
  const spawned: { worker: Worker; posted: unknown[]; exited: boolean }[] = [];
  return {
    spawned,
    spawnWorker(stop: SharedArrayBuffer): Worker {
      const worker = spawnTokenCountWorker(stop);
      const entry = { worker, posted: [] as unknown[], exited: false };
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (m: unknown) => {
        entry.posted.push(m);
        post(m);
      };
      worker.once('exit', () => (entry.exited = true));
      spawned.push(entry);
      return worker;
    },
  };
}

let counter: TokenCounter | undefined;
let stack: Stack | undefined;
afterEach(async () => {
  await counter?.close();
  await stack?.close();
  counter = undefined;
  stack = undefined;
});

describe('token count budget', () => {
  it('is router.tokenCountBudgetMs: 1000 ms by default, a positive whole number of ms at most 60000', () => {
    const minimal = { providers: [{ id: 'p1', protocol: 'openai', apiKey: 'sk-test', models: [{ id: 'm1' }] }] };
    expect(parseConfig(minimal, {}).router.tokenCountBudgetMs).toBe(1_000);
    expect(parseConfig({ ...minimal, router: { tokenCountBudgetMs: 250 } }, {}).router.tokenCountBudgetMs).toBe(250);
    for (const bad of [0, 1.5, 120_000]) {
      const err = (() => {
        try {
          parseConfig({ ...minimal, router: { tokenCountBudgetMs: bad } }, {});
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.join('\n')).toMatch(/^router\.tokenCountBudgetMs: /);
    }
  });

  it('counts a 40,000-character run of "}" with the tokenizer, close above the true count', { timeout: 20_000 }, async () => {
    counter = createTokenCounter({ budgetMs: 60_000 });
    const got = await counter.count(chat('}'.repeat(40_000)));
    // o200k encodes "}}" as one token: 20,000 tokens, +10% margin, +7 message overhead.
    const exact = Math.ceil(20_000 * 1.1) + 7;
    expect(got.source).toBe('tokenizer');
    expect(got.tokens).toBeGreaterThanOrEqual(exact);
    expect(got.tokens).toBeLessThan(exact * 1.02);
  });

  it('a count past its budget resolves with the estimate, and the next count is exact', { timeout: 20_000 }, async () => {
    const clock = manualTimers();
    counter = createTokenCounter({ budgetMs: 500, setTimer: clock.setTimer });
    const slow = counter.count(chat(PATHOLOGICAL));
    const [budget] = await clock.armed(1); // set when the worker is ready and the count starts
    expect(budget!.ms).toBe(500);
    budget!.fire();
    await expect(slow).resolves.toEqual({ tokens: estimateInputTokens(chat(PATHOLOGICAL)), source: 'estimate' });
    const next = await counter.count(chat(NORMAL));
    expect(next.source).toBe('tokenizer');
    expect(next.tokens).toBeLessThan(estimateInputTokens(chat(NORMAL)));
  });

  it('a count queued behind a slow one is bounded by its own budget', { timeout: 20_000 }, async () => {
    const clock = manualTimers();
    counter = createTokenCounter({ budgetMs: 500, setTimer: clock.setTimer });
    const slow = counter.count(chat(PATHOLOGICAL));
    const queued = counter.count(chat(NORMAL));
    const [, queuedBudget] = await clock.armed(2);
    queuedBudget!.fire();
    await expect(queued).resolves.toMatchObject({ source: 'estimate' });
    await expect(slow).resolves.toMatchObject({ source: 'tokenizer' });
  });

  it("an aborted request's count is dropped: running or queued, it settles at once and the rest go on", { timeout: 20_000 }, async () => {
    const clock = manualTimers();
    const workers = watchedWorkers();
    counter = createTokenCounter({ setTimer: clock.setTimer, spawnWorker: workers.spawnWorker });

    await expect(counter.count(chat(NORMAL), AbortSignal.abort())).rejects.toThrow();
    expect(workers.spawned).toHaveLength(0);

    const running = new AbortController();
    const queued = new AbortController();
    const a = counter.count(chat(PATHOLOGICAL), running.signal);
    const b = counter.count(chat(PATHOLOGICAL), queued.signal);
    const c = counter.count(chat(NORMAL));
    await clock.armed(3);
    queued.abort(new Error('client went away'));
    running.abort(new Error('client went away'));
    await expect(a).rejects.toThrow('client went away');
    await expect(b).rejects.toThrow('client went away');
    await expect(c).resolves.toMatchObject({ source: 'tokenizer' });
    // The queued count never reached the worker; the running one was stopped without replacing it.
    expect(workers.spawned).toHaveLength(1);
    expect(workers.spawned[0]!.posted).toHaveLength(2);
    expect(workers.spawned[0]!.exited).toBe(false);
  });

  it('a count that does not stop when asked loses its worker, and a new worker takes the next count', { timeout: 20_000 }, async () => {
    const clock = manualTimers();
    const workers = watchedWorkers();
    counter = createTokenCounter({ budgetMs: 500, setTimer: clock.setTimer, spawnWorker: workers.spawnWorker });
    const slow = counter.count(chat(PATHOLOGICAL));
    const [budget] = await clock.armed(1);
    budget!.fire();
    // The worker is asked to stop and given a grace period; firing that now (before its answer can arrive) cuts it off.
    const grace = clock.timers[1]!;
    grace.fire();
    await expect(slow).resolves.toMatchObject({ source: 'estimate' });
    const next = await counter.count(chat(NORMAL));
    expect(next.source).toBe('tokenizer');
    expect(workers.spawned).toHaveLength(2);
    expect(workers.spawned[0]!.exited).toBe(true);
  });

  it('over HTTP, a prompt with a long run of "}" near a 128k window does not stall the next large prompt', { timeout: 30_000 }, async () => {
    stack = await startStack();
    const client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ask = (content: string) => client.chat.completions.create({ model: 'sim-openai/gpt-4o-mini', messages: [{ role: 'user', content }] });
    const [first, second] = await Promise.all([ask('hello world '.repeat(34_000) + '}'.repeat(40_000)), ask('hello world '.repeat(38_000))]);
    expect(first.choices[0]!.message.content).toBeTruthy();
    expect(second.choices[0]!.message.content).toBeTruthy();
  });
});
