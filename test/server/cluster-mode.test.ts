import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
