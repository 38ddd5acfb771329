/**
 * The regression guard: every figure of a run that has a bare-proxy counterpart, as a ratio against it, plus the
 * idle RSS. CI prints it after its quick run so a reviewer sees a regression in every log. It is informational:
 * a quick run's phases last a fraction of a second on a shared machine, so no figure here fails the build.
 */
import type { Row } from './report.ts';

const fmt = (v: number, unit: string) => (unit === 'ms' ? `${v >= 0 ? '+' : ''}${v.toFixed(3)} ms` : `${Math.round(v).toLocaleString('en-US')} ${unit}`);

export function guardSummary(rows: readonly Row[]): string {
  const lines = ['Regression guard (gateway against the bare proxy of the same run; targets: BENCHMARKS.md "The bar")'];
  for (const r of rows) {
    const name = `${r.scenario} — ${r.measure}`;
    if (r.unit === 'MiB' && r.measure.startsWith('RSS idle after start') && r.gateway !== undefined) {
      lines.push(`  ${name}: gateway ${r.gateway.toFixed(1)} MiB, bare proxy ${r.bare?.toFixed(1) ?? '–'} MiB${r.bar ? ` (bar ${r.bar})` : ''}`);
    } else if (r.unit === 'ms' && r.addedGateway !== undefined && r.addedBare !== undefined) {
      const ratio = r.addedBare > 0 ? ` = ×${(r.addedGateway / r.addedBare).toFixed(2)} the bare proxy's` : '';
      lines.push(`  ${name}: added by gateway ${fmt(r.addedGateway, 'ms')}, by bare proxy ${fmt(r.addedBare, 'ms')}${ratio}`);
    } else if (r.unit === 'req/s' && r.gateway !== undefined && r.bare !== undefined && r.bare > 0) {
      lines.push(`  ${name}: gateway ${fmt(r.gateway, 'req/s')} = ${Math.round((100 * r.gateway) / r.bare)}% of the bare proxy's ${fmt(r.bare, 'req/s')}`);
    } else if (r.unit === 'MiB' && r.measure.startsWith('RSS peak') && r.gateway !== undefined && r.bare !== undefined) {
      lines.push(`  ${name}: gateway ${r.gateway.toFixed(1)} MiB, bare proxy ${r.bare.toFixed(1)} MiB`);
    }
  }
  return lines.join('\n');
}
