/**
 * A run's report: the environment and options, the results table, the resources per phase and the profile,
 * as markdown and JSON, written to bench/results/<stamp>.{md,json} and latest.{md,json}. BENCHMARKS.md is
 * not touched: it is written by hand from these.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Bench } from './phases.ts';
import { readStealSeconds } from './procs.ts';
import { profileMarkdown, type ProfileSummary } from './profile.ts';
import { resourceTable, resultsTable } from './report.ts';
import { LAUNCHER_ENV, LAUNCHER_FLAGS, RESULTS, ROOT } from './servers.ts';

/** What the run's header needs from its start: taken before anything is measured. */
export interface RunStart {
  date: Date;
  /** File-name form of the start time: 2026-12-02T18-18-00. */
  stamp: string;
  loadAvg: number;
  stealS: number;
  stealAt: number;
}

export function runStart(): RunStart {
  const date = new Date();
  return { date, stamp: date.toISOString().replace(/[:.]/g, '-').slice(0, 19), loadAvg: loadavg()[0]!, stealS: readStealSeconds(), stealAt: performance.now() };
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return `${sha}${changed ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** Writes the report files and returns the markdown and the paths written (relative to the repository). */
export function writeReport(b: Bench, start: RunStart, profile: ProfileSummary | undefined): { md: string; files: string[] } {
  const { opts, rows, resources, raw } = b;
  const nodeFlags = [...LAUNCHER_FLAGS, ...opts.nodeArgs];
  const upstreamStream = `${opts.mockChunks} chunks × ${opts.mockIntervalMs} ms`;
  const env = {
    date: start.date.toISOString(),
    node: process.version,
    commit: gitCommit(),
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    options: {
      quick: opts.quick,
      durationS: opts.durationS,
      connections: opts.connections,
      rate: opts.rate,
      streamRate: opts.streamRate,
      streams: opts.streams,
      soakS: opts.soakS,
      workers: opts.workers,
      bursts: `${opts.bursts}×${opts.burstSize}`,
      upstreamStream,
      profile: opts.profile,
      gatewayNodeArgs: nodeFlags,
      gatewayEnv: LAUNCHER_ENV,
      gatewayFrom: opts.from,
      scenarios: opts.scenarios,
    },
  };
  const wallS = (Date.now() - start.date.getTime()) / 1000;
  const heading = `## ${env.date.slice(0, 16).replace('T', ' ')} UTC — ${opts.quick ? 'quick' : 'full'} run${opts.profile ? ' (profiled: figures include profiler overhead)' : ''}${opts.warm ? ' (--warm: event loops kept turning between requests, a diagnostic)' : ''}`;
  const otherMax = Math.max(0, ...resources.map((r) => r.otherCores ?? 0));
  const busiest = resources.find((r) => r.otherCores === otherMax);
  // A virtual machine's host may take CPU from it (steal): it counts as other load, and is named apart.
  const stealCores = (readStealSeconds() - start.stealS) / ((performance.now() - start.stealAt) / 1000);
  const meta = [
    `Node ${env.node} · commit ${env.commit} · ${env.cores} cores (${env.cpu}) · run took ${wallS.toFixed(0)} s`,
    `Options: duration ${opts.durationS} s per phase, ${opts.connections} connections (saturation), ${opts.rate} req/s (latency, 1 connection), ` +
      `gateway run from ${opts.from === 'dist' ? 'the bundle (dist/gateway/)' : 'the .ts sources'}, paced streams ${opts.streamRate}/s, bursts ${opts.bursts}×${opts.burstSize}, ` +
      `${opts.streams} concurrent streams, upstream stream ${upstreamStream}${nodeFlags.length ? `, gateway Node flags ${nodeFlags.join(' ')}` : ''}${Object.keys(LAUNCHER_ENV).length ? ` (env ${Object.entries(LAUNCHER_ENV).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}${opts.floor === 'parse' ? '; **bare proxy column: the parsing floor** (bench/parsing-proxy.ts)' : ''}; scenarios: ${opts.scenarios.join(', ')}`,
    `Other processes on the machine: up to ${otherMax.toFixed(2)} cores busy during a phase${busiest && otherMax > 0 ? ` (${busiest.phase})` : ''}` +
      `${Number.isFinite(stealCores) ? `; hypervisor steal ${stealCores.toFixed(2)} cores on average over the run (included in the other load)` : ''}` +
      `; 1-min load average ${start.loadAvg.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end` +
      (otherMax > 0.25 ? ' — ⚠ the machine was shared during this run: treat the figures as noisy' : ''),
  ];
  const misses = rows.filter((r) => r.meets === false);
  const md = [
    heading,
    '',
    ...meta.map((m) => `${m}  `),
    '',
    resultsTable(rows),
    '',
    `Misses the bar: ${misses.length === 0 ? 'nothing' : misses.map((r) => `${r.scenario} — ${r.measure}`).join('; ')}.`,
    '',
    '<details><summary>Resources per phase (RSS sampled every 100 ms from /proc/&lt;pid&gt;/status; CPU = utime + stime)</summary>',
    '',
    resourceTable(resources),
    '',
    '</details>',
    ...(profile ? ['', profileMarkdown(profile)] : []),
    '',
  ].join('\n');
  const json = `${JSON.stringify({ env, rows, resources, raw, ...(profile && { profile }) }, null, 2)}\n`;
  const files: string[] = [];
  for (const name of [start.stamp, 'latest']) {
    writeFileSync(join(RESULTS, `${name}.json`), json);
    writeFileSync(join(RESULTS, `${name}.md`), md);
    files.push(`bench/results/${name}.json`, `bench/results/${name}.md`);
  }
  return { md, files };
}
