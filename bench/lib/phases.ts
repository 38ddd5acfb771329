/**
 * What every scenario measures with. Every comparison is measured in interleaved rounds (direct, bare,
 * gateway, direct, …) so that whatever else the machine is doing at the time falls on all targets alike; each
 * scenario measures its own baselines at the same time as the gateway.
 */
import {
  burstStreams,
  load,
  mergeLoads,
  pacedStreams,
  restStreamRunner,
  summarizeStreams,
  type HttpTarget,
  type LoadOptions,
  type LoadResult,
  type StreamPhase,
  type StreamRunner,
  type StreamSample,
} from './clients.ts';
import type { BenchOptions } from './options.ts';
import { otherLoad, type ProcSampler } from './procs.ts';
import type { ResourceRow, Row } from './report.ts';
import type { Servers } from './servers.ts';

/** One run's state: its options, its processes, and what the scenarios have measured so far. */
export interface Bench {
  opts: BenchOptions;
  log: (msg: string) => void;
  servers: Servers;
  /** Rows of the results table, in the order the scenarios add them. */
  rows: Row[];
  /** One row per phase and process: RSS, CPU, other load. */
  resources: ResourceRow[];
  /** Every phase's full figures, for latest.json. */
  raw: Record<string, unknown>;
}

/** `extra`: a second gateway process some scenarios start (Redis store, several workers). */
export type TargetName = 'direct' | 'bare' | 'gateway' | 'extra';

export const REST_PATH = '/v1/chat/completions';
export const chatBody = (model: string, stream = false) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...(stream && { stream: true }) });
const GQL_MUTATION = JSON.stringify({ query: 'mutation Bench { createCompletion(input: { messages: [{ role: USER, content: "hi" }] }) { id } }' });

export function restTarget(s: Servers, name: TargetName, model = 'gpt-4o-mini', stream = false): HttpTarget {
  const port = name === 'direct' ? s.mock.port : name === 'bare' ? s.bare.port : name === 'extra' ? s.extra!.child.port : s.gateway.port;
  const viaGateway = name === 'gateway' || name === 'extra';
  // The gateway is addressed by route (`model: "default"`), so the request goes through routing.
  return { name, origin: `http://127.0.0.1:${port}`, path: REST_PATH, body: chatBody(viaGateway && model === 'gpt-4o-mini' ? 'default' : model, stream) };
}

/** The GraphQL `createCompletion` mutation over HTTP POST to the gateway. */
export const graphqlTarget = (s: Servers): HttpTarget => ({ name: 'gateway', origin: `http://127.0.0.1:${s.gateway.port}`, path: '/graphql', body: GQL_MUTATION });

/** A REST stream runner against one of the servers. */
export const restStreams = (s: Servers, name: TargetName, connections?: number): StreamRunner => restStreamRunner(restTarget(s, name, 'gpt-4o-mini', true), connections);

function samplerOf(s: Servers, name: TargetName): { sampler: ProcSampler; process: ResourceRow['process'] } {
  if (name === 'extra') return { sampler: s.extra!.sampler, process: s.extra!.process };
  if (name === 'gateway') return { sampler: s.samplers.gateway, process: 'gateway' };
  if (name === 'bare') return { sampler: s.samplers.bare, process: 'bare proxy' };
  return { sampler: s.samplers.mock, process: 'upstream mock' };
}

const pidsOf = (s: Servers) => () => [s.mock.pid, s.bare.pid, s.gateway.pid, ...(s.extra ? s.extra.sampler.pids() : [])];

/** One contestant of an interleaved phase: what serves it, and one round of its workload. */
export interface Contestant<T> {
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
export async function interleaved<T>(b: Bench, phase: string, contestants: Array<Contestant<T>>, rounds: number, durationS: number): Promise<Record<string, T[]>> {
  for (const c of contestants) await c.warm?.();
  const out: Record<string, T[]> = {};
  const acc = new Map<string, ResourceRow>();
  const other = otherLoad(pidsOf(b.servers));
  for (let r = 0; r < rounds; r++) {
    for (const c of contestants) {
      const { sampler, process: proc } = samplerOf(b.servers, c.target);
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
  for (const row of acc.values()) b.resources.push({ ...row, otherCores });
  if (otherCores > 0.25) b.log(`  ⚠ other processes kept ${otherCores.toFixed(2)} cores busy during this phase`);
  return out;
}

export const peakOf = (b: Bench, proc: ResourceRow['process'], phase: string) => b.resources.findLast((x) => x.process === proc && x.phase === phase)?.rssPeakMiB;
export const errorsOf = (r: LoadResult) => r.non2xx + r.errors + r.timeouts;
/** How the 1-connection latency figures are labelled. */
export const latencyAt = (opts: BenchOptions) => `@1 conn, ${opts.rate} req/s`;
/** A shorter phase than `--duration` (memory and secondary figures): half of it, at least `floorS` (0.3 s in a quick run). */
export const halfPhase = (opts: BenchOptions, floorS: number) => Math.max(opts.durationS / 2, opts.quick ? 0.3 : floorS);

/** autocannon against each target, interleaved: 1 connection at `rate`, or closed loop at `connections`. */
export async function loadPhase(
  b: Bench,
  phase: string,
  targets: Array<{ key: string; target: TargetName; http: HttpTarget }>,
  o: Omit<LoadOptions, 'durationS'>,
  durationS = b.opts.durationS,
): Promise<Record<string, LoadResult>> {
  // Rounds of about 2 s (autocannon's rate is a per-second quota), at most 5.
  const rounds = Math.min(5, Math.max(1, Math.floor(b.opts.durationS / 2)));
  const parts = await interleaved<LoadResult>(
    b,
    phase,
    targets.map((t) => ({
      key: t.key,
      target: t.target,
      warm: () => load(t.http, { connections: o.connections, durationS: b.opts.warmupS }),
      round: (d) => load(t.http, { ...o, durationS: d }),
      requests: (r) => r.ok,
    })),
    rounds,
    durationS,
  );
  const out: Record<string, LoadResult> = {};
  for (const t of targets) {
    const r = mergeLoads(parts[t.key]!);
    out[t.key] = r;
    b.raw[`${phase} / ${t.key}`] = { ...r, samples: undefined };
    b.log(`  ${phase.padEnd(34)} ${t.key.padEnd(16)} p50 ${r.latency.p50.toFixed(3)} ms  p99 ${r.latency.p99.toFixed(3)} ms  ${Math.round(r.rps)} req/s${errorsOf(r) ? `  ${errorsOf(r)} errors` : ''}`);
  }
  return out;
}

export interface StreamResult {
  paced: StreamPhase;
  burst: StreamPhase;
}

export interface NamedRunner {
  key: string;
  target: TargetName;
  runner: StreamRunner;
}

/** Paced and burst stream phases against each runner, interleaved in rounds (3; 1 in a quick run). */
export async function streamPhase(b: Bench, phase: string, runners: NamedRunner[]): Promise<Record<string, StreamResult>> {
  const { opts } = b;
  const rounds = opts.quick ? 1 : 3;
  const parts = await interleaved<{ paced: StreamSample[]; burst: StreamSample[]; wallS: number }>(
    b,
    phase,
    runners.map((r) => ({
      key: r.key,
      target: r.target,
      warm: () => burstStreams(r.runner, 3, 1),
      round: async (d) => {
        const t0 = performance.now();
        const paced = await pacedStreams(r.runner, opts.streamRate, d);
        const burst = await burstStreams(r.runner, opts.burstSize, Math.max(1, Math.round(opts.bursts / rounds)));
        return { paced, burst, wallS: (performance.now() - t0) / 1000 };
      },
      requests: (p) => p.paced.length + p.burst.length,
    })),
    rounds,
    opts.durationS,
  );
  const out: Record<string, StreamResult> = {};
  for (const r of runners) {
    const p = parts[r.key]!;
    const wallS = p.reduce((a, x) => a + x.wallS, 0);
    const res = { paced: summarizeStreams(p.flatMap((x) => x.paced), wallS), burst: summarizeStreams(p.flatMap((x) => x.burst), wallS) };
    out[r.key] = res;
    b.raw[`${phase} / ${r.key}`] = res;
    const errs = res.paced.errors + res.burst.errors;
    b.log(
      `  ${phase.padEnd(34)} ${r.key.padEnd(16)} TTFT p50 ${res.paced.ttft.p50.toFixed(3)} ms  p99 ${res.paced.ttft.p99.toFixed(3)} ms` +
        `  | bursts of ${opts.burstSize}: p50 ${res.burst.ttft.p50.toFixed(3)} p99 ${res.burst.ttft.p99.toFixed(3)}${errs ? `  ${errs} errors: ${[...res.paced.firstErrors, ...res.burst.firstErrors].join('; ')}` : ''}`,
    );
  }
  return out;
}

/** Opens the runners, hands them to `fn`, and closes them whatever happens. */
export async function withRunners<T>(make: () => Promise<NamedRunner[]>, fn: (r: NamedRunner[]) => Promise<T>): Promise<T> {
  const runners = await make();
  try {
    return await fn(runners);
  } finally {
    await Promise.all(runners.map((r) => r.runner.close()));
  }
}

/** Preflight check of a chat.completion answer. */
export const okJson = (status: number, _h: Record<string, unknown>, text: string) => {
  if (status !== 200) return `expected 200`;
  const j = JSON.parse(text) as { choices?: unknown[] };
  return j.choices?.length ? undefined : 'no choices in the reply';
};

/** `okJson`, and the response header `name` must be `value`. */
export const okJsonWithHeader = (name: string, value: string) => (status: number, h: Record<string, unknown>, text: string) =>
  okJson(status, h, text) ?? (h[name] === value ? undefined : `expected ${name}: ${value}, got ${String(h[name])}`);

/**
 * Once, before the first scenario: a few seconds of closed-loop traffic through the bare proxy and the gateway
 * (REST, GraphQL, streams) so that the first measured phase does not pay for the JIT warming up.
 */
export async function warmUp(b: Bench): Promise<void> {
  const { opts, servers: s } = b;
  const seconds = opts.quick ? 0.2 : 2;
  b.log(`warm-up (${seconds} s per path)`);
  for (const t of [restTarget(s, 'bare'), restTarget(s, 'gateway'), graphqlTarget(s)]) await load(t, { connections: opts.connections, durationS: seconds });
  const runner = restStreams(s, 'gateway');
  try {
    await burstStreams(runner, opts.quick ? 5 : 50, 1);
  } finally {
    await runner.close();
  }
}
