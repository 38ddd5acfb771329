import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBenchOptions, UsageError } from '../../bench/lib/options.ts';
import { profileMarkdown, summarizeProfile } from '../../bench/lib/profile.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ANSWER = { id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] };
const CHUNKS = [{ id: 'c1', choices: [{ index: 0, delta: { content: 'Hel' } }] }, { id: 'c1', choices: [{ index: 0, delta: { content: 'lo' } }] }];

describe('the parsing floor (bench/parsing-proxy.ts)', () => {
  let upstream: Server;
  let proxy: ChildProcess;
  let base = '';
  const seen: unknown[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { stream?: boolean };
        seen.push(parsed);
        if (!parsed.stream) {
          // Spaced JSON: what comes back must be re-serialized, not the upstream's bytes.
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ANSWER, null, 2));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // The first event split across two writes: the proxy must reassemble SSE frames.
        const first = `data: ${JSON.stringify(CHUNKS[0]).replaceAll(':', ': ')}\n\n`;
        res.write(first.slice(0, 10));
        res.write(first.slice(10));
        res.end(`data: ${JSON.stringify(CHUNKS[1])}\n\ndata: [DONE]\n\n`);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    proxy = spawn(process.execPath, ['bench/parsing-proxy.ts', '--upstream', `http://127.0.0.1:${port}`, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => createInterface({ input: proxy.stdout! }).once('line', resolve));
    base = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  });

  afterAll(async () => {
    if (proxy.exitCode === null) {
      const closed = new Promise((r) => proxy.once('close', r));
      proxy.kill('SIGTERM');
      await closed;
    }
    await new Promise((r) => upstream.close(r));
  });

  it('parses the request and the answer and serializes both again', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{ "model" : "m",  "messages": [] }' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(JSON.stringify(ANSWER));
    expect(seen.at(-1)).toEqual({ model: 'm', messages: [] });
  });

  it('decodes a stream event by event and writes each chunk re-serialized, then [DONE]', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', stream: true }) });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await res.text()).toBe(`data: ${JSON.stringify(CHUNKS[0])}\n\ndata: ${JSON.stringify(CHUNKS[1])}\n\ndata: [DONE]\n\n`);
  });

  it('answers 400 to a body that is not JSON', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: '{nope' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { message: 'body is not JSON' } });
  });
});

describe('bench options and profile summary', () => {
  it('takes --floor bytes|parse (bytes by default) and refuses anything else', () => {
    expect(parseBenchOptions([], ['rest'])!.floor).toBe('bytes');
    expect(parseBenchOptions(['--floor', 'parse'], ['rest'])!.floor).toBe('parse');
    expect(() => parseBenchOptions(['--floor', 'json'], ['rest'])).toThrow(new UsageError('--floor: expected bytes or parse, got "json"'));
  });

  it('charges each sample to the nearest file of ours on its stack, socket syscalls and GC apart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-profile-'));
    try {
      const f = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url, lineNumber: 0 }, children });
      const nodes = [
        f(1, '(root)', '', [2, 5, 6, 7]),
        f(2, 'handle', `file://${ROOT}/src/server/http-server.ts`, [3]),
        f(3, 'parse', `file://${ROOT}/node_modules/zod/v4/core/parse.js`, [4]),
        f(4, 'writev', ''),
        f(5, 'parserOnHeadersComplete', 'node:_http_common'),
        f(6, '(garbage collector)', ''),
        f(7, '(idle)', ''),
      ];
      // Sample i lasts timeDeltas[i + 1] µs: zod under handle 300, writev under it 150, http alone 100, GC 50, idle 1000.
      const profile = { nodes, startTime: 0, endTime: 0, samples: [3, 4, 5, 6, 7, 3], timeDeltas: [0, 300, 150, 100, 50, 1000, 0] };
      const file = join(dir, 'p.cpuprofile');
      writeFileSync(file, JSON.stringify(profile));
      const s = summarizeProfile(file, ROOT);
      expect(s.byOwner).toEqual([
        { owner: 'src/server/http-server.ts', ms: 0.3, pct: 50 },
        { owner: '(socket syscalls)', ms: 0.15, pct: 25 },
        { owner: 'node core (no frame of ours on the stack)', ms: 0.1, pct: (100 * 100) / 600 },
        { owner: '(garbage collector)', ms: 0.05, pct: (100 * 50) / 600 },
      ]);
      expect(profileMarkdown(s)).toContain('| src/server/http-server.ts | 0 | 50.0 |');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
