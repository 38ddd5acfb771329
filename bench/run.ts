/**
 * The benchmark harness (`npm run bench`; see BENCHMARKS.md for the method and the bar).
 *
 *   npm run bench -- [--duration 10] [--connections 20] [--rate 200] [--quick] [--scenarios a,b,c]
 *                    [--streams 1000] [--stream-rate 10] [--soak 30] [--workers 2] [--from dist|src]
 *                    [--profile] [--record | --no-record]
 *
 * Starts, each in its own process on 127.0.0.1: an instant OpenAI-protocol upstream mock, a bare Node reverse
 * proxy in front of it (the floor), and the gateway with a generated config pointing at the mock. Every
 * scenario runs against direct-to-mock, the bare proxy and the gateway where that makes sense, and the
 * gateway's cost is reported as the difference to direct at the same percentile and rate. Writes
 * bench/results/latest.json and latest.md, appends a dated section to BENCHMARKS.md (full runs; --record
 * for quick ones), prints the table. Every child is stopped at the end, also on error or a signal.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  burstStreams,
  graphqlStreamRunner,
  load,
  mergeLoads,
  pacedStreams,
  preflight,
  restStreamRunner,
  summarizeStreams,
  type HttpTarget,
  type LoadOptions,
  type LoadResult,
  type StreamPhase,
  type StreamRunner,
  type StreamSample,
} from './lib/clients.ts';
import { killAllNow, otherLoad, ProcSampler, readStealSeconds, spawnChild, stopAll, stopChild, type Child } from './lib/procs.ts';
import { profileMarkdown, summarizeProfile, type ProfileSummary } from './lib/profile.ts';
import { resourceTable, resultsTable, type ResourceRow, type Row } from './lib/report.ts';
import { sleep } from './lib/stats.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results');

/**
 * The Node flags the gateway is launched with in production: those of `npm run start:dist` (the Dockerfile's
 * CMD and bin/switchboard.js carry the same; a test holds them equal), so the benchmark runs what users run.
 */
function launcherNodeFlags(): string[] {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const words = (scripts['start:dist'] ?? '').split(/\s+/);
  return words.slice(1, words.indexOf('dist/src/cli.js')).filter((w) => w.startsWith('--'));
}
const LAUNCHER_FLAGS = launcherNodeFlags();
const ALL_SCENARIOS = ['rest', 'rest-100', 'stream', 'graphql', 'graphql-stream', 'fallback', 'streams-1000', 'route', 'cache', 'scaling', 'soak'] as const;
type Scenario = (typeof ALL_SCENARIOS)[number];

const USAGE = `usage: npm run bench -- [options]
  --duration S       seconds per measured phase (default 10; --quick: 0.3)
  --connections N    connections of the saturation runs (default 20)
  --rate R           req/s of the 1-connection latency runs (default 200)
  --stream-rate R    streams started per second in the paced TTFT phase (default 20)
  --streams N        size of the concurrent-streams scenario (default 1000; --quick: 100)
  --soak S           seconds of the soak scenario (RSS slope under steady load; default 30; --quick: 2)
  --from dist|src    run the gateway from the build (dist/, built first with npm run build: what production
                     should run) or from the .ts sources (default: dist for full runs, src for --quick)
  --workers N        SWITCHBOARD_WORKERS of the scaling scenario's second gateway (default 2)
  --scenarios a,b    subset of: ${ALL_SCENARIOS.join(', ')}
  --quick            smoke run of a few seconds (short streams: 8 chunks 5 ms apart)
  --profile          start the gateway with --cpu-prof and summarize the profile (figures then carry profiler overhead)
  --node-args="..."  Node flags for the gateway process after those of \`npm run start:dist\` (e.g. --node-args="--trace-gc --max-semi-space-size=4")
  --wait-quiet S     first wait up to S seconds for other processes to use < 0.3 cores (shared machines)
  --record / --no-record   append to BENCHMARKS.md (default: yes for full runs, no for --quick)`;

// ------------------------------------------------------------------------------------------------
// Options

function parseOptions() {
  try {
    return parseArgs({
      options: {
        duration: { type: 'string' },
        connections: { type: 'string' },
        rate: { type: 'string' },
        'stream-rate': { type: 'string' },
        streams: { type: 'string' },
        soak: { type: 'string' },
        workers: { type: 'string' },
        from: { type: 'string' },
        scenarios: { type: 'string' },
        quick: { type: 'boolean', default: false },
        profile: { type: 'boolean', default: false },
        record: { type: 'boolean' },
        'node-args': { type: 'string' },
        'wait-quiet': { type: 'string' },
        'no-record': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
}
const { values: argv } = parseOptions();
if (argv.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
function positive(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name}: expected a positive number, got "${raw}"\n\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}
const quick = argv.quick;
const opts = {
  quick,
  durationS: positive('duration', argv.duration, quick ? 0.3 : 10),
  connections: Math.round(positive('connections', argv.connections, 20)),
  rate: positive('rate', argv.rate, 200),
  streamRate: positive('stream-rate', argv['stream-rate'], 20),
  streams: Math.round(positive('streams', argv.streams, quick ? 100 : 1000)),
  soakS: positive('soak', argv.soak, quick ? 2 : 30),
  workers: Math.max(2, Math.round(positive('workers', argv.workers, 2))),
  from: (argv.from ?? (quick ? 'src' : 'dist')) as 'dist' | 'src',
  warmupS: quick ? 0.1 : 1,
  burstSize: quick ? 5 : 50,
  bursts: quick ? 1 : 3,
  mockChunks: quick ? 8 : 64,
  mockIntervalMs: quick ? 5 : 20,
  profile: argv.profile,
  nodeArgs: (argv['node-args'] ?? '').split(/\s+/).filter(Boolean),
  waitQuietS: argv['wait-quiet'] === undefined ? 0 : positive('wait-quiet', argv['wait-quiet'], 0),
  record: argv['no-record'] ? false : (argv.record ?? !quick),
  scenarios: [] as Scenario[],
};
if (opts.from !== 'dist' && opts.from !== 'src') {
  process.stderr.write(`--from: expected dist or src, got "${String(argv.from)}"\n\n${USAGE}\n`);
  process.exit(2);
}
if (argv.scenarios) {
  for (const s of argv.scenarios.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(ALL_SCENARIOS as readonly string[]).includes(s)) {
      process.stderr.write(`--scenarios: unknown scenario "${s}"\n\n${USAGE}\n`);
      process.exit(2);
    }
    opts.scenarios.push(s as Scenario);
  }
} else opts.scenarios = [...ALL_SCENARIOS];

// ------------------------------------------------------------------------------------------------
// Safety: children die with us, and the whole run is bounded.

let shuttingDown = false;
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    process.stderr.write(`\n${sig}: stopping child processes\n`);
    void stopAll(2_000).finally(() => process.exit(130));
  });
}
const watchdogS = (quick ? 180 : 120 + opts.durationS * 45) + opts.waitQuietS + opts.soakS * 1.5;
const watchdog = setTimeout(() => {
  process.stderr.write(`\nbench: still running after ${watchdogS} s; giving up\n`);
  void stopAll(2_000).finally(() => process.exit(1));
}, watchdogS * 1000);
watchdog.unref();

const T0 = performance.now();
const log = (msg: string) => process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);

// ------------------------------------------------------------------------------------------------
// Processes

interface Servers {
  mock: Child & { port: number };
  bare: Child & { port: number };
  gateway: Child & { port: number };
  samplers: { mock: ProcSampler; bare: ProcSampler; gateway: ProcSampler };
  extra?: { child: Child & { port: number }; sampler: ProcSampler; process: ResourceRow['process'] };
  configPath: string;
  /** performance.now() just before the gateway was spawned. */
  gatewaySpawnedAt: number;
  profileDir?: string;
}

const portFromJson = (line: string): number | undefined => {
  try {
    const p = (JSON.parse(line) as { port?: number }).port;
    return typeof p === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
};

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

const logFile = (n: string) => join(RESULTS, `${n}.log`);

function spawnBare(mockPort: number): ReturnType<typeof spawnChild> {
  return spawnChild({
    name: 'bare-proxy',
    cwd: ROOT,
    // The same Node flags as the gateway: the floor is a Node process configured as well as ours.
    nodeArgs: LAUNCHER_FLAGS,
    script: 'bench/bare-proxy.ts',
    args: ['--upstream', `http://127.0.0.1:${mockPort}`, '--port', '0', '--connections', '1100'],
    logFile: logFile('bare-proxy'),
    ready: portFromJson,
  });
}

function spawnGateway(configPath: string, profileDir: string | undefined, name = 'gateway', env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnChild> {
  return spawnChild({
    name,
    cwd: ROOT,
    nodeArgs: [...LAUNCHER_FLAGS, ...(profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), ...opts.nodeArgs],
    script: opts.from === 'dist' ? 'dist/src/cli.js' : 'src/cli.ts',
    args: ['start', '--config', configPath, '--host', '127.0.0.1', '--port', '0'],
    logFile: logFile(name),
    env: { ...process.env, ...env },
    ready: (line) => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      return m ? Number(m[1]) : undefined;
    },
    readyTimeoutMs: 30_000,
  });
}

async function startServers(stamp: string): Promise<Servers> {
  mkdirSync(RESULTS, { recursive: true });
  const mock = await spawnChild({
    name: 'upstream-mock',
    cwd: ROOT,
    script: 'bench/upstream-mock.ts',
    args: ['--port', '0', '--chunks', String(opts.mockChunks), '--interval-ms', String(opts.mockIntervalMs)],
    logFile: logFile('upstream-mock'),
    ready: portFromJson,
  });
  const bare = await spawnBare(mock.port);
  const configPath = join(RESULTS, 'gateway-config.json');
  writeFileSync(configPath, `${JSON.stringify(gatewayConfig(mock.port), null, 2)}\n`);
  const profileDir = opts.profile ? join(RESULTS, `profile-${stamp}`) : undefined;
  const gatewaySpawnedAt = performance.now();
  const gateway = await spawnGateway(configPath, profileDir);
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
async function freshProxies(s: Servers, why: string): Promise<void> {
  if (opts.profile || quick) return;
  log(`  restarting the bare proxy and the gateway (${why})`);
  s.samplers.bare.stop();
  s.samplers.gateway.stop();
  await Promise.all([stopChild(s.bare), stopChild(s.gateway, 15_000)]);
  s.bare = await spawnBare(s.mock.port);
  s.gateway = await spawnGateway(s.configPath, undefined);
  s.samplers.bare = new ProcSampler(s.bare.pid).start();
  s.samplers.gateway = new ProcSampler(s.gateway.pid).start();
  await sleep(500);
}

// ------------------------------------------------------------------------------------------------
// Measurements. Every comparison is measured in interleaved rounds (direct, bare, gateway, direct, …) so that
// whatever else the machine is doing at the time falls on all targets alike; each scenario measures its own
// baselines at the same time as the gateway.

/** `extra`: a second gateway process some scenarios start (Redis store, several workers). */
type TargetName = 'direct' | 'bare' | 'gateway' | 'extra';
const rows: Row[] = [];
const resources: ResourceRow[] = [];
const raw: Record<string, unknown> = {};
const REST_PATH = '/v1/chat/completions';
const body = (model: string, stream = false) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...(stream && { stream: true }) });
const GQL_MUTATION = JSON.stringify({ query: 'mutation Bench { createCompletion(input: { messages: [{ role: USER, content: "hi" }] }) { id } }' });
/** Rounds of about 2 s (autocannon's rate is a per-second quota), at most 5. */
const ROUNDS = Math.min(5, Math.max(1, Math.floor(opts.durationS / 2)));
const STREAM_ROUNDS = quick ? 1 : 3;

function restTarget(s: Servers, name: TargetName, model = 'gpt-4o-mini', stream = false): HttpTarget {
  const port = name === 'direct' ? s.mock.port : name === 'bare' ? s.bare.port : name === 'extra' ? s.extra!.child.port : s.gateway.port;
  const viaGateway = name === 'gateway' || name === 'extra';
  // The gateway is addressed by route (`model: "default"`), so the request goes through routing.
  return { name, origin: `http://127.0.0.1:${port}`, path: REST_PATH, body: body(viaGateway && model === 'gpt-4o-mini' ? 'default' : model, stream) };
}

function samplerOf(s: Servers, name: TargetName): { sampler: ProcSampler; process: ResourceRow['process'] } {
  if (name === 'extra') return { sampler: s.extra!.sampler, process: s.extra!.process };
  if (name === 'gateway') return { sampler: s.samplers.gateway, process: 'gateway' };
  if (name === 'bare') return { sampler: s.samplers.bare, process: 'bare proxy' };
  return { sampler: s.samplers.mock, process: 'upstream mock' };
}

const pidsOf = (s: Servers) => () => [s.mock.pid, s.bare.pid, s.gateway.pid, ...(s.extra ? s.extra.sampler.pids() : [])];

/** One contestant of an interleaved phase: what serves it, and one round of its workload. */
interface Contestant<T> {
  key: string;
  target: TargetName;
  warm?: () => Promise<unknown>;
  round: (durationS: number) => Promise<T>;
  requests: (t: T) => number;
}

/**
 * Runs the contestants' rounds interleaved, each inside a resource window of the process that serves it;
 * returns each contestant's rounds. Records one resource row per contestant (CPU and wall summed over its
 * rounds, RSS peak the max) and the CPU other processes of the machine used meanwhile.
 */
async function interleaved<T>(s: Servers, phase: string, contestants: Array<Contestant<T>>, rounds: number, durationS: number): Promise<Record<string, T[]>> {
  for (const c of contestants) await c.warm?.();
  const out: Record<string, T[]> = {};
  const acc = new Map<string, ResourceRow>();
  const other = otherLoad(pidsOf(s));
  for (let r = 0; r < rounds; r++) {
    for (const c of contestants) {
      const { sampler, process: proc } = samplerOf(s, c.target);
      const w = sampler.begin();
      const part = await c.round(durationS / rounds);
      const res = w.end();
      (out[c.key] ??= []).push(part);
      const row = acc.get(c.key) ?? { phase, process: proc, target: c.key, wallS: 0, requests: 0, rssStartMiB: res.rssStartMiB, rssPeakMiB: 0, cpuS: 0 };
      row.wallS += res.wallSeconds;
      row.requests += c.requests(part);
      row.cpuS += res.cpuSeconds;
      row.rssPeakMiB = Math.max(row.rssPeakMiB, res.rssPeakMiB);
      acc.set(c.key, row);
    }
  }
  const otherCores = other.end();
  for (const row of acc.values()) resources.push({ ...row, otherCores });
  if (otherCores > 0.25) log(`  ⚠ other processes kept ${otherCores.toFixed(2)} cores busy during this phase`);
  return out;
}

const peakOf = (proc: ResourceRow['process'], phase: string) => resources.findLast((x) => x.process === proc && x.phase === phase)?.rssPeakMiB;
const errorsOf = (r: LoadResult) => r.non2xx + r.errors + r.timeouts;

function logLoad(phase: string, key: string, r: LoadResult): void {
  raw[`${phase} / ${key}`] = { ...r, samples: undefined };
  log(`  ${phase.padEnd(34)} ${key.padEnd(16)} p50 ${r.latency.p50.toFixed(3)} ms  p99 ${r.latency.p99.toFixed(3)} ms  ${Math.round(r.rps)} req/s${errorsOf(r) ? `  ${errorsOf(r)} errors` : ''}`);
}

/** autocannon against each target, interleaved: 1 connection at `rate`, or closed loop at `connections`. */
async function loadPhase(s: Servers, phase: string, targets: Array<{ key: string; target: TargetName; http: HttpTarget }>, o: Omit<LoadOptions, 'durationS'>, durationS = opts.durationS): Promise<Record<string, LoadResult>> {
  const parts = await interleaved<LoadResult>(
    s,
    phase,
    targets.map((t) => ({
      key: t.key,
      target: t.target,
      warm: () => load(t.http, { connections: o.connections, durationS: opts.warmupS }),
      round: (d) => load(t.http, { ...o, durationS: d }),
      requests: (r) => r.ok,
    })),
    ROUNDS,
    durationS,
  );
  const out: Record<string, LoadResult> = {};
  for (const t of targets) {
    out[t.key] = mergeLoads(parts[t.key]!);
    logLoad(phase, t.key, out[t.key]!);
  }
  return out;
}

interface StreamResult {
  paced: StreamPhase;
  burst: StreamPhase;
}

/** Paced and burst stream phases against each runner, interleaved in STREAM_ROUNDS rounds. */
async function streamPhase(s: Servers, phase: string, runners: Array<{ key: string; target: TargetName; runner: StreamRunner }>): Promise<Record<string, StreamResult>> {
  const parts = await interleaved<{ paced: StreamSample[]; burst: StreamSample[]; wallS: number }>(
    s,
    phase,
    runners.map((r) => ({
      key: r.key,
      target: r.target,
      warm: () => burstStreams(r.runner, 3, 1),
      round: async (d) => {
        const t0 = performance.now();
        const paced = await pacedStreams(r.runner, opts.streamRate, d);
        const burst = await burstStreams(r.runner, opts.burstSize, Math.max(1, Math.round(opts.bursts / STREAM_ROUNDS)));
        return { paced, burst, wallS: (performance.now() - t0) / 1000 };
      },
      requests: (p) => p.paced.length + p.burst.length,
    })),
    STREAM_ROUNDS,
    opts.durationS,
  );
  const out: Record<string, StreamResult> = {};
  for (const r of runners) {
    const p = parts[r.key]!;
    const wallS = p.reduce((a, x) => a + x.wallS, 0);
    const res = { paced: summarizeStreams(p.flatMap((x) => x.paced), wallS), burst: summarizeStreams(p.flatMap((x) => x.burst), wallS) };
    out[r.key] = res;
    raw[`${phase} / ${r.key}`] = res;
    const errs = res.paced.errors + res.burst.errors;
    log(
      `  ${phase.padEnd(34)} ${r.key.padEnd(16)} TTFT p50 ${res.paced.ttft.p50.toFixed(3)} ms  p99 ${res.paced.ttft.p99.toFixed(3)} ms` +
        `  | bursts of ${opts.burstSize}: p50 ${res.burst.ttft.p50.toFixed(3)} p99 ${res.burst.ttft.p99.toFixed(3)}${errs ? `  ${errs} errors: ${[...res.paced.firstErrors, ...res.burst.firstErrors].join('; ')}` : ''}`,
    );
  }
  return out;
}

const okJson = (status: number, _h: Record<string, unknown>, text: string) => {
  if (status !== 200) return `expected 200`;
  const j = JSON.parse(text) as { choices?: unknown[] };
  return j.choices?.length ? undefined : 'no choices in the reply';
};

const okGraphql = (status: number, _h: Record<string, unknown>, text: string) => {
  if (status !== 200) return 'expected 200';
  const j = JSON.parse(text) as { data?: { createCompletion?: { id?: string } }; errors?: Array<{ message: string }> };
  if (j.errors?.length) return `errors: ${j.errors.map((e) => e.message).join('; ')}`;
  return j.data?.createCompletion?.id ? undefined : 'no data.createCompletion.id';
};

/**
 * Once, before the first scenario: a few seconds of closed-loop traffic through the bare proxy and the gateway
 * (REST, GraphQL, streams) so that the first measured phase does not pay for the JIT warming up.
 */
async function warmUp(s: Servers): Promise<void> {
  const seconds = quick ? 0.2 : 2;
  log(`warm-up (${seconds} s per path)`);
  await load(restTarget(s, 'bare'), { connections: opts.connections, durationS: seconds });
  await load(restTarget(s, 'gateway'), { connections: opts.connections, durationS: seconds });
  await load({ name: 'gateway', origin: `http://127.0.0.1:${s.gateway.port}`, path: '/graphql', body: GQL_MUTATION }, { connections: opts.connections, durationS: seconds });
  const runner = restStreamRunner(restTarget(s, 'gateway', 'gpt-4o-mini', true));
  try {
    await burstStreams(runner, quick ? 5 : 50, 1);
  } finally {
    await runner.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Scenarios

const latencyAt = `@1 conn, ${opts.rate} req/s`;

async function scenarioRest(s: Servers): Promise<void> {
  log('REST non-streaming');
  const targets = (['direct', 'bare', 'gateway'] as const).map((n) => ({ key: n, target: n, http: restTarget(s, n) }));
  for (const t of targets) await preflight(t.http, okJson);
  const lat = await loadPhase(s, 'REST latency @1 conn', targets, { connections: 1, rate: opts.rate });
  const tpPhase = `REST throughput @${opts.connections} conns`;
  const tp = await loadPhase(s, tpPhase, targets, { connections: opts.connections });
  for (const [p, bar] of [['p50', 0.3], ['p99', 1.0]] as const) {
    const added = lat.gateway!.latency[p] - lat.direct!.latency[p];
    rows.push({
      scenario: 'REST chat.completion',
      measure: `latency ${p} ${latencyAt}`,
      unit: 'ms',
      direct: lat.direct!.latency[p],
      bare: lat.bare!.latency[p],
      gateway: lat.gateway!.latency[p],
      addedBare: lat.bare!.latency[p] - lat.direct!.latency[p],
      addedGateway: added,
      bar: `added ≤ ${bar} ms`,
      meets: added <= bar,
    });
  }
  const ratio = tp.gateway!.rps / tp.bare!.rps;
  const errors = [...Object.values(tp), ...Object.values(lat)].reduce((a, r) => a + errorsOf(r), 0);
  rows.push({
    scenario: 'REST chat.completion',
    measure: `throughput @${opts.connections} conns (saturation)`,
    unit: 'req/s',
    direct: tp.direct!.rps,
    bare: tp.bare!.rps,
    gateway: tp.gateway!.rps,
    bar: '≥ 60% of bare proxy',
    meets: ratio >= 0.6,
    note: `${(100 * ratio).toFixed(0)}% of bare${errors ? `; ${errors} errors` : ''}`,
  });
  rows.push({ scenario: 'REST chat.completion', measure: `RSS peak @${opts.connections} conns`, unit: 'MiB', bare: peakOf('bare proxy', tpPhase), gateway: peakOf('gateway', tpPhase) });
}

async function scenarioRest100(s: Servers): Promise<void> {
  log('REST non-streaming at 100 connections (memory)');
  await freshProxies(s, 'RSS at 100 connections');
  const phase = 'REST throughput @100 conns';
  const targets = (['bare', 'gateway'] as const).map((n) => ({ key: n, target: n, http: restTarget(s, n) }));
  const r = await loadPhase(s, phase, targets, { connections: 100 }, Math.max(opts.durationS / 2, quick ? 0.3 : 1));
  const errors = errorsOf(r.gateway!);
  rows.push({ scenario: 'REST chat.completion', measure: 'throughput @100 conns', unit: 'req/s', bare: r.bare!.rps, gateway: r.gateway!.rps, note: `${((100 * r.gateway!.rps) / r.bare!.rps).toFixed(0)}% of bare${errors ? `; ${errors} errors` : ''}` });
  const peak = peakOf('gateway', phase)!;
  rows.push({ scenario: 'REST chat.completion', measure: 'RSS peak @100 conns', unit: 'MiB', bare: peakOf('bare proxy', phase), gateway: peak, bar: '≤ 150 MiB', meets: peak <= 150 });
}

function ttftRows(scenario: string, d: StreamResult, b: StreamResult, g: StreamResult, barNote?: string): void {
  const paced = `paced ${opts.streamRate}/s, n=${g.paced.ok}`;
  const addedBareP99 = b.paced.ttft.p99 - d.paced.ttft.p99;
  const gAdded50 = g.paced.ttft.p50 - d.paced.ttft.p50;
  const gAdded99 = g.paced.ttft.p99 - d.paced.ttft.p99;
  rows.push({
    scenario,
    measure: `TTFT p50 (${paced})`,
    unit: 'ms',
    direct: d.paced.ttft.p50,
    bare: b.paced.ttft.p50,
    gateway: g.paced.ttft.p50,
    addedBare: b.paced.ttft.p50 - d.paced.ttft.p50,
    addedGateway: gAdded50,
    bar: 'added ≤ 1 ms',
    meets: gAdded50 <= 1,
    note: barNote,
  });
  const bar99 = Math.max(0, 2 * addedBareP99);
  rows.push({
    scenario,
    measure: `TTFT p99 (${paced})`,
    unit: 'ms',
    direct: d.paced.ttft.p99,
    bare: b.paced.ttft.p99,
    gateway: g.paced.ttft.p99,
    addedBare: addedBareP99,
    addedGateway: gAdded99,
    bar: `added ≤ 2× bare's (${bar99.toFixed(3)} ms)`,
    meets: gAdded99 <= bar99,
    note: [barNote, addedBareP99 <= 0 ? "bare proxy's added p99 ≤ 0 in this run (noise), so the bar is 0" : undefined].filter(Boolean).join('; ') || undefined,
  });
  for (const p of ['p50', 'p99'] as const) {
    rows.push({
      scenario,
      measure: `TTFT ${p} (bursts of ${opts.burstSize} concurrent, n=${g.burst.ok})`,
      unit: 'ms',
      direct: d.burst.ttft[p],
      bare: b.burst.ttft[p],
      gateway: g.burst.ttft[p],
      addedBare: b.burst.ttft[p] - d.burst.ttft[p],
      addedGateway: g.burst.ttft[p] - d.burst.ttft[p],
    });
  }
  const errs = g.paced.errors + g.burst.errors;
  if (errs > 0) rows.push({ scenario, measure: 'gateway stream errors', unit: 'count', gateway: errs, note: [...g.paced.firstErrors, ...g.burst.firstErrors].join('; ').slice(0, 200) });
}

async function withRunners<T>(make: () => Promise<Array<{ key: string; target: TargetName; runner: StreamRunner }>>, fn: (r: Array<{ key: string; target: TargetName; runner: StreamRunner }>) => Promise<T>): Promise<T> {
  const runners = await make();
  try {
    return await fn(runners);
  } finally {
    await Promise.all(runners.map((r) => r.runner.close()));
  }
}

const restRunners = (s: Servers) => (['direct', 'bare'] as const).map((n) => ({ key: n, target: n, runner: restStreamRunner(restTarget(s, n, 'gpt-4o-mini', true)) }));

async function scenarioStream(s: Servers): Promise<void> {
  log('REST streaming');
  const r = await withRunners(
    async () => [...restRunners(s), { key: 'gateway', target: 'gateway' as const, runner: restStreamRunner(restTarget(s, 'gateway', 'gpt-4o-mini', true)) }],
    (runners) => streamPhase(s, 'REST stream TTFT', runners),
  );
  ttftRows('REST stream', r.direct!, r.bare!, r.gateway!);
}

async function scenarioGraphqlStream(s: Servers): Promise<void> {
  log('GraphQL completionStream (graphql-ws)');
  const r = await withRunners(
    async () => [...restRunners(s), { key: 'gateway graphql', target: 'gateway' as const, runner: await graphqlStreamRunner(`ws://127.0.0.1:${s.gateway.port}/graphql`) }],
    (runners) => streamPhase(s, 'GraphQL completionStream TTFT', runners),
  );
  ttftRows('GraphQL completionStream', r.direct!, r.bare!, r['gateway graphql']!, 'REST bar; direct and bare = REST SSE');
}

async function scenarioGraphql(s: Servers): Promise<void> {
  log('GraphQL createCompletion (HTTP POST)');
  const gql: HttpTarget = { name: 'gateway', origin: `http://127.0.0.1:${s.gateway.port}`, path: '/graphql', body: GQL_MUTATION };
  await preflight(gql, okGraphql);
  const lat = await loadPhase(s, 'GraphQL createCompletion @1 conn', [{ key: 'direct', target: 'direct', http: restTarget(s, 'direct') }, { key: 'gateway graphql', target: 'gateway', http: gql }], { connections: 1, rate: opts.rate });
  const tpPhase = `GraphQL createCompletion @${opts.connections} conns`;
  const tp = await loadPhase(s, tpPhase, [{ key: 'bare', target: 'bare', http: restTarget(s, 'bare') }, { key: 'gateway graphql', target: 'gateway', http: gql }], { connections: opts.connections });
  const g = lat['gateway graphql']!;
  const d = lat.direct!;
  const added50 = g.latency.p50 - d.latency.p50;
  rows.push({ scenario: 'GraphQL createCompletion', measure: `latency p50 ${latencyAt}`, unit: 'ms', direct: d.latency.p50, gateway: g.latency.p50, addedGateway: added50, bar: 'added ≤ 1 ms', meets: added50 <= 1, note: 'direct = REST to the mock' });
  rows.push({ scenario: 'GraphQL createCompletion', measure: `latency p99 ${latencyAt}`, unit: 'ms', direct: d.latency.p99, gateway: g.latency.p99, addedGateway: g.latency.p99 - d.latency.p99 });
  const errors = errorsOf(g) + errorsOf(tp['gateway graphql']!);
  rows.push({
    scenario: 'GraphQL createCompletion',
    measure: `throughput @${opts.connections} conns`,
    unit: 'req/s',
    bare: tp.bare!.rps,
    gateway: tp['gateway graphql']!.rps,
    note: `${((100 * tp['gateway graphql']!.rps) / tp.bare!.rps).toFixed(0)}% of bare (REST)${errors ? `; ${errors} errors` : ''}`,
  });
}

async function scenarioFallback(s: Servers): Promise<void> {
  log('Fallback after a 503 (gateway)');
  const fb: HttpTarget = { name: 'gateway', origin: `http://127.0.0.1:${s.gateway.port}`, path: REST_PATH, body: body('fallback') };
  await preflight(fb, (status, h, text) => okJson(status, h, text) ?? (h['x-switchboard-attempts'] === '2' ? undefined : `expected x-switchboard-attempts: 2, got ${String(h['x-switchboard-attempts'])}`));
  const r = await loadPhase(s, 'REST fallback after 503 @1 conn', [{ key: 'direct', target: 'direct', http: restTarget(s, 'direct') }, { key: 'gateway fallback', target: 'gateway', http: fb }], { connections: 1, rate: opts.rate });
  const d = r.direct!;
  const g = r['gateway fallback']!;
  for (const p of ['p50', 'p99'] as const) {
    rows.push({ scenario: 'REST fallback (503 → next target)', measure: `latency ${p} ${latencyAt}`, unit: 'ms', direct: d.latency[p], gateway: g.latency[p], addedGateway: g.latency[p] - d.latency[p] });
  }
  if (errorsOf(g) > 0) rows.push({ scenario: 'REST fallback (503 → next target)', measure: 'errors', unit: 'count', gateway: errorsOf(g) });
}

async function scenarioManyStreams(s: Servers): Promise<void> {
  const n = opts.streams;
  log(`${n} concurrent streams`);
  await freshProxies(s, `RSS with ${n} streams`);
  const phase = `${n} concurrent streams`;
  const result = await withRunners(
    async () => (['direct', 'bare', 'gateway'] as const).map((name) => ({ key: name, target: name, runner: restStreamRunner(restTarget(s, name, 'gpt-4o-mini', true), n + 100) })),
    async (runners) => {
      const parts = await interleaved<{ samples: StreamSample[]; wallS: number }>(
        s,
        phase,
        runners.map((r) => ({
          key: r.key,
          target: r.target,
          warm: () => burstStreams(r.runner, 20, 1), // JIT; most measured streams still open fresh connections
          round: async () => {
            const t0 = performance.now();
            const samples = await burstStreams(r.runner, n, 1);
            return { samples, wallS: (performance.now() - t0) / 1000 };
          },
          requests: (p) => p.samples.length,
        })),
        1,
        0,
      );
      const out: Record<string, StreamPhase> = {};
      for (const r of runners) {
        const p = parts[r.key]![0]!;
        const sum = summarizeStreams(p.samples, p.wallS);
        out[r.key] = sum;
        raw[`${phase} / ${r.key}`] = sum;
        log(`  ${r.key.padEnd(8)} TTFT p50 ${sum.ttft.p50.toFixed(1)} ms  p99 ${sum.ttft.p99.toFixed(1)} ms  all done in ${sum.wallS.toFixed(2)} s  ${sum.errors} errors ${sum.firstErrors.join('; ')}`);
      }
      return out;
    },
  );
  const d = result.direct!;
  const b = result.bare!;
  const g = result.gateway!;
  const peak = peakOf('gateway', phase)!;
  const scenario = `${n.toLocaleString('en-US')} concurrent streams`;
  for (const p of ['p50', 'p99'] as const) {
    rows.push({ scenario, measure: `TTFT ${p}`, unit: 'ms', direct: d.ttft[p], bare: b.ttft[p], gateway: g.ttft[p], addedBare: b.ttft[p] - d.ttft[p], addedGateway: g.ttft[p] - d.ttft[p] });
  }
  rows.push({
    scenario,
    measure: `stream duration p50 (${opts.mockChunks} chunks × ${opts.mockIntervalMs} ms upstream)`,
    unit: 'ms',
    direct: d.total.p50,
    bare: b.total.p50,
    gateway: g.total.p50,
    addedBare: b.total.p50 - d.total.p50,
    addedGateway: g.total.p50 - d.total.p50,
  });
  rows.push({ scenario, measure: 'all streams done (wall)', unit: 'ms', direct: d.wallS * 1000, bare: b.wallS * 1000, gateway: g.wallS * 1000 });
  rows.push({ scenario, measure: 'errors', unit: 'count', direct: d.errors, bare: b.errors, gateway: g.errors, bar: '0', meets: g.errors === 0, note: g.firstErrors.join('; ').slice(0, 200) || undefined });
  rows.push({
    scenario,
    measure: 'RSS peak',
    unit: 'MiB',
    bare: peakOf('bare proxy', phase),
    gateway: peak,
    bar: n >= 1000 ? '≤ 250 MiB' : undefined,
    meets: n >= 1000 ? peak <= 250 : undefined,
    note: n < 1000 ? 'bar is for 1,000 streams' : undefined,
  });
}

async function scenarioRoute(): Promise<void> {
  log('Route decision (planRoute, 20 targets)');
  const it = quick ? 2_000 : 20_000;
  const batches = quick ? 5 : 15;
  const out = execFileSync(process.execPath, ['bench/route-microbench.ts', '--iterations', String(it), '--batches', String(batches)], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const r = JSON.parse(out) as { medianNs: number; minNs: number; maxNs: number; iterations: number; candidates: number };
  raw['route decision'] = r;
  log(`  median ${(r.medianNs / 1000).toFixed(2)} µs over ${r.iterations} decisions (min ${(r.minNs / 1000).toFixed(2)}, max ${(r.maxNs / 1000).toFixed(2)} µs per batch)`);
  rows.push({ scenario: 'Route decision', measure: `planRoute, 20 targets (median of ${batches} batches × ${it})`, unit: 'µs', gateway: r.medianNs / 1000, note: `batch range ${(r.minNs / 1000).toFixed(2)}–${(r.maxNs / 1000).toFixed(2)} µs` });
}

/** A second gateway process for one scenario (stopped by `stopExtra`); its RSS and CPU are sampled like the others'. */
async function startExtra(s: Servers, name: string, process: ResourceRow['process'], extraConfig: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const configPath = join(RESULTS, `${name}-config.json`);
  writeFileSync(configPath, `${JSON.stringify(gatewayConfig(s.mock.port, extraConfig), null, 2)}\n`);
  const child = await spawnGateway(configPath, undefined, name, env);
  s.extra = { child, sampler: new ProcSampler(child.pid, { withChildren: true }).start(), process };
  await sleep(quick ? 300 : 1_000);
}

async function stopExtra(s: Servers): Promise<void> {
  if (!s.extra) return;
  s.extra.sampler.stop();
  await stopChild(s.extra.child, 15_000);
  delete s.extra;
}

/** Deletes the keys of one Redis prefix (SCAN + UNLINK): the benchmark's own keys only. */
async function dropRedisPrefix(url: string, prefix: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  let n = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) n += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return n;
}

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Cache hits: a temperature-0 request (cacheable by default) answered from the response cache, with the
 * memory store (the main gateway) and with Redis (a second gateway, `store: redis`, a prefix of its own),
 * interleaved with the same request straight to the mock. Each gateway is primed first and checked to
 * answer `x-switchboard-cache: HIT`.
 */
async function scenarioCache(s: Servers): Promise<void> {
  log('Cache hit (memory store, Redis store)');
  const prefix = `sb-bench-${process.pid}-${Date.now()}:`;
  try {
    await startExtra(s, 'gateway-redis', 'gateway (Redis store)', { store: { kind: 'redis', url: REDIS_URL, prefix } });
  } catch (e) {
    log(`  no Redis gateway (${(e as Error).message.split('\n')[0]}): Redis cache hit not measured`);
    rows.push({ scenario: 'Cache hit (Redis store)', measure: 'latency p99', unit: 'ms', bar: '≤ 2 ms', note: `not measured: no Redis at ${REDIS_URL}` });
  }
  try {
    const cacheBody = JSON.stringify({ model: 'default', temperature: 0, messages: [{ role: 'user', content: 'hi' }] });
    const targets: Array<{ key: string; target: TargetName; http: HttpTarget }> = [
      { key: 'direct', target: 'direct', http: { ...restTarget(s, 'direct'), body: JSON.stringify({ model: 'gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: 'hi' }] }) } },
      { key: 'gateway memory', target: 'gateway', http: { ...restTarget(s, 'gateway'), body: cacheBody } },
      ...(s.extra ? [{ key: 'gateway redis', target: 'extra' as const, http: { ...restTarget(s, 'extra'), body: cacheBody } }] : []),
    ];
    const primeAndCheck = async (t: HttpTarget) => {
      await preflight(t, okJson);
      await preflight(t, (status, h, text) => okJson(status, h, text) ?? (h['x-switchboard-cache'] === 'HIT' ? undefined : `expected x-switchboard-cache: HIT, got ${String(h['x-switchboard-cache'])}`));
    };
    await primeAndCheck(targets[1]!.http);
    if (targets[2]) {
      // Redis reachable at start-up but not serving hits (e.g. gone since): report it rather than fail the run.
      const problem = await primeAndCheck(targets[2].http).then(() => undefined, (e: Error) => e.message.split('\n')[0]);
      if (problem) {
        log(`  Redis gateway not serving cache hits (${problem}): Redis cache hit not measured`);
        rows.push({ scenario: 'Cache hit (Redis store)', measure: 'latency p99', unit: 'ms', bar: '≤ 2 ms', note: `not measured: ${problem}` });
        targets.pop();
      }
    }
    const lat = await loadPhase(s, 'Cache hit @1 conn', targets, { connections: 1, rate: opts.rate }, Math.max(opts.durationS / 2, quick ? 0.3 : 2));
    const d = lat.direct!;
    for (const [key, scenario] of [['gateway memory', 'Cache hit (memory store)'], ['gateway redis', 'Cache hit (Redis store)']] as const) {
      const g = lat[key];
      if (!g) continue;
      for (const p of ['p50', 'p99'] as const) {
        const redisBar = key === 'gateway redis' && p === 'p99';
        rows.push({
          scenario,
          measure: `latency ${p} ${latencyAt}`,
          unit: 'ms',
          direct: d.latency[p],
          gateway: g.latency[p],
          addedGateway: g.latency[p] - d.latency[p],
          ...(redisBar && { bar: '≤ 2 ms (end to end)', meets: g.latency[p] <= 2 }),
          note: `direct = the mock answering; ${errorsOf(g) ? `${errorsOf(g)} errors` : 'every answer a HIT (checked first)'}`,
        });
      }
    }
  } finally {
    await stopExtra(s);
    if (s.extra === undefined) {
      const dropped = await dropRedisPrefix(REDIS_URL, prefix).catch(() => 0);
      if (dropped > 0) log(`  removed ${dropped} Redis keys under ${prefix}`);
    }
  }
}

/** Throughput at `--connections` of the gateway with 1 worker (the main one) and with SWITCHBOARD_WORKERS=N. */
async function scenarioScaling(s: Servers): Promise<void> {
  log(`Scaling: 1 vs ${opts.workers} workers (SWITCHBOARD_WORKERS)`);
  await startExtra(s, 'gateway-workers', 'gateway (2 workers)', {}, { SWITCHBOARD_WORKERS: String(opts.workers) });
  try {
    const phase = `Scaling @${opts.connections} conns`;
    const r = await loadPhase(
      s,
      phase,
      [
        { key: 'bare', target: 'bare', http: restTarget(s, 'bare') },
        { key: 'gateway 1 worker', target: 'gateway', http: restTarget(s, 'gateway') },
        { key: `gateway ${opts.workers} workers`, target: 'extra', http: restTarget(s, 'extra') },
      ],
      { connections: opts.connections },
      Math.max(opts.durationS / 2, quick ? 0.3 : 2),
    );
    const one = r['gateway 1 worker']!;
    const n = r[`gateway ${opts.workers} workers`]!;
    rows.push({
      scenario: 'Scaling (SWITCHBOARD_WORKERS)',
      measure: `throughput @${opts.connections} conns, 1 → ${opts.workers} workers`,
      unit: 'req/s',
      bare: r.bare!.rps,
      gateway: n.rps,
      note: `1 worker ${Math.round(one.rps).toLocaleString('en-US')} req/s → ${opts.workers} workers ×${(n.rps / one.rps).toFixed(2)} (${Math.round((100 * n.rps) / r.bare!.rps)}% of bare; ${cpus().length} cores shared with the load generator and the mock)`,
    });
  } finally {
    await stopExtra(s);
  }
}

/** Least-squares slope of (seconds, MiB) points, in MiB per minute. */
function slopePerMinute(points: ReadonlyArray<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return sxx === 0 ? 0 : (sxy / sxx) * 60;
}

/**
 * Soak: a fresh gateway under steady mixed load (REST at half the latency rate on 4 connections, plus a
 * stream started every 200 ms) for `--soak` seconds; RSS sampled each second. The slope is fitted over the
 * run after its first fifth (start-up and JIT growth), in MiB/min: flat (≈ 0) means no growth.
 */
async function scenarioSoak(s: Servers): Promise<void> {
  const seconds = opts.soakS;
  log(`Soak: ${seconds} s of steady load, RSS slope`);
  await freshProxies(s, 'soak');
  const points: Array<[number, number]> = [];
  const t0 = performance.now();
  const timer = setInterval(() => points.push([(performance.now() - t0) / 1000, s.samplers.gateway.rssMiB()]), 1_000);
  const runner = restStreamRunner(restTarget(s, 'gateway', 'gpt-4o-mini', true));
  const w = s.samplers.gateway.begin();
  let streams = 0;
  try {
    const rest = load(restTarget(s, 'gateway'), { connections: 4, durationS: seconds, rate: Math.max(10, opts.rate / 2) });
    const streamLoop = (async () => {
      const until = performance.now() + seconds * 1000;
      const open: Array<Promise<unknown>> = [];
      while (performance.now() < until) {
        open.push(burstStreams(runner, 1, 1));
        streams++;
        await sleep(200);
      }
      await Promise.all(open);
    })();
    const [r] = await Promise.all([rest, streamLoop]);
    const res = w.end();
    clearInterval(timer);
    points.push([(performance.now() - t0) / 1000, s.samplers.gateway.rssMiB()]);
    const fitted = points.filter((p) => p[0] >= seconds / 5);
    const slope = slopePerMinute(fitted);
    raw.soak = { seconds, points, slope, rest: { ...r, samples: undefined }, streams };
    resources.push({ phase: `Soak ${seconds} s`, process: 'gateway', wallS: res.wallSeconds, requests: r.ok + streams, rssStartMiB: res.rssStartMiB, rssPeakMiB: res.rssPeakMiB, cpuS: res.cpuSeconds });
    log(`  RSS ${res.rssStartMiB.toFixed(1)} → ${res.rssEndMiB.toFixed(1)} MiB (peak ${res.rssPeakMiB.toFixed(1)}), slope ${slope.toFixed(2)} MiB/min over ${fitted.length} samples; ${r.ok} requests, ${streams} streams, ${errorsOf(r)} errors`);
    rows.push({
      scenario: `Soak (${seconds} s)`,
      measure: 'RSS slope after the first fifth',
      unit: 'MiB/min',
      gateway: slope,
      bar: 'no growth (≤ +0.5 MiB/min over 5 min)',
      // A short soak's slope is mostly warm-up noise: a verdict only for the issue's 5 minutes.
      meets: seconds >= 300 ? slope <= 0.5 : undefined,
      note: `RSS ${res.rssStartMiB.toFixed(0)} → ${res.rssEndMiB.toFixed(0)} MiB, peak ${res.rssPeakMiB.toFixed(0)}; ${r.ok} REST requests + ${streams} streams; the issue asks 5 min: --soak 300${errorsOf(r) ? `; ${errorsOf(r)} errors` : ''}`,
    });
  } finally {
    clearInterval(timer);
    await runner.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Main

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    const untracked = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).split('\n').some((l) => l.startsWith('??'));
    return `${sha}${dirty || untracked ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'unknown';
  }
}

function latestProfile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg()[0]!;
  const steal0 = { s: readStealSeconds(), at: performance.now() };
  const stamp = started.toISOString().replace(/[:.]/g, '-').slice(0, 19);
  log(`bench: ${quick ? 'quick' : 'full'} run, scenarios ${opts.scenarios.join(', ')}`);
  if (opts.waitQuietS > 0) {
    const until = performance.now() + opts.waitQuietS * 1000;
    for (;;) {
      const w = otherLoad(() => []);
      await sleep(2_000);
      const busy = w.end();
      if (busy < 0.3) break;
      if (performance.now() > until) {
        log(`  other processes still use ${busy.toFixed(2)} cores after ${opts.waitQuietS} s: starting anyway`);
        break;
      }
      log(`  waiting for a quieter machine: other processes use ${busy.toFixed(2)} cores`);
    }
  }
  if (opts.from === 'dist') {
    log('building dist/ (npm run build) to run the gateway from it');
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
  }
  const s = await startServers(stamp);
  log(`  mock :${s.mock.port} (pid ${s.mock.pid})  bare proxy :${s.bare.port} (pid ${s.bare.pid})  gateway :${s.gateway.port} (pid ${s.gateway.pid})${opts.profile ? '  [--cpu-prof]' : ''}`);
  let profile: ProfileSummary | undefined;
  let workloadAtMs = 0;
  try {
    await sleep(quick ? 300 : 1_000);
    workloadAtMs = performance.now() - s.gatewaySpawnedAt;
    const idle = s.samplers.gateway.rssMiB();
    rows.push({ scenario: 'Process', measure: 'RSS idle after start', unit: 'MiB', bare: s.samplers.bare.rssMiB(), gateway: idle, bar: '≤ 70 MiB', meets: idle <= 70 });
    await warmUp(s);
    for (const sc of opts.scenarios) {
      switch (sc) {
        case 'rest':
          await scenarioRest(s);
          break;
        case 'rest-100':
          await scenarioRest100(s);
          break;
        case 'stream':
          await scenarioStream(s);
          break;
        case 'graphql':
          await scenarioGraphql(s);
          break;
        case 'graphql-stream':
          await scenarioGraphqlStream(s);
          break;
        case 'fallback':
          await scenarioFallback(s);
          break;
        case 'streams-1000':
          await scenarioManyStreams(s);
          break;
        case 'route':
          await scenarioRoute();
          break;
        case 'cache':
          await scenarioCache(s);
          break;
        case 'scaling':
          await scenarioScaling(s);
          break;
        case 'soak':
          await scenarioSoak(s);
          break;
      }
    }
    await sleep(quick ? 300 : 2_000);
    rows.push({ scenario: 'Process', measure: 'RSS idle after the run', unit: 'MiB', bare: s.samplers.bare.rssMiB(), gateway: s.samplers.gateway.rssMiB() });
    const peak = (p: ResourceRow['process']) => Math.max(...resources.filter((r) => r.process === p).map((r) => r.rssPeakMiB), 0);
    rows.push({ scenario: 'Process', measure: 'RSS peak over the run', unit: 'MiB', bare: peak('bare proxy'), gateway: Math.max(peak('gateway'), idle) });
  } finally {
    for (const smp of Object.values(s.samplers)) smp.stop();
    // The gateway first and gracefully: with --cpu-prof it writes its profile on exit.
    await stopChild(s.gateway, 15_000);
    await stopAll();
  }
  if (s.profileDir) {
    const file = latestProfile(s.profileDir);
    if (file) {
      // Leave out the gateway's start-up (module loading, schema build): the profile is of serving.
      profile = summarizeProfile(file, ROOT, 25, Math.max(0, workloadAtMs - 200));
      profile.file = relative(ROOT, file);
    } else log(`no .cpuprofile found in ${s.profileDir}`);
  }

  const env = {
    date: started.toISOString(),
    node: process.version,
    commit: gitCommit(),
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    options: {
      quick,
      durationS: opts.durationS,
      connections: opts.connections,
      rate: opts.rate,
      streamRate: opts.streamRate,
      streams: opts.streams,
      soakS: opts.soakS,
      workers: opts.workers,
      bursts: `${opts.bursts}×${opts.burstSize}`,
      upstreamStream: `${opts.mockChunks} chunks × ${opts.mockIntervalMs} ms`,
      profile: opts.profile,
      gatewayNodeArgs: [...LAUNCHER_FLAGS, ...opts.nodeArgs],
      gatewayFrom: opts.from,
      scenarios: opts.scenarios,
    },
  };
  const table = resultsTable(rows);
  const resTable = resourceTable(resources);
  const wallS = (Date.now() - started.getTime()) / 1000;
  const heading = `## ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC — ${quick ? 'quick' : 'full'} run${opts.profile ? ' (profiled: figures include profiler overhead)' : ''}`;
  const meta = [
    `Node ${env.node} · commit ${env.commit} · ${env.cores} cores (${env.cpu}) · run took ${wallS.toFixed(0)} s`,
    `Options: duration ${opts.durationS} s per phase, ${opts.connections} connections (saturation), ${opts.rate} req/s (latency, 1 connection), ` +
      `gateway run from ${opts.from === 'dist' ? 'the build (dist/)' : 'the .ts sources'}, paced streams ${opts.streamRate}/s, bursts ${opts.bursts}×${opts.burstSize}, ${opts.streams} concurrent streams, upstream stream ${env.options.upstreamStream}${LAUNCHER_FLAGS.length + opts.nodeArgs.length ? `, gateway Node flags ${[...LAUNCHER_FLAGS, ...opts.nodeArgs].join(' ')}` : ''}; scenarios: ${opts.scenarios.join(', ')}`,
  ];
  const misses = rows.filter((r) => r.meets === false);
  const otherMax = Math.max(0, ...resources.map((r) => r.otherCores ?? 0));
  const busiest = resources.find((r) => r.otherCores === otherMax);
  // A virtual machine's host may take CPU from it (steal): it counts as other load, and is named apart.
  const stealCores = (readStealSeconds() - steal0.s) / ((performance.now() - steal0.at) / 1000);
  meta.push(
    `Other processes on the machine: up to ${otherMax.toFixed(2)} cores busy during a phase${busiest && otherMax > 0 ? ` (${busiest.phase})` : ''}` +
      `${Number.isFinite(stealCores) ? `; hypervisor steal ${stealCores.toFixed(2)} cores on average over the run (included in the other load)` : ''}` +
      `; 1-min load average ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end` +
      (otherMax > 0.25 ? ' — ⚠ the machine was shared during this run: treat the figures as noisy' : ''),
  );
  const md = [
    heading,
    '',
    ...meta.map((m) => `${m}  `),
    '',
    table,
    '',
    `Misses the bar: ${misses.length === 0 ? 'nothing' : misses.map((r) => `${r.scenario} — ${r.measure}`).join('; ')}.`,
    '',
    '<details><summary>Resources per phase (RSS sampled every 100 ms from /proc/&lt;pid&gt;/status; CPU = utime + stime)</summary>',
    '',
    resTable,
    '',
    '</details>',
    ...(profile ? ['', profileMarkdown(profile)] : []),
    '',
  ].join('\n');

  writeFileSync(join(RESULTS, 'latest.json'), `${JSON.stringify({ env, rows, resources, raw, ...(profile && { profile }) }, null, 2)}\n`);
  writeFileSync(join(RESULTS, 'latest.md'), md);
  if (opts.record) {
    const file = join(ROOT, 'BENCHMARKS.md');
    if (!existsSync(file)) writeFileSync(file, '# Benchmarks\n\nMethod and bar: see bench/run.ts.\n\n# Results\n');
    appendFileSync(file, `\n${md}`);
  }
  process.stdout.write(`\n${md}\n`);
  log(`wrote bench/results/latest.json, bench/results/latest.md${opts.record ? ', appended to BENCHMARKS.md' : ''} (${wallS.toFixed(0)} s)`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`\nbench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await stopAll(2_000);
}
