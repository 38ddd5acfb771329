import { Worker } from 'node:worker_threads';
import { estimateInputTokens, type ChatRequest } from '../core/index.ts';

/**
 * A tokenizer count of a request's input, for the one routing decision where the chars/4 estimate is not
 * good enough: whether a prompt fits a context window when the estimate is within 20% of a candidate's
 * limit (see `needsPreciseCount`). Ordinary requests never pay for it.
 *
 * js-tiktoken's o200k_base encoder takes about a second of CPU to build and ~1 µs per token to encode,
 * so it lives in a worker thread started on first need: the event loop (every other stream) never stalls.
 * o200k is OpenAI's tokenizer; Anthropic's and Google's count the same text somewhat higher, so the count
 * gets a 10% margin. If that is still short, the provider's context-length error sends the request on to
 * a larger window (the executor's `larger-window` fallback) — as it does when a count ran out of time and
 * the estimate stood in.
 */
export interface TokenCount {
  tokens: number;
  /** `estimate`: the count ran out of its budget (or the worker failed) and chars/4 stands in. */
  source: 'tokenizer' | 'estimate';
}

export interface TokenCounter {
  /** Never rejects, except with `signal`'s reason when it aborts (the count is then dropped). */
  count(req: ChatRequest, signal?: AbortSignal): Promise<TokenCount>;
  close(): Promise<void>;
}

/** True when the cheap estimate is close enough (±20%) to some window that the verdict could flip. */
export function needsPreciseCount(estimate: number, maxOutput: number, windows: readonly (number | { contextWindow: number })[]): boolean {
  const needed = estimate + maxOutput;
  // A plain loop over targets or numbers: this runs for every request, and a mapped array would be garbage.
  for (const w of windows) {
    const window = typeof w === 'number' ? w : w.contextWindow;
    if (needed > window * 0.8 && needed < window * 1.2) return true;
  }
  return false;
}

function textsOf(req: ChatRequest): { texts: string[]; extra: number } {
  const texts: string[] = [];
  let extra = 3;
  for (const m of req.messages) {
    extra += 4;
    const content = m.content;
    if (typeof content === 'string') texts.push(content);
    else if (Array.isArray(content)) {
      for (const p of content) {
        if (p.type === 'text') texts.push(p.text);
        else extra += 85;
      }
    }
    if (m.role === 'assistant' && m.toolCalls) for (const c of m.toolCalls) texts.push(c.name, c.arguments);
  }
  for (const t of req.tools ?? []) texts.push(t.name, t.description ?? '', JSON.stringify(t.parameters));
  if (req.responseFormat?.type === 'json_schema') texts.push(JSON.stringify(req.responseFormat.schema));
  return { texts, extra };
}

/** How long a count may take by default before the caller goes on with the estimate (`router.tokenCountBudgetMs`). */
export const DEFAULT_TOKEN_COUNT_BUDGET_MS = 1_000;
/**
 * A count asked to stop checks the stop cell between slices of a few ms of work; one that has not
 * answered within this is stuck (or the slice pathological), so its worker is terminated and replaced.
 */
const STOP_GRACE_MS = 500;

export interface TokenCounterDeps {
  /** Longest a caller waits for a count, queueing included (the worker's one-time start-up is not). */
  budgetMs?: number;
  /** Budget and stop-grace timers; tests inject manual ones. Returns a cancel function. */
  setTimer?: (ms: number, fn: () => void) => () => void;
  /** Starts a worker (tests wrap the real one to watch it). */
  spawnWorker?: (stop: SharedArrayBuffer) => Worker;
}

/** The worker thread; `stop` is its one-Int32 stop cell (see token-count-worker.ts). */
export function spawnTokenCountWorker(stop: SharedArrayBuffer): Worker {
  // `.ts` when running the sources, `.js` from the build (dist/).
  const url = new URL(`./token-count-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  return new Worker(url, { workerData: { stop } });
}

const unrefTimer = (ms: number, fn: () => void): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

interface Job {
  id: number;
  texts: string[];
  extra: number;
  req: ChatRequest;
  settled: boolean;
  /** Cancels the budget timer (armed once a worker is ready). */
  disarm?: (() => void) | undefined;
  resolve(c: TokenCount): void;
  reject(e: unknown): void;
  detach(): void;
}

type WorkerMessage = { ready: true } | { id: number; tokens: number } | { id: number; stopped: true };

/**
 * One worker, one count at a time, from a queue the gateway holds (so a queued count can be dropped
 * before the worker ever sees it). Each count gets `budgetMs` from when a worker is ready for it; when
 * that runs out, or the request is aborted, the caller is answered at once (the estimate, or the abort
 * reason) and a running count is asked to stop through the shared stop cell, so the next one starts
 * within milliseconds. A worker that does not stop within STOP_GRACE_MS is terminated and replaced.
 * Aborts do not terminate: rebuilding the encoder costs about a second of CPU, which a client that
 * opens and drops requests in a loop could otherwise make the gateway spend over and over.
 */
export function createTokenCounter(deps: TokenCounterDeps = {}): TokenCounter {
  const budgetMs = deps.budgetMs ?? DEFAULT_TOKEN_COUNT_BUDGET_MS;
  const setTimer = deps.setTimer ?? unrefTimer;
  const spawn = deps.spawnWorker ?? spawnTokenCountWorker;
  let worker: Worker | undefined;
  let stop = new Int32Array(new SharedArrayBuffer(4));
  let ready = false;
  let running: Job | undefined;
  let stopGrace: (() => void) | undefined;
  let nextId = 1;
  const queue: Job[] = [];

  const estimate = (job: Job): TokenCount => ({ tokens: estimateInputTokens(job.req), source: 'estimate' });

  function settle(job: Job, outcome: { count: TokenCount } | { error: unknown }): void {
    if (job.settled) return;
    job.settled = true;
    job.disarm?.();
    job.detach();
    if ('count' in outcome) job.resolve(outcome.count);
    else job.reject(outcome.error);
  }

  /** Answers the caller now; the work itself leaves the queue, or is asked to stop if it is running. */
  function drop(job: Job, outcome: { count: TokenCount } | { error: unknown }): void {
    settle(job, outcome);
    const i = queue.indexOf(job);
    if (i >= 0) queue.splice(i, 1);
    else if (running === job && !stopGrace) {
      Atomics.store(stop, 0, job.id);
      stopGrace = setTimer(STOP_GRACE_MS, replaceWorker);
    }
  }

  function arm(job: Job): void {
    job.disarm ??= setTimer(budgetMs, () => drop(job, { count: estimate(job) }));
  }

  function finishRunning(): Job | undefined {
    const job = running;
    running = undefined;
    stopGrace?.();
    stopGrace = undefined;
    return job;
  }

  /** Kills a stuck worker; queued counts keep their budgets and go to a fresh one. */
  function replaceWorker(): void {
    const w = worker;
    worker = undefined;
    ready = false;
    const job = finishRunning();
    if (job) settle(job, { count: estimate(job) });
    void w?.terminate();
    if (queue.length > 0) start();
  }

  function pump(): void {
    if (!worker || !ready || running) return;
    const job = queue.shift();
    if (!job) return;
    running = job;
    worker.postMessage({ id: job.id, texts: job.texts });
  }

  function start(): void {
    if (worker) return;
    const cell = new SharedArrayBuffer(4);
    const w = spawn(cell);
    stop = new Int32Array(cell);
    w.unref();
    w.on('message', (m: WorkerMessage) => {
      if (w !== worker) return;
      if ('ready' in m) {
        ready = true;
        for (const job of queue) arm(job);
      } else if (running?.id === m.id) {
        const job = finishRunning()!;
        if ('tokens' in m) settle(job, { count: { tokens: Math.ceil(m.tokens * 1.1) + job.extra, source: 'tokenizer' } });
        else settle(job, { count: estimate(job) });
      }
      pump();
    });
    // A worker that fails on its own (not one we replaced) is not restarted in a loop: everything
    // waiting gets the estimate, and the next count starts a new one.
    const failed = () => {
      if (w !== worker) return;
      worker = undefined;
      ready = false;
      const job = finishRunning();
      for (const j of [...(job ? [job] : []), ...queue.splice(0)]) settle(j, { count: estimate(j) });
    };
    w.on('error', failed);
    w.on('exit', failed);
    worker = w;
  }

  return {
    count(req, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      const { texts, extra } = textsOf(req);
      return new Promise<TokenCount>((resolve, reject) => {
        const id = nextId;
        nextId = nextId === 0x7fffffff ? 1 : nextId + 1; // ids go through an Int32 stop cell
        const job: Job = { id, texts, extra, req, settled: false, resolve, reject, detach: () => undefined };
        if (signal) {
          const onAbort = () => drop(job, { error: signal.reason });
          signal.addEventListener('abort', onAbort, { once: true });
          job.detach = () => signal.removeEventListener('abort', onAbort);
        }
        queue.push(job);
        if (ready) arm(job);
        start();
        pump();
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      ready = false;
      const job = finishRunning();
      for (const j of [...(job ? [job] : []), ...queue.splice(0)]) settle(j, { count: estimate(j) });
      if (w) await w.terminate();
    },
  };
}
