import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRestartPolicy } from '../../src/cli-cluster.ts';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';

const cli = join(import.meta.dirname, '../../src/cli.ts');
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ protocol: 'openai', port: 0 });
});
afterAll(() => sim.close());

describe('SWITCHBOARD_WORKERS', () => {
  it('runs N workers on one port, serves requests, and stops them all on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-cluster-'));
    const config = join(dir, 'c.yaml');
    await writeFile(config, `providers:\n  - id: sim\n    protocol: openai\n    baseUrl: ${sim.url}/v1\n    models: [{ id: m1 }]\nroutes:\n  - name: default\n    targets: [{ provider: sim, model: m1 }]\n`);
    const child = spawn(process.execPath, [cli, 'start', '--config', config, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SWITCHBOARD_WORKERS: '2' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    while (!/listening on (http:\/\/\S+)/.test(out)) await once(child.stdout, 'data');
    expect(out).toContain('2 workers');
    const url = out.match(/listening on (http:\/\/\S+)/)![1]!;
    const before = sim.stats.requests;
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'default', messages: [{ role: 'user', content: 'hi' }] }),
        }).then((r) => r.status),
      ),
    );
    expect(answers).toEqual(Array(8).fill(200));
    expect(sim.stats.requests - before).toBe(8);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
  });

  it('rejects a bad worker count by name', async () => {
    const child = spawn(process.execPath, [cli, 'start', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHBOARD_WORKERS: 'lots' } });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(err).toContain('SWITCHBOARD_WORKERS');
  });
});

async function configFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-cluster-'));
  const config = join(dir, 'c.yaml');
  await writeFile(config, `providers:\n  - id: sim\n    protocol: openai\n    baseUrl: ${sim.url}/v1\n    models: [{ id: m1 }]\nroutes:\n  - name: default\n    targets: [{ provider: sim, model: m1 }]\n`);
  return config;
}

async function listen(port = 0): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((ok, fail) => {
    srv.once('error', fail);
    srv.listen(port, '127.0.0.1', ok);
  });
  return srv;
}

/** Waits (on output events, not time) until `text()` matches, failing if the process exits first. */
async function until(child: ChildProcessByStdio<null, Readable, Readable>, text: () => string, pattern: RegExp): Promise<void> {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`exited (code ${String(code)}) before ${String(pattern)}:\n${text()}`);
  });
  exited.catch(() => undefined);
  while (!pattern.test(text())) await Promise.race([once(child.stdout, 'data'), once(child.stderr, 'data'), exited]);
}

describe('SWITCHBOARD_WORKERS: dead workers', () => {
  it('restarts workers that die after start; the port keeps answering', async () => {
    // A fixed port: with port 0, workers started after all others died would get a new one.
    const probe = await listen();
    const port = (probe.address() as { port: number }).port;
    await new Promise((ok) => probe.close(ok));
    const child = spawn(process.execPath, [cli, 'start', '--config', await configFile(), '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SWITCHBOARD_WORKERS: '2' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    try {
      await until(child, () => out, /listening on http/);
      const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).split('\n').map(Number).filter((n) => n > 0);
      expect(workers).toHaveLength(2);
      // Every worker dies at once: the primary must not exit with them.
      for (const pid of workers) process.kill(pid, 'SIGKILL');
      await until(child, () => out, /listening \(replaces[^]*listening \(replaces/);
      expect(out).toMatch(/worker \d+ exited \(code null, signal SIGKILL\); starting another in \d+ ms/);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits non-zero when workers cannot start at all (port taken)', async () => {
    const taken = await listen();
    const port = (taken.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [cli, 'start', '--config', await configFile(), '--port', String(port), '--host', '127.0.0.1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SWITCHBOARD_WORKERS: '2' },
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      const [code] = await once(child, 'exit');
      expect(code).toBe(1);
      expect(err).toMatch(/workers cannot start \(4 workers in a row exited before listening/);
    } finally {
      await new Promise((ok) => taken.close(ok));
    }
  });
});

describe('worker restart policy', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => void (t += ms) };
  };

  it('backs off exponentially up to the cap, and a worker that lived long enough resets it', () => {
    const c = clock();
    const p = createRestartPolicy({ workers: 1, baseDelayMs: 500, maxDelayMs: 4_000, stableAfterMs: 30_000, now: c.now });
    const delays: number[] = [];
    for (let id = 1; id <= 6; id++) {
      p.started(id);
      p.listening(id);
      c.advance(1_000);
      const d = p.exited(id);
      expect('restartInMs' in d).toBe(true);
      delays.push((d as { restartInMs: number }).restartInMs);
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 4_000, 4_000]);
    p.started(7);
    p.listening(7);
    c.advance(30_000);
    expect(p.exited(7)).toEqual({ restartInMs: 500 });
  });

  it('gives up after maxFailedStarts workers in a row exit before listening; one that listens resets the count', () => {
    const c = clock();
    const p = createRestartPolicy({ workers: 2, now: c.now });
    p.started(1);
    p.started(2);
    expect(p.exited(1)).toEqual({ restartInMs: 500 });
    expect(p.exited(2)).toEqual({ restartInMs: 1_000 });
    p.started(3);
    expect(p.exited(3)).toEqual({ restartInMs: 2_000 });
    // A worker that starts listening means workers can start: the count begins again.
    p.started(4);
    p.listening(4);
    p.started(5);
    expect('restartInMs' in p.exited(5)).toBe(true);
    p.started(6);
    p.started(7);
    p.started(8);
    expect('restartInMs' in p.exited(6)).toBe(true);
    expect('restartInMs' in p.exited(7)).toBe(true);
    expect(p.exited(8)).toEqual({ giveUp: '4 workers in a row exited before listening' });
  });
});
