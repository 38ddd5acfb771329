import cluster, { type Worker } from 'node:cluster';

/**
 * `SWITCHBOARD_WORKERS=N` for `switchboard start`: the primary forks N workers (node:cluster) that each run
 * the whole gateway and share one listening port (the primary hands connections out round-robin). The
 * primary serves nothing itself: it prints the address once every worker listens, restarts a worker that
 * dies, and on SIGTERM/SIGINT passes the signal on and waits for the workers' graceful shutdown.
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

export function runPrimary(opts: PrimaryOptions): void {
  let stopping = false;
  let listening = 0;
  let announced = false;
  const restarts: number[] = [];

  const fork = (): Worker => cluster.fork(opts.env ?? {});
  cluster.on('listening', (_worker, address) => {
    listening++;
    if (announced || listening < opts.workers) return;
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
    // A worker that keeps dying at once (bad config, port taken) is not restarted forever.
    const now = Date.now();
    restarts.push(now);
    while (restarts.length > 0 && restarts[0]! < now - 60_000) restarts.shift();
    if (restarts.length > opts.workers * 3) {
      process.stderr.write(`switchboard: workers keep exiting (last: worker ${worker.id}, code ${code}, signal ${signal}); stopping\n`);
      void stop(1);
      return;
    }
    process.stderr.write(`switchboard: worker ${worker.id} exited (code ${code}, signal ${signal}); starting another\n`);
    setTimeout(fork, 500).unref();
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
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) return done();
    for (const w of workers) w.process.kill('SIGTERM');
  }
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  for (let i = 0; i < opts.workers; i++) fork();
}
