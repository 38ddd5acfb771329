import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { keepWarmImport } from '../../bench/keep-warm.ts';

/**
 * A child serving one HTTP request on loopback, then reporting its event loop's utilization over 60 ms soon after
 * the answer and over 60 ms starting 250 ms later: with the preload it turns through the first window and
 * sleeps in the second; without it, it sleeps in both.
 */
const CHILD = `
import http from 'node:http';
const server = http.createServer((req, res) => {
  res.end('ok');
  const window = (fromMs, ms) => new Promise((done) => setTimeout(() => {
    const start = performance.eventLoopUtilization();
    setTimeout(() => done(performance.eventLoopUtilization(start).utilization), ms);
  }, fromMs));
  void (async () => {
    // From 10 ms after the answer: the child's own fetch has read the response by then.
    const justAfter = await window(10, 60);
    const later = await window(250, 60);
    process.stdout.write(JSON.stringify({ justAfter, later }));
    server.close();
  })();
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  void fetch('http://127.0.0.1:' + port + '/').then((r) => r.text());
});
`;

function utilization(preload: boolean): Promise<{ justAfter: number; later: number }> {
  const args = [...(preload ? ['--import', keepWarmImport] : []), '--input-type=module', '-e', CHILD];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { justAfter: number; later: number }) : reject(new Error(`child exited ${code}`))));
  });
}

describe('the --warm preload', () => {
  it('keeps the event loop turning after a request, and lets it sleep once requests stop', async () => {
    const [warm, cold] = await Promise.all([utilization(true), utilization(false)]);
    // A turning loop is busy all the time (~1), a sleeping one hardly at all; the margins leave room for a loaded machine.
    expect(warm.justAfter).toBeGreaterThan(0.8);
    expect(warm.later).toBeLessThan(0.5);
    expect(cold.justAfter).toBeLessThan(0.5);
  });
});
