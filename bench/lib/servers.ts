/**
 * The processes a run measures, each on 127.0.0.1 in its own Node process: the upstream mock, the bare proxy
 * (the floor) and the gateway with a generated config pointing at the mock; a second gateway for the
 * scenarios that need one (Redis store, several workers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keepWarmImport } from '../keep-warm.ts';
import { stageTimerImport } from '../stage-timer.ts';
import type { BenchOptions } from './options.ts';
import { ProcSampler, spawnChild, stopChild, type Child } from './procs.ts';
import type { ResourceRow } from './report.ts';
import { stageFilePrefix } from './stage-report.ts';
import { sleep } from './stats.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const RESULTS = join(ROOT, 'bench', 'results');

type Running = Child & { port: number };

export interface Servers {
  mock: Running;
  bare: Running;
  gateway: Running;
  samplers: { mock: ProcSampler; bare: ProcSampler; gateway: ProcSampler };
  extra?: { child: Running; sampler: ProcSampler; process: ResourceRow['process'] };
  configPath: string;
  /** performance.now() just before the gateway was spawned. */
  gatewaySpawnedAt: number;
  profileDir?: string;
}

/**
 * The Node flags and the environment (`NAME=value` before `node`) the gateway is launched with in
 * production: those of `npm run start:dist` (the Dockerfile's ENV and CMD and bin/switchboard.js carry the
 * same; a test holds them equal), so the benchmark and the chaos suite run what users run.
 */
function launcher(): { flags: string[]; env: Record<string, string> } {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = (scripts['start:dist'] ?? '').split(/\s+/);
  const node = words.indexOf('node');
  const env = Object.fromEntries(words.slice(0, Math.max(0, node)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
  return { flags: words.slice(node + 1, words.indexOf('dist/gateway/cli.js')).filter((w) => w.startsWith('--')), env };
}
const LAUNCHER = launcher();
export const LAUNCHER_FLAGS = LAUNCHER.flags;
/** Environment variables of the launcher (glibc's MALLOC_MMAP_THRESHOLD_), set for the gateway and the bare proxy alike. */
export const LAUNCHER_ENV = LAUNCHER.env;

const portFromJson = (line: string): number | undefined => {
  try {
    const p = (JSON.parse(line) as { port?: number }).port;
    return typeof p === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
};

const logFile = (name: string) => join(RESULTS, `${name}.log`);

function gatewayConfig(mockPort: number, extra: Record<string, unknown> = {}): unknown {
  const upstream = `http://127.0.0.1:${mockPort}/v1`;
  const capabilities = ['tools', 'json_object', 'json_schema', 'vision', 'streaming'];
  return {
    server: { host: '127.0.0.1', port: 0 },
    providers: [
      {
        id: 'mock',
        protocol: 'openai',
        baseUrl: upstream,
        // The default pool (128 sockets per provider) would queue most of the 1,000 concurrent streams.
        maxConnections: 1_100,
        models: [{ id: 'gpt-4o-mini', contextWindow: 128_000, maxOutputTokens: 16_384, price: { input: 0.15, output: 0.6, cachedInput: 0.075 }, capabilities }],
      },
      {
        id: 'flaky',
        protocol: 'openai',
        baseUrl: upstream,
        models: [{ id: 'fail-503', contextWindow: 128_000, price: { input: 0.15, output: 0.6 }, capabilities }],
      },
    ],
    routes: [
      { name: 'default', targets: [{ provider: 'mock', model: 'gpt-4o-mini' }] },
      { name: 'fallback', targets: [{ provider: 'flaky', model: 'fail-503' }, { provider: 'mock', model: 'gpt-4o-mini' }] },
    ],
    ...extra,
  };
}

function writeGatewayConfig(name: string, mockPort: number, extra?: Record<string, unknown>): string {
  const path = join(RESULTS, `${name}-config.json`);
  writeFileSync(path, `${JSON.stringify(gatewayConfig(mockPort, extra), null, 2)}\n`);
  return path;
}

/** With --stages: the timer's preload, and where the process `name` writes its records; with --warm, the keep-warm preload. */
function preloads(opts: BenchOptions, name: string): { nodeArgs: string[]; env: Record<string, string> } {
  const warm = opts.warm ? ['--import', keepWarmImport] : [];
  if (!opts.stages) return { nodeArgs: warm, env: {} };
  return { nodeArgs: ['--import', stageTimerImport, ...warm], env: { STAGE_TIMES_OUT: `${stageFilePrefix(RESULTS, name)}${Date.now()}.json` } };
}

function spawnBare(mockPort: number, opts: BenchOptions): Promise<Running> {
  const floor = opts.floor;
  const pre = preloads(opts, 'bare-proxy');
  return spawnChild({
    name: 'bare-proxy',
    cwd: ROOT,
    // The same Node flags and environment as the gateway: the floor is a Node process configured as well as ours.
    nodeArgs: [...LAUNCHER_FLAGS, ...pre.nodeArgs],
    script: floor === 'parse' ? 'bench/parsing-proxy.ts' : 'bench/bare-proxy.ts',
    args: ['--upstream', `http://127.0.0.1:${mockPort}`, '--port', '0', '--connections', '1100'],
    logFile: logFile('bare-proxy'),
    env: { ...process.env, ...LAUNCHER_ENV, ...pre.env },
    ready: portFromJson,
  });
}

interface GatewaySpawn {
  opts: BenchOptions;
  configPath: string;
  profileDir?: string | undefined;
  name?: string;
  env?: NodeJS.ProcessEnv;
}

function spawnGateway({ opts, configPath, profileDir, name = 'gateway', env = {} }: GatewaySpawn): Promise<Running> {
  const pre = preloads(opts, name);
  return spawnChild({
    name,
    cwd: ROOT,
    nodeArgs: [...LAUNCHER_FLAGS, ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), ...pre.nodeArgs, ...opts.nodeArgs],
    script: opts.from === 'dist' ? 'dist/gateway/cli.js' : 'src/cli.ts',
    args: ['start', '--config', configPath, '--host', '127.0.0.1', '--port', '0'],
    logFile: logFile(name),
    env: { ...process.env, ...LAUNCHER_ENV, ...pre.env, ...env },
    ready: (line) => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
    readyTimeoutMs: 30_000,
  });
}

export async function startServers(opts: BenchOptions, stamp: string): Promise<Servers> {
  const mock = await spawnChild({
    name: 'upstream-mock',
    cwd: ROOT,
    script: 'bench/upstream-mock.ts',
    args: ['--port', '0', '--chunks', String(opts.mockChunks), '--interval-ms', String(opts.mockIntervalMs)],
    logFile: logFile('upstream-mock'),
    ready: portFromJson,
  });
  const bare = await spawnBare(mock.port, opts);
  const configPath = writeGatewayConfig('gateway', mock.port);
  const profileDir = opts.profile ? join(RESULTS, `profile-${stamp}`) : undefined;
  const gatewaySpawnedAt = performance.now();
  const gateway = await spawnGateway({ opts, configPath, profileDir });
  const samplers = {
    mock: new ProcSampler(mock.pid).start(),
    bare: new ProcSampler(bare.pid).start(),
    gateway: new ProcSampler(gateway.pid).start(),
  };
  return { mock, bare, gateway, samplers, configPath, gatewaySpawnedAt, ...(profileDir && { profileDir }) };
}

/**
 * Fresh bare proxy and gateway processes before a memory scenario, so that its RSS is that load's and not
 * the high-water mark of earlier phases (V8 rarely gives heap back). Not with --profile (one profile per run)
 * nor --quick (a smoke run).
 */
export async function freshProxies(s: Servers, opts: BenchOptions, log: (msg: string) => void, why: string): Promise<void> {
  if (opts.profile || opts.quick) return;
  log(`  restarting the bare proxy and the gateway (${why})`);
  s.samplers.bare.stop();
  s.samplers.gateway.stop();
  await Promise.all([stopChild(s.bare), stopChild(s.gateway, 15_000)]);
  s.bare = await spawnBare(s.mock.port, opts);
  s.gateway = await spawnGateway({ opts, configPath: s.configPath });
  s.samplers.bare = new ProcSampler(s.bare.pid).start();
  s.samplers.gateway = new ProcSampler(s.gateway.pid).start();
  await sleep(500);
}

/** A second gateway process for one scenario (stopped by `stopExtra`); its RSS and CPU are sampled like the others'. */
export async function startExtra(
  s: Servers,
  opts: BenchOptions,
  extra: { name: string; process: ResourceRow['process']; config?: Record<string, unknown>; env?: NodeJS.ProcessEnv },
): Promise<void> {
  const configPath = writeGatewayConfig(extra.name, s.mock.port, extra.config);
  const child = await spawnGateway({ opts, configPath, name: extra.name, env: extra.env ?? {} });
  s.extra = { child, sampler: new ProcSampler(child.pid, { withChildren: true }).start(), process: extra.process };
  await sleep(opts.quick ? 300 : 1_000);
}

export async function stopExtra(s: Servers): Promise<void> {
  if (!s.extra) return;
  s.extra.sampler.stop();
  await stopChild(s.extra.child, 15_000);
  delete s.extra;
}
