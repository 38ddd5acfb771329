import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ServerConfigSchema } from '../../src/config/config-schema.ts';

const cli = join(import.meta.dirname, '../../src/cli.ts');

/** Starts the CLI with `server` as the config's server section, stops it once listening; resolves with all it printed. */
async function startupLog(server: Record<string, unknown>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-settle-'));
  const configPath = join(dir, 'config.json');
  const config = {
    server,
    providers: [{ id: 'openai', protocol: 'openai', baseUrl: 'http://127.0.0.1:9/v1', models: [{ id: 'gpt-4o-mini' }] }],
    routes: [{ name: 'default', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
  };
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(process.execPath, [cli, 'start', '--config', configPath, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'debug' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const closed = once(child, 'close');
  try {
    while (!out.includes('listening on')) {
      await Promise.race([once(child.stdout, 'data'), closed.then(() => Promise.reject(new Error(`gateway exited: ${err}`)))]);
    }
  } finally {
    child.kill('SIGTERM');
    await closed;
    rmSync(dir, { recursive: true, force: true });
  }
  // The log is asynchronous: all of it has been read once the process exited and its pipes closed.
  return out;
}

describe('server.releaseStartupMemory', () => {
  it('defaults to true and must be a boolean', () => {
    expect(ServerConfigSchema.parse({}).releaseStartupMemory).toBe(true);
    const bad = ServerConfigSchema.safeParse({ releaseStartupMemory: 'no' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['releaseStartupMemory']);
  });

  it('runs the memory-reducing GC after start by default, and not when false', async () => {
    const [on, off] = await Promise.all([startupLog({}), startupLog({ releaseStartupMemory: false })]);
    expect(on).toContain('heap settled after start');
    expect(off).not.toContain('heap settled after start');
    expect(off).toContain('listening on');
    expect(off, off).toContain('"msg":"stopped"');
  }, 30_000);
});
