import cluster, { type Worker } from 'node:cluster';

/**
 * `SWITCHBOARD_WORKERS=N` for `switchboard start`: the primary forks N workers (node:cluster) that each run
 * the whole gateway and share one listening port (the primary hands connections out round-robin). The
 * primary serves nothing itself: it prints the address once every worker listens, restarts a worker that
 * dies (with back-off; it exits 1 when workers cannot start at all), and on SIGTERM/SIGINT passes the
 * signal on and waits for the workers' graceful shutdown.
 *
 * Each worker has its own process memory: with the memory store, response cache, rate limits, budgets
 * and circuit breakers are per worker. `store: redis` shares them, as it does between instances.
 */

/** The workers asked for: a whole number ≥ 1 (default 1, no cluster). */
export function workerCount(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new Error(`SWITCHBOARD_WORKERS: expected a whole number from 1 to 256, got "${raw}"`);
  return n;
}

/** Simulator URLs the primary started for its workers (no config given): one set, shared by every worker. */
export const SIM_URLS_ENV = 'SWITCHBOARD_CLUSTER_SIM_URLS';

export interface PrimaryOptions {
  workers: number;
  /** Printed under the address once every worker listens. */
  describe: (url: string) => string[];
  /** Extra environment for the workers (the simulators' URLs). */
  env?: Record<string, string>;
  /** Runs after the workers have stopped (the primary's own simulators). */
  onStopped?: () => Promise<void>;
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

export interface RestartPolicyOptions {
  /** Workers the primary runs: the default give-up threshold is this plus 2. */
  workers: number;
  /** The first restart's delay; each further one in a row doubles it (default 500 ms). */
  baseDelayMs?: number;
  /** The longest delay between restarts (default 30 s). */
  maxDelayMs?: number;
  /** A worker that lived this long resets the delay to `baseDelayMs` when it dies (default 30 s). */
  stableAfterMs?: number;
  /** Workers in a row that die before listening, after which the primary gives up (default workers + 2). */
  maxFailedStarts?: number;
  /** Milliseconds, monotonic (tests pass a fake clock). */
  now?: () => number;
}

export type ExitDecision = { restartInMs: number } | { giveUp: string };

/**
 * When to start a worker again after one died. Restarts back off exponentially, so a worker that crashes
 * soon after start does not spin; a worker that lived `stableAfterMs` resets the back-off. Workers that die
 * before they listen (bad environment, port taken) count as failed starts: `maxFailedStarts` of them in a
 * row, with none listening in between, means workers cannot start at all and the primary should give up.
 */
export function createRestartPolicy(opts: RestartPolicyOptions) {
  const base = opts.baseDelayMs ?? 500;
  const max = opts.maxDelayMs ?? 30_000;
  const stableAfter = opts.stableAfterMs ?? 30_000;
  const maxFailedStarts = opts.maxFailedStarts ?? opts.workers + 2;
  const now = opts.now ?? (() => performance.now());
  const workers = new Map<number, { startedAt: number; listening: boolean }>();
  let backoff = 0;
  let failedStarts = 0;
  return {
    started(id: number): void {
      workers.set(id, { startedAt: now(), listening: false });
    },
    listening(id: number): void {
      const w = workers.get(id);
      if (w) w.listening = true;
      failedStarts = 0;
    },
    exited(id: number): ExitDecision {
      const w = workers.get(id);
      workers.delete(id);
      const lived = w ? now() - w.startedAt : 0;
      if (!w?.listening && ++failedStarts >= maxFailedStarts) {
        return { giveUp: `${failedStarts} workers in a row exited before listening` };
      }
      if (lived >= stableAfter) backoff = 0;
      const delay = Math.min(max, base * 2 ** backoff);
      if (delay < max) backoff++;
      return { restartInMs: delay };
    },
  };
}

export function runPrimary(opts: PrimaryOptions): void {
  let stopping = false;
  let listening = 0;
  let announced = false;
  const policy = createRestartPolicy({ workers: opts.workers });
  const pending = new Set<NodeJS.Timeout>();

  const fork = (): Worker => {
    const w = cluster.fork(opts.env ?? {});
    policy.started(w.id);
    return w;
  };
  cluster.on('listening', (worker, address) => {
    policy.listening(worker.id);
    listening++;
    if (announced) {
      process.stderr.write(`switchboard: worker ${worker.id} listening (replaces one that exited)\n`);
      return;
    }
    if (listening < opts.workers) return;
    announced = true;
    const host = address.address === null || address.address === undefined ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    process.stdout.write(`${[`switchboard listening on ${url}   (${opts.workers} workers, node:cluster)`, ...opts.describe(url)].join('\n')}\n`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) void done();
      return;
    }
    const decision = policy.exited(worker.id);
    if ('giveUp' in decision) {
      process.stderr.write(`switchboard: workers cannot start (${decision.giveUp}; last: worker ${worker.id}, code ${code}, signal ${signal}); stopping\n`);
      void stop(1);
      return;
    }
    process.stderr.write(`switchboard: worker ${worker.id} exited (code ${code}, signal ${signal}); starting another in ${decision.restartInMs} ms\n`);
    // Not unref'd: with every worker dead, this timer is what keeps the primary alive to restart them.
    const timer = setTimeout(() => {
      pending.delete(timer);
      if (!stopping) fork();
    }, decision.restartInMs);
    pending.add(timer);
  });

  let exitCode = 0;
  async function done(): Promise<void> {
    await opts.onStopped?.();
    process.exit(exitCode);
  }
  async function stop(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const t of pending) clearTimeout(t);
    pending.clear();
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) return done();
    for (const w of workers) w.process.kill('SIGTERM');
  }
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  // A config reload is each worker's own (each holds its own copy): pass SIGHUP on.
  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  for (let i = 0; i < opts.workers; i++) fork();
}
