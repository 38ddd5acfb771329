/** The harness's command line: what `npm run bench -- …` accepts, checked, with the defaults of a full and a quick run. */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
  durationS: number;
  connections: number;
  rate: number;
  streamRate: number;
  streams: number;
  soakS: number;
  workers: number;
  from: 'dist' | 'src';
  warmupS: number;
  burstSize: number;
  bursts: number;
  mockChunks: number;
  mockIntervalMs: number;
  profile: boolean;
  /** Preload bench/stage-timer.ts into the bare proxy and the gateway and report where a request's time goes. */
  stages: boolean;
  /** Keep the measured process's event loop turning between requests (bench/keep-warm.ts): a diagnostic of the idle core's cost. */
  warm: boolean;
  nodeArgs: string[];
  waitQuietS: number;
  /** What stands in the bare proxy's place: the byte-copying proxy, or the parsing floor (bench/parsing-proxy.ts). */
  floor: 'bytes' | 'parse';
  scenarios: string[];
}

/** A bad option: the caller prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

export function usage(scenarioNames: readonly string[]): string {
  return `usage: npm run bench -- [options]
  --duration S       seconds per measured phase (default 10; --quick: 0.3)
  --connections N    connections of the saturation runs (default 20)
  --rate R           req/s of the 1-connection latency runs (default 200)
  --stream-rate R    streams started per second in the paced TTFT phase (default 20)
  --streams N        size of the concurrent-streams scenario (default 1000; --quick: 100)
  --soak S           seconds of the soak scenario (RSS slope under steady load; default 30; --quick: 2)
  --from dist|src    run the gateway from the bundle (dist/gateway/, bundled first by scripts/bundle.ts: what
                     production runs) or from the .ts sources (default: dist for full runs, src for --quick)
  --workers N        SWITCHBOARD_WORKERS of the scaling scenario's second gateway (default 2)
  --scenarios a,b    subset of: ${scenarioNames.join(', ')}
  --quick            smoke run of a few seconds (short streams: 8 chunks 5 ms apart)
  --profile          start the gateway with --cpu-prof and summarize the profile (figures then carry profiler overhead)
  --stages           time each request's stages in the bare proxy and the gateway (diagnostics channels) and report
                     them for the requests that had the process to themselves (figures then carry the timer's overhead)
  --warm             diagnostic: the bare proxy and the gateway keep their event loops turning from a request
                     until 100 ms after the last (bench/keep-warm.ts), so no request runs on a core that went idle
  --node-args="..."  Node flags for the gateway process after those of \`npm run start:dist\` (e.g. --node-args="--trace-gc --max-semi-space-size=4")
  --wait-quiet S     first wait up to S seconds for other processes to use < 0.3 cores (shared machines)
  --floor bytes|parse  the "bare proxy" column: the proxy that copies bytes (default), or the parsing floor
                     (bench/parsing-proxy.ts: parses and re-serializes every request, answer and stream chunk)
Results: bench/results/<time>.json and .md, and latest.json / latest.md (BENCHMARKS.md is edited by hand).
Environment: BENCH_REDIS_URL (default redis://127.0.0.1:6379) for the Redis cache-hit scenario.`;
}

function positive(name: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name}: expected a positive number, got "${raw}"`);
  return n;
}

/** `undefined` for `--help`; throws UsageError for anything it cannot take. */
export function parseBenchOptions(args: readonly string[], scenarioNames: readonly string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
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
        stages: { type: 'boolean', default: false },
        warm: { type: 'boolean', default: false },
        'node-args': { type: 'string' },
        'wait-quiet': { type: 'string' },
        floor: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const quick = values.quick;
  const from = values.from ?? (quick ? 'src' : 'dist');
  if (from !== 'dist' && from !== 'src') throw new UsageError(`--from: expected dist or src, got "${from}"`);
  const floor = values.floor ?? 'bytes';
  if (floor !== 'bytes' && floor !== 'parse') throw new UsageError(`--floor: expected bytes or parse, got "${floor}"`);
  const scenarios = values.scenarios === undefined ? [...scenarioNames] : values.scenarios.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = scenarios.find((s) => !scenarioNames.includes(s));
  if (unknown !== undefined) throw new UsageError(`--scenarios: unknown scenario "${unknown}"`);
  return {
    quick,
    durationS: positive('duration', values.duration, quick ? 0.3 : 10),
    connections: Math.round(positive('connections', values.connections, 20)),
    rate: positive('rate', values.rate, 200),
    streamRate: positive('stream-rate', values['stream-rate'], 20),
    streams: Math.round(positive('streams', values.streams, quick ? 100 : 1000)),
    soakS: positive('soak', values.soak, quick ? 2 : 30),
    workers: Math.max(2, Math.round(positive('workers', values.workers, 2))),
    from,
    warmupS: quick ? 0.1 : 1,
    burstSize: quick ? 5 : 50,
    bursts: quick ? 1 : 3,
    mockChunks: quick ? 8 : 64,
    mockIntervalMs: quick ? 5 : 20,
    profile: values.profile,
    stages: values.stages,
    warm: values.warm,
    nodeArgs: (values['node-args'] ?? '').split(/\s+/).filter(Boolean),
    waitQuietS: positive('wait-quiet', values['wait-quiet'], 0),
    floor,
    scenarios,
  };
}
