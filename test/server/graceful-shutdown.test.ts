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
  // A slow stream: 20 chunks, 40 ms apart.
  sim = await startSimulator({ protocol: 'openai', port: 0, faults: { chunkDelayMs: 40, replyWords: 20 } });
});
afterAll(() => sim.close());

describe('switchboard start', () => {
  it('on SIGTERM stops accepting, lets an open stream finish, then exits 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-shutdown-'));
    const config = join(dir, 'c.yaml');
    await writeFile(
      config,
      `providers:\n  - id: sim\n    protocol: openai\n    baseUrl: ${sim.url}/v1\n    models: [{ id: m1 }]\nroutes:\n  - name: default\n    targets: [{ provider: sim, model: m1 }]\n`,
    );
    const child = spawn(process.execPath, [cli, 'start', '--config', config, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    while (!/listening on (http:\/\/\S+)/.test(out)) await once(child.stdout, 'data');
    const url = out.match(/listening on (http:\/\/\S+)/)![1]!;

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'default', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('chat.completion.chunk');

    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await new Promise((ok) => setTimeout(ok, 100));
    // New connections are refused while the open stream drains.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const [code] = await exited;
    expect(code).toBe(0);
  });
});
