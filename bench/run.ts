/**
 * The benchmark harness (`npm run bench`; see BENCHMARKS.md for the method and the bar).
 *
 *   npm run bench -- [--duration 10] [--connections 20] [--rate 200] [--quick] [--scenarios a,b,c]
 *                    [--streams 1000] [--stream-rate 10] [--soak 30] [--workers 2] [--from dist|src] [--profile]
 *
 * Starts, each in its own process on 127.0.0.1: an instant OpenAI-protocol upstream mock, a bare Node reverse
 * proxy in front of it (the floor), and the gateway with a generated config pointing at the mock; then runs
 * the selected scenarios (bench/scenarios/), each against direct-to-mock, the bare proxy and the gateway
 * where that makes sense, the gateway's cost reported as the difference to direct at the same percentile and
 * rate. Writes bench/results/<time>.json/.md and latest.json/.md and prints the table. Every child is stopped
 * at the end, also on error or a signal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseBenchOptions, usage, UsageError, type BenchOptions } from './lib/options.ts';
import { guardSummary } from './lib/guard.ts';
import type { Bench } from './lib/phases.ts';
import { warmUp } from './lib/phases.ts';
import { killAllNow, otherLoad, stopAll, stopChild } from './lib/procs.ts';
import { summarizeProfile, type ProfileSummary } from './lib/profile.ts';
import type { ResourceRow } from './lib/report.ts';
import { runStart, writeReport } from './lib/run-report.ts';
import { clearStageFiles, stageReport } from './lib/stage-report.ts';
import { RESULTS, ROOT, startServers } from './lib/servers.ts';
import { sleep } from './lib/stats.ts';
import { SCENARIOS } from './scenarios/index.ts';

const NAMES = SCENARIOS.map((s) => s.name);

function options(): BenchOptions {
  try {
    const opts = parseBenchOptions(process.argv.slice(2), NAMES);
    if (opts) return opts;
    process.stdout.write(`${usage(NAMES)}\n`);
    process.exit(0);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${usage(NAMES)}\n`);
    process.exit(2);
  }
}
const opts = options();

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
const watchdogS = (opts.quick ? 180 : 120 + opts.durationS * 45) + opts.waitQuietS + opts.soakS * 1.5;
const watchdog = setTimeout(() => {
  process.stderr.write(`\nbench: still running after ${watchdogS} s; giving up\n`);
  void stopAll(2_000).finally(() => process.exit(1));
}, watchdogS * 1000);
watchdog.unref();

const T0 = performance.now();
const log = (msg: string) => process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);

/** With --wait-quiet: wait (bounded) until other processes use less than 0.3 cores. */
async function waitQuiet(): Promise<void> {
  const until = performance.now() + opts.waitQuietS * 1000;
  for (;;) {
    const w = otherLoad(() => []);
    await sleep(2_000);
    const busy = w.end();
    if (busy < 0.3) return;
    if (performance.now() > until) {
      log(`  other processes still use ${busy.toFixed(2)} cores after ${opts.waitQuietS} s: starting anyway`);
      return;
    }
    log(`  waiting for a quieter machine: other processes use ${busy.toFixed(2)} cores`);
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
  const start = runStart();
  log(`bench: ${opts.quick ? 'quick' : 'full'} run, scenarios ${opts.scenarios.join(', ')}`);
  if (opts.waitQuietS > 0) await waitQuiet();
  if (opts.from === 'dist') {
    // The gateway runs from the bundle (dist/gateway/), which is built from the sources: tsc's output is not needed.
    log('bundling dist/gateway/ (scripts/bundle.ts) to run the gateway from it');
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.ts')], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
  }
  mkdirSync(RESULTS, { recursive: true });
  if (opts.stages) clearStageFiles(RESULTS);
  const s = await startServers(opts, start.stamp);
  log(`  mock :${s.mock.port} (pid ${s.mock.pid})  bare proxy :${s.bare.port} (pid ${s.bare.pid})  gateway :${s.gateway.port} (pid ${s.gateway.pid})${opts.profile ? '  [--cpu-prof]' : ''}`);
  const b: Bench = { opts, log, servers: s, rows: [], resources: [], raw: {} };
  let workloadAtMs = 0;
  try {
    await sleep(opts.quick ? 300 : 1_000);
    workloadAtMs = performance.now() - s.gatewaySpawnedAt;
    const idle = s.samplers.gateway.rssMiB();
    b.rows.push({ scenario: 'Process', measure: 'RSS idle after start', unit: 'MiB', bare: s.samplers.bare.rssMiB(), gateway: idle, bar: '≤ 70 MiB', meets: idle <= 70 });
    await warmUp(b);
    for (const name of opts.scenarios) await SCENARIOS.find((sc) => sc.name === name)!.run(b);
    await sleep(opts.quick ? 300 : 2_000);
    b.rows.push({ scenario: 'Process', measure: 'RSS idle after the run', unit: 'MiB', bare: s.samplers.bare.rssMiB(), gateway: s.samplers.gateway.rssMiB() });
    const peak = (p: ResourceRow['process']) => Math.max(...b.resources.filter((r) => r.process === p).map((r) => r.rssPeakMiB), 0);
    b.rows.push({ scenario: 'Process', measure: 'RSS peak over the run', unit: 'MiB', bare: peak('bare proxy'), gateway: Math.max(peak('gateway'), idle) });
  } finally {
    for (const smp of Object.values(s.samplers)) smp.stop();
    // The gateway first and gracefully: with --cpu-prof it writes its profile on exit.
    await stopChild(s.gateway, 15_000);
    await stopAll();
  }
  let profile: ProfileSummary | undefined;
  if (s.profileDir) {
    const file = latestProfile(s.profileDir);
    if (file) {
      // Leave out the gateway's start-up (module loading, schema build): the profile is of serving.
      profile = summarizeProfile(file, ROOT, 25, Math.max(0, workloadAtMs - 200));
      profile.file = relative(ROOT, file);
    } else log(`no .cpuprofile found in ${s.profileDir}`);
  }
  const { md, files } = writeReport(b, start, profile);
  process.stdout.write(`\n${md}\n`);
  process.stdout.write(`\n${guardSummary(b.rows)}\n\n`);
  if (opts.stages) {
    const stages = stageReport(RESULTS, ['bare-proxy', 'gateway']);
    writeFileSync(join(RESULTS, `${start.stamp}-stages.md`), `${stages}\n`);
    process.stdout.write(`${stages}\n\n`);
  }
  log(`wrote ${files.join(', ')} (${((Date.now() - start.date.getTime()) / 1000).toFixed(0)} s)`);
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
