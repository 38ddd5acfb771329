import { describe, expect, it } from 'vitest';
import { guardSummary } from '../../bench/lib/guard.ts';
import type { Row } from '../../bench/lib/report.ts';

describe('the benchmark regression guard', () => {
  it('states the idle RSS and every figure that has a bare-proxy counterpart as a ratio against it', () => {
    const rows: Row[] = [
      { scenario: 'Process', measure: 'RSS idle after start', unit: 'MiB', bare: 89.6, gateway: 77.2, bar: '≤ 70 MiB', meets: false },
      { scenario: 'REST chat.completion', measure: 'latency p50 @1 conn, 200 req/s', unit: 'ms', direct: 0.06, bare: 0.36, gateway: 0.46, addedBare: 0.3, addedGateway: 0.4 },
      { scenario: 'REST chat.completion', measure: 'throughput @20 conns (saturation)', unit: 'req/s', bare: 10_000, gateway: 6_500 },
      { scenario: 'GraphQL createCompletion', measure: 'latency p50 @1 conn, 200 req/s', unit: 'ms', direct: 0.07, gateway: 0.6, addedGateway: 0.53 },
    ];
    const out = guardSummary(rows).split('\n');
    expect(out[1]).toBe('  Process — RSS idle after start: gateway 77.2 MiB, bare proxy 89.6 MiB (bar ≤ 70 MiB)');
    expect(out[2]).toBe('  REST chat.completion — latency p50 @1 conn, 200 req/s: added by gateway +0.400 ms, by bare proxy +0.300 ms = ×1.33 the bare proxy\'s');
    expect(out[3]).toBe('  REST chat.completion — throughput @20 conns (saturation): gateway 6,500 req/s = 65% of the bare proxy\'s 10,000 req/s');
    // No bare-proxy figure: nothing to compare with.
    expect(out).toHaveLength(4);
  });
});
