/** Rows of the results table and their markdown. */

export type Unit = 'ms' | 'req/s' | 'MiB' | 'MiB/min' | 'µs' | 'count';

export interface Row {
  scenario: string;
  measure: string;
  unit: Unit;
  direct?: number | undefined;
  bare?: number | undefined;
  gateway?: number | undefined;
  /** bare − direct at the same percentile and rate. */
  addedBare?: number | undefined;
  /** gateway − direct at the same percentile and rate. */
  addedGateway?: number | undefined;
  bar?: string | undefined;
  /** undefined: no bar for this figure. */
  meets?: boolean | undefined;
  /** Free text, e.g. "not yet implemented". */
  note?: string | undefined;
}

export interface ResourceRow {
  phase: string;
  process: 'gateway' | 'bare proxy' | 'upstream mock' | 'gateway (Redis store)' | 'gateway (2 workers)';
  /** Which workload, when a process serves several in one phase (e.g. gateway REST and GraphQL). */
  target?: string;
  wallS: number;
  requests: number;
  rssStartMiB: number;
  rssPeakMiB: number;
  cpuS: number;
  /** Cores kept busy by processes other than the harness's during the phase (a shared machine's noise). */
  otherCores?: number;
}

function num(v: number | undefined, unit: Unit, signed = false): string {
  if (v === undefined || Number.isNaN(v)) return '–';
  const sign = signed && v >= 0 ? '+' : '';
  switch (unit) {
    case 'ms':
      return `${sign}${Math.abs(v) < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;
    case 'µs':
      return `${sign}${v.toFixed(2)} µs`;
    case 'req/s':
      return `${sign}${Math.round(v).toLocaleString('en-US')} req/s`;
    case 'MiB':
      return `${sign}${v.toFixed(1)} MiB`;
    case 'MiB/min':
      return `${v >= 0 ? '+' : ''}${v.toFixed(2)} MiB/min`;
    case 'count':
      return `${sign}${v}`;
  }
}

export function verdict(r: Row): string {
  if (r.note && r.meets === undefined && r.gateway === undefined) return r.note;
  if (r.meets === undefined) return r.note ?? '';
  return `${r.meets ? '✅ meets' : '❌ misses'}${r.note ? ` (${r.note})` : ''}`;
}

export function resultsTable(rows: readonly Row[]): string {
  const out = [
    '| Scenario | Measure | Direct | Bare proxy | Gateway | Added by bare proxy | Added by gateway | Bar | Result |',
    '|---|---|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.scenario} | ${r.measure} | ${num(r.direct, r.unit)} | ${num(r.bare, r.unit)} | ${num(r.gateway, r.unit)} | ${num(r.addedBare, r.unit, true)} | ${num(r.addedGateway, r.unit, true)} | ${r.bar ?? ''} | ${verdict(r)} |`,
    );
  }
  return out.join('\n');
}

export function resourceTable(rows: readonly ResourceRow[]): string {
  const out = [
    '| Phase | Workload | Process | Wall s | Requests | RSS start MiB | RSS peak MiB | CPU s | CPU ms / request | Other load (cores) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const perReq = r.requests > 0 ? ((1000 * r.cpuS) / r.requests).toFixed(3) : '–';
    out.push(
      `| ${r.phase} | ${r.target ?? ''} | ${r.process} | ${r.wallS.toFixed(1)} | ${r.requests} | ${r.rssStartMiB.toFixed(1)} | ${r.rssPeakMiB.toFixed(1)} | ${r.cpuS.toFixed(2)} | ${perReq} | ${r.otherCores === undefined ? '–' : r.otherCores.toFixed(2)} |`,
    );
  }
  return out.join('\n');
}
