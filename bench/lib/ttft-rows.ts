/** The rows of a time-to-first-token comparison (REST and GraphQL streams share them and their bar). */
import type { Bench, NamedRunner, StreamResult } from './phases.ts';
import { restStreams } from './phases.ts';

/** REST streams straight to the mock and through the bare proxy: the baselines of every TTFT comparison. */
export const baselineRunners = (b: Bench): NamedRunner[] => (['direct', 'bare'] as const).map((n) => ({ key: n, target: n, runner: restStreams(b.servers, n) }));

export function ttftRows(b: Bench, scenario: string, d: StreamResult, bare: StreamResult, g: StreamResult, barNote?: string): void {
  const { opts, rows } = b;
  const paced = `paced ${opts.streamRate}/s, n=${g.paced.ok}`;
  const addedBareP99 = bare.paced.ttft.p99 - d.paced.ttft.p99;
  const gAdded50 = g.paced.ttft.p50 - d.paced.ttft.p50;
  const gAdded99 = g.paced.ttft.p99 - d.paced.ttft.p99;
  rows.push({
    scenario,
    measure: `TTFT p50 (${paced})`,
    unit: 'ms',
    direct: d.paced.ttft.p50,
    bare: bare.paced.ttft.p50,
    gateway: g.paced.ttft.p50,
    addedBare: bare.paced.ttft.p50 - d.paced.ttft.p50,
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
    bare: bare.paced.ttft.p99,
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
      bare: bare.burst.ttft[p],
      gateway: g.burst.ttft[p],
      addedBare: bare.burst.ttft[p] - d.burst.ttft[p],
      addedGateway: g.burst.ttft[p] - d.burst.ttft[p],
    });
  }
  const errs = g.paced.errors + g.burst.errors;
  if (errs > 0) rows.push({ scenario, measure: 'gateway stream errors', unit: 'count', gateway: errs, note: [...g.paced.firstErrors, ...g.burst.firstErrors].join('; ').slice(0, 200) });
}
