/**
 * Redis stopped mid-run (a private redis-server, never the shared one): the gateway keeps answering with
 * the cache bypassed, /readyz says degraded without naming the URL or password, and everything comes
 * back by itself when Redis does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/simulator-server.ts';
import { chat, eventually, privateRedis, spawnGateway, uniquePrefix, writeConfig, type GatewayProcess, type PrivateRedis } from './cluster.ts';

const KEY = 'outage-key-0123456789abcdef';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}`;

async function readyz(url: string): Promise<{ status: string; problems: string[] }> {
  const res = await fetch(`${url}/readyz`);
  expect(res.status).toBe(200);
  return (await res.json()) as { status: string; problems: string[] };
}

describe('Redis stopped mid-run', () => {
  let sim: Simulator;
  let redis: PrivateRedis;
  let gateway: GatewayProcess;
  let cleanup: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    [sim, redis] = await Promise.all([startSimulator({ protocol: 'openai', port: 0 }), privateRedis(PASSWORD)]);
    const config = await writeConfig({
      store: { kind: 'redis', url: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`, prefix: uniquePrefix('outage'), localCacheMs: 100 },
      providers: [{ id: 'sim-openai', protocol: 'openai', baseUrl: `${sim.url}/v1`, models: [{ id: 'gpt-4o-mini', price: { input: 1, output: 2 } }] }],
      routes: [{ name: 'default', targets: [{ provider: 'sim-openai', model: 'gpt-4o-mini' }] }],
      keys: [{ key: KEY, name: 'app' }],
      // Fail open (the default) for limits and budgets: requests keep flowing while they cannot be checked.
      quotas: { keys: { app: { limits: { rpm: 1000 }, budget: { usd: 100 } } } },
    });
    cleanup = config.cleanup;
    gateway = await spawnGateway(config.path);
  }, 30_000);

  afterAll(async () => {
    await gateway?.stop();
    await redis?.kill();
    await sim?.close();
    await cleanup();
  });

  it('keeps serving with the cache bypassed, reports degraded, and recovers when Redis is back', async () => {
    const body = (content: string) => ({ model: 'default', messages: [{ role: 'user', content }], temperature: 0 });
    await eventually(async () => ((await readyz(gateway.url)).status === 'ready' ? true : undefined), 5_000, 'ready');
    const miss = await chat(gateway.url, KEY, body('before'));
    expect(miss.headers.get('x-switchboard-cache')).toBe('MISS');
    expect((await chat(gateway.url, KEY, body('before'))).headers.get('x-switchboard-cache')).toBe('HIT');

    await redis.kill();
    const degraded = await eventually(async () => {
      const r = await readyz(gateway.url);
      return r.status === 'degraded' ? r : undefined;
    }, 5_000, 'degraded');
    const problems = degraded.problems.join(' ');
    expect(problems).toMatch(/response cache bypassed/);
    expect(problems).toMatch(/rate limits fail open/);
    expect(problems).not.toContain(PASSWORD);
    expect(problems).not.toContain(String(redis.port));
    expect(problems).not.toMatch(/redis:\/\//);

    const upstreamBefore = sim.stats.requests;
    const during = await Promise.all([0, 1, 2, 3, 4].map((i) => chat(gateway.url, KEY, body(i < 3 ? 'before' : `during ${i}`))));
    for (const r of during) {
      expect(r.status).toBe(200);
      expect(r.headers.get('x-switchboard-cache')).toBe('BYPASS');
    }
    // Even a request whose answer was cached goes upstream: the cache cannot be read.
    expect(sim.stats.requests - upstreamBefore).toBe(5);
    const streamed = await chat(gateway.url, KEY, { ...body('during stream'), stream: true });
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('[DONE]');
    expect(gateway.child.exitCode).toBeNull();

    await redis.start();
    await eventually(async () => ((await readyz(gateway.url)).status === 'ready' ? true : undefined), 10_000, 'ready again');
    // The restarted server is empty: a miss, then the cache works again.
    expect((await chat(gateway.url, KEY, body('after'))).headers.get('x-switchboard-cache')).toBe('MISS');
    expect((await chat(gateway.url, KEY, body('after'))).headers.get('x-switchboard-cache')).toBe('HIT');
    expect(gateway.output.join('')).not.toContain(PASSWORD);
  });
});
