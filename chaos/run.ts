/**
 * The chaos suite (`npm run chaos`): hostile input and faults against a real gateway process on loopback,
 * judged per case. See README "Chaos suite".
 *
 *   npm run chaos -- [--short] [--cases a,b] [--list]
 *
 * --short runs every case in its bounded form (a few seconds of Redis outage instead of 20, fewer
 * connections) and fails on the same findings except RSS growth, which only a full run fails on.
 * Writes bench/results/chaos-<timestamp>.json and prints the table; exits 1 when a case failed, 2 on a
 * usage error. Every child process is stopped at the end, also on error, a signal or the watchdog.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { killAllNow, stopAll } from '../bench/lib/procs.ts';
import { CASES } from './cases/index.ts';
import { RESULTS } from './lib/gateway.ts';
import { runSuite } from './lib/suite.ts';
import { buildReport, formatTable, writeReport } from './report.ts';

const USAGE = `usage: npm run chaos -- [--short] [--cases a,b] [--list]
  --short      the bounded form of every case (CI; under ~90 s on 2 cores)
  --cases a,b  a subset of: ${CASES.map((c) => c.name).join(', ')}
  --list       list the cases and exit`;

function options(): { short: boolean; names: string[] } {
  let values;
  try {
    ({ values } = parseArgs({ options: { short: { type: 'boolean', default: false }, cases: { type: 'string' }, list: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.list) {
    for (const c of CASES) process.stdout.write(`${c.name.padEnd(18)} ${c.group.padEnd(16)} ${c.summary}\n`);
    process.exit(0);
  }
  const names = values.cases ? values.cases.split(',').map((s) => s.trim()).filter(Boolean) : CASES.map((c) => c.name);
  const unknown = names.filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown case(s): ${unknown.join(', ')}\n\n${USAGE}\n`);
    process.exit(2);
  }
  return { short: values.short, names };
}

const opts = options();
const T0 = performance.now();
const log = (msg: string) => process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)} s] ${msg}\n`);

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping child processes\n`);
    void stopAll(2_000).finally(() => process.exit(130));
  });
}
const cases = CASES.filter((c) => opts.names.includes(c.name));
// The run is bounded whatever a case does: its budgets plus start-up and settling.
const watchdogMs = cases.reduce((a, c) => a + c.budgetMs(opts.short) + (opts.short ? 10_000 : 40_000), 60_000);
const watchdog = setTimeout(() => {
  process.stderr.write(`\nchaos: still running after ${Math.round(watchdogMs / 1000)} s; giving up\n`);
  void stopAll(2_000).finally(() => process.exit(1));
}, watchdogMs);
watchdog.unref();

const startedAt = new Date();
try {
  log(`chaos: ${opts.short ? 'short' : 'full'} run of ${cases.length} cases`);
  const results = await runSuite(cases, { short: opts.short, log });
  const report = buildReport(results, opts.short ? 'short' : 'full', startedAt, availableParallelism());
  const file = writeReport(report, RESULTS);
  process.stdout.write(`\n${formatTable(report)}\n`);
  log(`wrote ${file}`);
  process.exitCode = report.passed ? 0 : 1;
} catch (err) {
  process.stderr.write(`\nchaos failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
  await stopAll(2_000);
}
