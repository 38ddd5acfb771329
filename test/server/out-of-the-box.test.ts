import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = join(import.meta.dirname, '../../src/cli.ts');

describe('switchboard start with no config and no keys', () => {
  it('starts the simulators and answers the README curl with every field filled', async () => {
    const env = { ...process.env };
    for (const k of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'SWITCHBOARD_CONFIG']) delete env[k];
    const child = spawn(process.execPath, [cli, 'start', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      while (!/simulated providers[\s\S]*ollama/.test(out)) await once(child.stdout, 'data');
      const url = out.match(/listening on (http:\/\/\S+)/)![1]!;
      for (const p of ['openai', 'anthropic', 'gemini', 'ollama']) expect(out).toMatch(new RegExp(`${p}\\s+http://127\\.0\\.0\\.1:\\d+`));

      const query =
        'mutation{createCompletion(input:{messages:[{role:USER,content:"hi"}]}){id provider{id} model{id} message{content} usage{inputTokens outputTokens} costUsd attempts{status}}}';
      const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
      const body = (await res.json()) as { data: { createCompletion: Record<string, any> }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      const c = body.data.createCompletion;
      expect(c.id).toMatch(/^cmpl_/);
      expect(c.provider.id).toBe('sim-openai');
      expect(c.model.id).toBeTruthy();
      expect(c.message.content.length).toBeGreaterThan(0);
      expect(c.usage.inputTokens).toBeGreaterThan(0);
      expect(c.usage.outputTokens).toBeGreaterThan(0);
      expect(c.costUsd).toBeGreaterThan(0);
      expect(c.attempts).toEqual([{ status: 'OK' }]);

      const local = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'local', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(local.headers.get('x-switchboard-provider')).toBe('sim-ollama');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('refuses to bind a non-loopback address without keys', async () => {
    const child = spawn(process.execPath, [cli, 'start', '--port', '0', '--host', '0.0.0.0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toContain('refusing to listen on 0.0.0.0 without API keys');
  });
});
