import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfigFile, parseConfig } from '../../src/config/index.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '../../src/cli.ts');

const minimal = {
  providers: [{ id: 'p1', protocol: 'openai', apiKey: 'sk-test', models: [{ id: 'm1', price: { input: 1, output: 2 } }] }],
  routes: [{ name: 'default', targets: [{ provider: 'p1', model: 'm1' }] }],
};

function issuesOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills defaults for a minimal config', () => {
    const c = parseConfig(minimal, {});
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 4000 });
    expect(c.providers[0]!.timeouts).toEqual({ connectMs: 5000, firstByteMs: 60000, idleMs: 30000, totalMs: 600000 });
    expect(c.routes[0]).toMatchObject({ strategy: 'priority', maxAttempts: 4, resumeStreams: false });
    expect(c.store).toMatchObject({ kind: 'memory', failure: { limits: 'open', budgets: 'open' } });
    expect(c.cache).toMatchObject({ enabled: true, defaultTtlSeconds: 3600, partition: 'none' });
    expect(c.quotas).toEqual({ keys: {}, teams: {}, deployments: {}, defaultMaxOutputTokens: 1024 });
    expect(c.auth).toEqual({ keyCacheTtlMs: 5000 });
  });

  it('reads the store, cache, quotas and budgets sections, and names bad keys in them', () => {
    const c = parseConfig(
      {
        ...minimal,
        store: { kind: 'redis', url: 'redis://127.0.0.1:6379', failure: { budgets: 'closed' } },
        cache: { routes: { default: { ttlSeconds: 60 } } },
        quotas: {
          keys: { web: { limits: { rpm: 60, tpm: 10000 }, budget: { usd: 5, period: 'month', softThreshold: 0.8, softRoute: 'cheap' } } },
          teams: { shop: { budget: { usd: 50 } } },
          deployments: { 'p1/m1': { rpm: 500 } },
        },
      },
      {},
    );
    expect(c.store).toMatchObject({ kind: 'redis', prefix: 'sb:', failure: { limits: 'open', budgets: 'closed' } });
    expect(c.cache.routes.default!.ttlSeconds).toBe(60);
    expect(c.quotas.teams.shop!.budget).toEqual({ usd: 50, period: 'day', softThreshold: 0.8 });
    expect(
      issuesOf({ ...minimal, store: { kind: 'redis' }, quotas: { keys: { web: { limits: { rpm: -1 } } } }, cache: { routes: { x: { ttlSeconds: 'long' } } } }),
    ).toEqual(
      expect.arrayContaining([
        'store.url: expected string, received undefined',
        'quotas.keys.web.limits.rpm: Too small: expected number to be >0',
        'cache.routes.x.ttlSeconds: expected number, received string',
      ]),
    );
  });

  it('names the path of a wrongly typed key', () => {
    const bad = structuredClone(minimal) as { providers: Array<{ models: Array<{ price: { input: unknown } }> }> };
    bad.providers.push({ id: 'p2', protocol: 'anthropic', models: [{ id: 'x', price: { input: 'cheap', output: 1 } }] } as never);
    expect(issuesOf(bad)).toEqual(['providers[1].models[0].price.input: expected number, received string']);
  });

  it('names unknown keys, bad enums and missing fields', () => {
    const issues = issuesOf({ providers: [{ id: 'p1', protocol: 'openia', modles: [] }] });
    expect(issues).toContain('providers[0].modles: unknown key');
    expect(issues.some((i) => i.startsWith('providers[0].protocol:'))).toBe(true);
    expect(issues.some((i) => i.startsWith('providers[0].models:'))).toBe(true);
  });

  it('reads promptCache on providers and routes, and names a misspelt key in it', () => {
    const c = parseConfig(
      {
        providers: [{ ...minimal.providers[0]!, promptCache: { system: true } }],
        routes: [{ ...minimal.routes[0]!, promptCache: { tools: true, system: false } }],
      },
      {},
    );
    expect(c.providers[0]!.promptCache).toEqual({ system: true });
    expect(c.routes[0]!.promptCache).toEqual({ tools: true, system: false });
    expect(issuesOf({ ...minimal, routes: [{ ...minimal.routes[0]!, promptCache: { sytem: true } }] })).toEqual(['routes[0].promptCache.sytem: unknown key']);
  });

  it('checks that routes name configured providers and models', () => {
    const bad = { ...minimal, routes: [{ name: 'default', targets: [{ provider: 'p1', model: 'nope' }, { provider: 'ghost', model: 'm1' }] }] };
    expect(issuesOf(bad)).toEqual([
      'routes[0].targets[0].model: provider "p1" has no model "nope"',
      'routes[0].targets[1].provider: unknown provider "ghost"',
    ]);
  });

  it('interpolates ${VAR} and ${VAR:-default}, and fails naming the key when a variable is unset', () => {
    const raw = { ...minimal, providers: [{ ...minimal.providers[0], apiKey: '${MY_KEY}', baseUrl: '${BASE:-http://127.0.0.1:9}/v1' }] };
    const c = parseConfig(raw, { MY_KEY: 'sk-from-env' });
    expect(c.providers[0]!.apiKey).toBe('sk-from-env');
    expect(c.providers[0]!.baseUrl).toBe('http://127.0.0.1:9/v1');
    expect(issuesOf(raw, {})).toEqual(['providers[0].apiKey: environment variable MY_KEY is not set']);
  });

  it('never echoes a secret value in an error', () => {
    const raw = { ...minimal, keys: [{ key: 'short-secret', name: 'k' }] };
    const issues = issuesOf(raw);
    expect(issues).toEqual(['keys[0].key: keys are at least 16 characters']);
    expect(issues.join()).not.toContain('short-secret');
  });

  it('loads YAML and JSON files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-config-'));
    const yamlPath = join(dir, 'c.yaml');
    await writeFile(yamlPath, 'providers:\n  - id: p1\n    protocol: ollama\n    models: [{ id: llama3.2 }]\nroutes:\n  - name: default\n    targets: [{ provider: p1, model: llama3.2 }]\n');
    expect((await loadConfigFile(yamlPath, {})).providers[0]!.protocol).toBe('ollama');
    const jsonPath = join(dir, 'c.json');
    await writeFile(jsonPath, JSON.stringify(minimal));
    expect((await loadConfigFile(jsonPath, {})).routes[0]!.name).toBe('default');
    await writeFile(jsonPath, '{ not json');
    await expect(loadConfigFile(jsonPath, {})).rejects.toThrow(/not valid JSON/);
  });

  it('builds a valid out-of-the-box config, preferring real providers whose keys are set', () => {
    const sims = { openai: 'http://127.0.0.1:1', anthropic: 'http://127.0.0.1:2', gemini: 'http://127.0.0.1:3', ollama: 'http://127.0.0.1:4' };
    const plain = parseConfig(defaultConfig(sims, {}), {});
    expect(plain.routes.find((r) => r.name === 'default')!.targets.map((t) => t.provider)).toEqual(['sim-openai', 'sim-anthropic', 'sim-gemini']);
    expect(plain.routes.find((r) => r.name === 'local')!.targets.map((t) => t.provider)).toEqual(['sim-ollama']);
    const withKey = parseConfig(defaultConfig(sims, { ANTHROPIC_API_KEY: 'sk-ant-x' }), {});
    expect(withKey.routes[0]!.targets[0]!.provider).toBe('anthropic');
  });

  it('start-up fails fast with the bad key path (CLI), and config-schema prints a JSON Schema', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sb-config-'));
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'providers:\n  - id: p1\n    protocol: openai\n    models:\n      - id: m\n        price: { input: cheap, output: 1 }\n');
    const err = await run(process.execPath, [cli, 'start', '--config', path, '--port', '0']).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('providers[0].models[0].price.input: expected number, received string');
    const { stdout } = await run(process.execPath, [cli, 'config-schema']);
    const schema = JSON.parse(stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['providers', 'routes', 'keys', 'server', 'store', 'cache', 'quotas']));
  });
});
