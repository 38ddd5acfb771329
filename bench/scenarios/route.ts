/** The route decision (`planRoute` over 20 targets), timed in a process of its own (bench/route-microbench.ts). */
import { execFileSync } from 'node:child_process';
import { ROOT } from '../lib/servers.ts';
import type { Scenario } from './scenario.ts';

export const route: Scenario = {
  name: 'route',
  async run(b) {
    b.log('Route decision (planRoute, 20 targets)');
    const it = b.opts.quick ? 2_000 : 20_000;
    const batches = b.opts.quick ? 5 : 15;
    const out = execFileSync(process.execPath, ['bench/route-microbench.ts', '--iterations', String(it), '--batches', String(batches)], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const r = JSON.parse(out) as { medianNs: number; minNs: number; maxNs: number; iterations: number; candidates: number };
    b.raw['route decision'] = r;
    const us = (ns: number) => (ns / 1000).toFixed(2);
    b.log(`  median ${us(r.medianNs)} µs over ${r.iterations} decisions (min ${us(r.minNs)}, max ${us(r.maxNs)} µs per batch)`);
    b.rows.push({
      scenario: 'Route decision',
      measure: `planRoute, 20 targets (median of ${batches} batches × ${it})`,
      unit: 'µs',
      gateway: r.medianNs / 1000,
      note: `batch range ${us(r.minNs)}–${us(r.maxNs)} µs`,
    });
  },
};
