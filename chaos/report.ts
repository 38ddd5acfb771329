/**
 * The chaos run's report: a table per case on stdout and the whole result as JSON in
 * bench/results/chaos-<timestamp>.json (git-ignored with the rest of bench/results/).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURE_CATEGORIES, type CaseResult } from './lib/tally.ts';

/** RSS growth after settling above which a full run fails (a short run reports it only). */
export const RSS_GROWTH_LIMIT_PCT = 10;

export interface RunReport {
  mode: 'short' | 'full';
  startedAt: string;
  durationS: number;
  node: string;
  cores: number;
  passed: boolean;
  /** Why the run failed, one line per case and category. */
  failures: string[];
  cases: CaseResult[];
}

/** Whether a case fails the run: any failure category, or (full mode) RSS growth past the limit after settling. */
export function caseFailures(c: CaseResult, mode: 'short' | 'full'): string[] {
  const out = FAILURE_CATEGORIES.filter((k) => c.failures[k] > 0).map((k) => `${c.name}: ${k} ×${c.failures[k]}`);
  if (mode === 'full' && c.rss && c.rss.growthPct > RSS_GROWTH_LIMIT_PCT) out.push(`${c.name}: RSS grew ${c.rss.growthPct}% (limit ${RSS_GROWTH_LIMIT_PCT}%)`);
  return out;
}

export function buildReport(cases: CaseResult[], mode: 'short' | 'full', startedAt: Date, cores: number): RunReport {
  const failures = cases.flatMap((c) => caseFailures(c, mode));
  return {
    mode,
    startedAt: startedAt.toISOString(),
    durationS: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    node: process.version,
    cores,
    passed: failures.length === 0,
    failures,
    cases,
  };
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

export function formatTable(r: RunReport): string {
  const head = ['case', 'probes', 'time s', 'crash', '5xx', 'shape', 'trunc', 'usage lost', 'other', 'RSS MiB before→after (peak)', 'growth'];
  const rows = r.cases.map((c) => [
    c.name,
    String(c.probes),
    (c.durationMs / 1000).toFixed(1),
    String(c.failures.crash),
    String(c.failures.unexpected5xx),
    String(c.failures.wrongShape),
    String(c.failures.silentTruncation),
    c.usageEventsLost === null ? '-' : String(c.usageEventsLost),
    String(c.failures.other),
    c.rss ? `${c.rss.beforeMiB.toFixed(0)}→${c.rss.afterMiB.toFixed(0)} (${c.rss.peakMiB.toFixed(0)})` : '-',
    c.rss ? `${c.rss.growthPct > 0 ? '+' : ''}${c.rss.growthPct.toFixed(1)}%` : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? pad(c, widths[i]!) : lpad(c, widths[i]!))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  for (const c of r.cases) {
    const ex = Object.entries(c.examples).flatMap(([k, list]) => (list ?? []).map((e) => `    [${k}] ${e}`));
    if (ex.length > 0) out.push('', `  ${c.name}:`, ...ex);
  }
  out.push('', `${r.passed ? 'PASS' : 'FAIL'}: ${r.cases.length} cases, ${r.mode} run, ${r.durationS} s${r.passed ? '' : `\n  ${r.failures.join('\n  ')}`}`);
  return out.join('\n');
}

export function writeReport(r: RunReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-');
  const file = join(dir, `chaos-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
