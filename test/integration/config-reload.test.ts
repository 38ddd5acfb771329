/**
 * Config hot reload of a real gateway process: an edit of its config file plus SIGHUP under steady load fails no
 * request and the new route serves from then on; a broken file changes nothing and its log names every bad key
 * path; with --watch-config a save alone reloads. Settings that need a restart are named, not applied.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { chat, eventually, graphql, spawnGateway, writeConfig, type GatewayProcess } from './cluster.ts';

const ADMIN = 'reload-admin-key-0123456789';
let openai: Simulator;
let anthropic: Simulator;

const config = (target: 'a' | 'b', extra: Record<string, unknown> = {}) => ({
  keys: [{ key: ADMIN, name: 'ops', scope: 'admin' }],
  providers: [
    { id: 'a', protocol: 'openai', baseUrl: `${openai.url}/v1`, models: [{ id: 'gpt-4o-mini', price: { input: 0.15, output: 0.6 } }] },
    { id: 'b', protocol: 'anthropic', baseUrl: anthropic.url, models: [{ id: 'claude-haiku-4-5', price: { input: 1, output: 5 } }] },
  ],
  routes: [{ name: 'main', targets: [target === 'a' ? { provider: 'a', model: 'gpt-4o-mini' } : { provider: 'b', model: 'claude-haiku-4-5' }] }],
  ...extra,
});

beforeAll(async () => {
  [openai, anthropic] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), startSimulator({ protocol: 'anthropic', port: 0 })]);
});
afterAll(async () => {
  await Promise.all([openai?.close(), anthropic?.close()]);
});

const ask = (gw: GatewayProcess, i: number) => chat(gw.url, ADMIN, { model: 'main', messages: [{ role: 'user', content: `question ${i}` }] });
const version = async (gw: GatewayProcess) => (await graphql(gw.url, ADMIN, '{ configVersion { version } route(name: "main") { version } }')).body.data as { configVersion: { version: number }; route: { version: number } };

describe('config reload in a running process', () => {
  it('SIGHUP under steady load: no failed request, the new route serves after the reload; a broken file changes nothing', async () => {
    const file = await writeConfig(config('a'));
    const gw = await spawnGateway(file.path);
    try {
      const before = await version(gw);
      expect(before.configVersion.version).toBe(1);
      // ~100 requests a second for 3 s, the reload in the middle.
      const results: Array<{ status: number; provider: string | null; at: number }> = [];
      const start = Date.now();
      let reloadedAt = Infinity;
      const load = (async () => {
        const inflight: Promise<void>[] = [];
        for (let i = 0; Date.now() - start < 3_000; i++) {
          inflight.push(ask(gw, i).then((r) => void results.push({ status: r.status, provider: r.headers.get('x-switchboard-provider'), at: Date.now() })));
          await new Promise((r) => setTimeout(r, 10));
        }
        await Promise.all(inflight);
      })();
      await new Promise((r) => setTimeout(r, 1_000));
      await writeFile(file.path, JSON.stringify(config('b')));
      gw.child.kill('SIGHUP');
      const after = await eventually(async () => {
        const v = await version(gw);
        return v.configVersion.version === 2 ? v : undefined;
      }, 5_000, 'the reload');
      reloadedAt = Date.now();
      await load;
      expect(results.length).toBeGreaterThan(150);
      expect(results.filter((r) => r.status !== 200)).toEqual([]);
      expect(results.some((r) => r.provider === 'a')).toBe(true);
      // Every request that started after the reload was visible ran on the new target.
      const late = results.filter((r) => r.at > reloadedAt + 200);
      expect(late.length).toBeGreaterThan(0);
      expect(new Set(late.map((r) => r.provider))).toEqual(new Set(['b']));
      expect(after.route.version).toBeGreaterThan(before.route.version);

      // A broken file: nothing changes, and the log names each bad key path.
      const broken = config('a') as Record<string, any>;
      broken.providers[0].models[0].price.input = 'cheap';
      broken.routes[0].strategy = 'fastest';
      await writeFile(file.path, JSON.stringify(broken));
      const logged = gw.output.join('').length;
      gw.child.kill('SIGHUP');
      await eventually(async () => (gw.output.join('').slice(logged).includes('config reload refused') ? true : undefined), 5_000, 'the refusal in the log');
      await new Promise((r) => setTimeout(r, 200));
      const log = gw.output.join('').slice(logged);
      expect(log).toContain('providers[0].models[0].price.input');
      expect(log).toContain('routes[0].strategy');
      expect((await version(gw)).configVersion.version).toBe(2);
      expect((await ask(gw, 9999)).headers.get('x-switchboard-provider')).toBe('b');
    } finally {
      await gw.stop();
      await file.cleanup();
    }
  });

  it('--watch-config reloads on save; restart-only changes are named and not applied', async () => {
    const file = await writeConfig(config('a'));
    const gw = await spawnGateway(file.path, ['--watch-config']);
    try {
      await writeFile(file.path, JSON.stringify(config('b', { server: { shutdownGraceMs: 1234 } })));
      await eventually(async () => ((await version(gw)).configVersion.version === 2 ? true : undefined), 5_000, 'the reload on save').catch((e: Error) => {
        throw new Error(`${e.message}\n${gw.output.join('').slice(-3000)}`);
      });
      expect((await ask(gw, 1)).headers.get('x-switchboard-provider')).toBe('b');
      const r = await graphql(gw.url, ADMIN, 'mutation { reloadConfig { ok version restartRequired changedRoutes errors } }');
      // Nothing new in the file since the watch's reload: applied again, no route changed, `server` still named.
      expect(r.body.data!.reloadConfig).toMatchObject({ ok: true, version: 3, changedRoutes: [], restartRequired: ['server'], errors: [] });
    } finally {
      await gw.stop();
      await file.cleanup();
    }
  });
});
