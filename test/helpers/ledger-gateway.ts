/**
 * A real gateway process (`switchboard start`, as deployed) over an OpenAI simulator with the durable
 * ledger on, and a load of chat requests from the test that counts every answer it receives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Simulator } from '../../src/simulator/simulator-server.ts';

const CLI = join(import.meta.dirname, '../../src/cli.ts');

export interface Gateway {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout (logs are JSON lines). */
  output(): string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

export async function startGateway(sim: Simulator, ledgerUrl: string, opts: { flushIntervalMs: number; logLevel?: string }): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-ledger-proc-'));
  const config = join(dir, 'c.yaml');
  await writeFile(
    config,
    [
      'providers:',
      '  - id: sim',
      '    protocol: openai',
      `    baseUrl: ${sim.url}/v1`,
      '    models: [{ id: m1, price: { input: 1, output: 2 } }]',
      'routes:',
      '  - name: default',
      '    targets: [{ provider: sim, model: m1 }]',
      'ledger:',
      '  kind: postgres',
      `  url: ${ledgerUrl}`,
      `  flushIntervalMs: ${opts.flushIntervalMs}`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: opts.logLevel ?? 'warn' };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, [CLI, 'start', '--config', config, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    await Promise.race([once(child.stdout!, 'data'), exited.then(() => Promise.reject(new Error(`gateway exited:\n${out}`)))]);
  }
  return { child, url: out.match(/listening on (http:\/\/\S+)/)![1]!, output: () => out, exited };
}

/** Clients sending chat requests in a loop; every 200 is counted with the id it answered and when. */
export function startLoad(url: string, concurrency = 8) {
  const answered: { id: string; at: number }[] = [];
  let running = true;
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  const notify = () => {
    waiters = waiters.filter((w) => (answered.length >= w.n ? (w.resolve(), false) : true));
  };
  const worker = async (w: number) => {
    for (let i = 0; running; i++) {
      try {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: `load ${w}-${i}` }] }),
        });
        const body = (await res.json()) as { id?: string };
        if (res.status === 200 && body.id) {
          answered.push({ id: body.id, at: performance.now() });
          notify();
        }
      } catch {
        // The gateway is going away (refused, reset): that request was not answered.
        if (running) await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const workers = Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return {
    answered,
    /** Resolves once `n` requests have been answered in all. */
    until: (n: number) => new Promise<void>((resolve) => (answered.length >= n ? resolve() : waiters.push({ n, resolve }))),
    async stop() {
      running = false;
      await workers;
    },
  };
}

