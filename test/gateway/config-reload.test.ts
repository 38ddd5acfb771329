/**
 * What a config reload swaps in a running app (in process): routes (new version, cached answers of the old
 * targets not served), providers, config keys, quotas and prices; what it refuses (a file with problems, a
 * runtime route the new file would orphan, local mode on or off); and that a stream open across the reload
 * finishes on what it started with.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type Config, type ConfigInput } from '../../src/config/index.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN = 'reload-admin-key-0123456789';
const OLD_KEY = 'reload-old-client-key-0123456789';
const NEW_KEY = 'reload-new-client-key-0123456789';
let stack: Stack;
let base: ConfigInput;
/** What the next reload reads: a config, or the problems a broken file would give. */
let next: Config | ConfigError;

const edit = (c: ConfigInput): ConfigInput => ({
  ...c,
  // Streams from this one take ~400 ms (10 chunks, 40 ms apart): long enough to reload in the middle.
  providers: [...c.providers!, { ...c.providers!.find((p) => p.id === 'sim-openai')!, id: 'slow', headers: { 'x-sim-chunk-delay-ms': '40', 'x-sim-chunk-count': '10' } }],
  keys: [
    { key: ADMIN, name: 'ops', scope: 'admin' },
    { key: OLD_KEY, name: 'old' },
  ],
  routes: [...(c.routes ?? []), { name: 'moving', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] }],
});

function variant(change: (c: ConfigInput) => void): Config {
  const c = structuredClone(base);
  change(c);
  return parseConfig(c, {});
}

const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${stack.url}/v1`, maxRetries: 0 });
const hi = [{ role: 'user' as const, content: 'same question' }];

beforeAll(async () => {
  stack = await startStack({
    edit: (c) => {
      base = edit(c);
      return base;
    },
    reload: {
      source: 'test.yaml',
      load: async () => {
        if (next instanceof ConfigError) throw next;
        return next;
      },
    },
  });
});
afterAll(() => stack?.close());

describe('reloadConfig', () => {
  it('moves a route to new targets with a new version; the cached answer of the old targets is not served', async () => {
    const cached = { headers: { 'x-switchboard-cache': 'DEFAULT; ttl=60' } };
    const first = await client(ADMIN).chat.completions.create({ model: 'moving', messages: hi, temperature: 0 }, cached).withResponse();
    expect(first.response.headers.get('x-switchboard-provider')).toBe('sim-openai');
    const v1 = Number(first.response.headers.get('x-switchboard-route-version'));
    next = variant((c) => (c.routes!.find((r) => r.name === 'moving')!.targets = [{ provider: 'sim-gemini', model: 'gemini-2.5-flash' }]));
    const r = await stack.gql('mutation { reloadConfig { ok version changedRoutes restartRequired errors } }', {}, ADMIN);
    expect(r.data.reloadConfig).toEqual({ ok: true, version: 2, changedRoutes: ['moving'], restartRequired: [], errors: [] });
    const after = await client(ADMIN).chat.completions.create({ model: 'moving', messages: hi, temperature: 0 }, cached).withResponse();
    expect(after.response.headers.get('x-switchboard-provider')).toBe('sim-gemini');
    expect(after.response.headers.get('x-switchboard-cache')).toBe('MISS');
    expect(Number(after.response.headers.get('x-switchboard-route-version'))).toBeGreaterThan(v1);
    const q = await stack.gql('{ configVersion { version source } }', {}, ADMIN);
    expect(q.data.configVersion).toEqual({ version: 2, source: 'test.yaml' });
  });

  it('swaps keys, quotas, prices and providers', async () => {
    next = variant((c) => {
      c.keys = [{ key: ADMIN, name: 'ops', scope: 'admin' }, { key: NEW_KEY, name: 'new' }];
      c.quotas = { keys: { new: { limits: { rpm: 2 } } } };
      c.providers!.find((p) => p.id === 'sim-openai')!.models[0]!.price = { input: 100, output: 100 };
      c.providers!.push({ id: 'added', protocol: 'openai', baseUrl: c.providers!.find((p) => p.id === 'sim-openai')!.baseUrl, models: [{ id: 'gpt-4o-mini' }] });
      c.routes!.push({ name: 'to-added', targets: [{ provider: 'added', model: 'gpt-4o-mini' }] });
    });
    expect((await stack.app.reloadConfig('test')).ok).toBe(true);
    expect(await client(OLD_KEY).chat.completions.create({ model: 'default', messages: hi }).catch((e: { status: number }) => e.status)).toBe(401);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push(await client(NEW_KEY).chat.completions.create({ model: 'default', messages: [{ role: 'user', content: `n${i}` }] }).then(() => 200, (e: { status: number }) => e.status));
    expect(statuses).toEqual([200, 200, 429]);
    const priced = await client(ADMIN).chat.completions.create({ model: 'sim-openai/gpt-4o-mini', messages: [{ role: 'user', content: 'price me' }] }).withResponse();
    const u = priced.data.usage!;
    expect(Number(priced.response.headers.get('x-switchboard-cost-usd'))).toBeCloseTo(((u.prompt_tokens + u.completion_tokens) * 100) / 1e6, 10);
    const added = await client(ADMIN).chat.completions.create({ model: 'to-added', messages: hi }).withResponse();
    expect(added.response.headers.get('x-switchboard-provider')).toBe('added');
  });

  it('refuses a file with problems, naming every one, and changes nothing', async () => {
    const before = (await stack.gql('{ configVersion { version } }', {}, ADMIN)).data.configVersion.version;
    next = new ConfigError(['providers[0].models[0].price.input: expected number, received string', 'routes[2].strategy: invalid option'], 'test.yaml');
    const r = (await stack.gql('mutation { reloadConfig { ok version errors } }', {}, ADMIN)).data.reloadConfig;
    expect(r).toEqual({ ok: false, version: before, errors: ['providers[0].models[0].price.input: expected number, received string', 'routes[2].strategy: invalid option'] });
    expect(stack.logs.filter((l) => l.includes('config reload refused')).length).toBeGreaterThanOrEqual(2);
    expect((await client(ADMIN).chat.completions.create({ model: 'to-added', messages: hi }).withResponse()).response.headers.get('x-switchboard-provider')).toBe('added');
  });

  it('refuses a file that would orphan a runtime route, and one that turns local mode on', async () => {
    await stack.gql('mutation($i: RouteInput!) { upsertRoute(input: $i) { version } }', { i: { name: 'runtime-added', targets: [{ provider: 'added', model: 'gpt-4o-mini' }] } }, ADMIN);
    next = variant(() => undefined); // the base config has no provider `added`
    const orphan = await stack.app.reloadConfig('test');
    expect(orphan.ok).toBe(false);
    expect(orphan.errors.join('\n')).toMatch(/runtime-added\.targets\[0\]\.provider: the new config has no provider "added"/);
    await stack.gql('mutation { deleteRoute(name: "runtime-added") }', {}, ADMIN);
    next = variant((c) => {
      c.keys = [];
      c.providers!.push({ id: 'added', protocol: 'openai', baseUrl: c.providers![0]!.baseUrl, models: [{ id: 'gpt-4o-mini' }] });
    });
    const local = await stack.app.reloadConfig('test');
    expect(local.ok).toBe(false);
    expect(local.errors.join('\n')).toMatch(/local mode/);
    // Still the keys of before.
    expect(await client(ADMIN).chat.completions.create({ model: 'default', messages: hi }).then(() => 200)).toBe(200);
  });

  it('a stream open across a reload finishes on the target it started with', async () => {
    next = variant((c) => {
      c.providers!.push({ id: 'added', protocol: 'openai', baseUrl: c.providers!.find((p) => p.id === 'sim-openai')!.baseUrl, models: [{ id: 'gpt-4o-mini' }] });
      c.routes!.find((r) => r.name === 'moving')!.targets = [{ provider: 'added', model: 'gpt-4o-mini' }];
    });
    const stream = await client(ADMIN).chat.completions.create({ model: 'slow/gpt-4o-mini', messages: hi, stream: true });
    let chunks = 0;
    let finished = false;
    let reloadedAtChunk = -1;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) chunks++;
      if (chunk.choices[0]?.finish_reason) finished = true;
      if (reloadedAtChunk < 0 && chunks === 1) {
        reloadedAtChunk = chunks;
        expect((await stack.app.reloadConfig('test')).ok).toBe(true);
      }
    }
    expect(reloadedAtChunk).toBe(1);
    expect(chunks).toBeGreaterThanOrEqual(3);
    expect(finished).toBe(true);
  });
});
