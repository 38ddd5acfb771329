/** REST chat.completion: added latency at 1 connection, and throughput at `--connections` (saturation). */
import { preflight } from '../lib/clients.ts';
import { errorsOf, latencyAt, loadPhase, okJson, peakOf, restTarget } from '../lib/phases.ts';
import type { Scenario } from './scenario.ts';

export const rest: Scenario = {
  name: 'rest',
  async run(b) {
    const { opts, servers: s } = b;
    b.log('REST non-streaming');
    const targets = (['direct', 'bare', 'gateway'] as const).map((n) => ({ key: n, target: n, http: restTarget(s, n) }));
    for (const t of targets) await preflight(t.http, okJson);
    const lat = await loadPhase(b, 'REST latency @1 conn', targets, { connections: 1, rate: opts.rate });
    const tpPhase = `REST throughput @${opts.connections} conns`;
    const tp = await loadPhase(b, tpPhase, targets, { connections: opts.connections });
    for (const [p, bar] of [['p50', 0.3], ['p99', 1.0]] as const) {
      const added = lat.gateway!.latency[p] - lat.direct!.latency[p];
      b.rows.push({
        scenario: 'REST chat.completion',
        measure: `latency ${p} ${latencyAt(opts)}`,
        unit: 'ms',
        direct: lat.direct!.latency[p],
        bare: lat.bare!.latency[p],
        gateway: lat.gateway!.latency[p],
        addedBare: lat.bare!.latency[p] - lat.direct!.latency[p],
        addedGateway: added,
        bar: `added ≤ ${bar} ms`,
        meets: added <= bar,
      });
    }
    const ratio = tp.gateway!.rps / tp.bare!.rps;
    const errors = [...Object.values(tp), ...Object.values(lat)].reduce((a, r) => a + errorsOf(r), 0);
    b.rows.push({
      scenario: 'REST chat.completion',
      measure: `throughput @${opts.connections} conns (saturation)`,
      unit: 'req/s',
      direct: tp.direct!.rps,
      bare: tp.bare!.rps,
      gateway: tp.gateway!.rps,
      bar: '≥ 60% of bare proxy',
      meets: ratio >= 0.6,
      note: `${(100 * ratio).toFixed(0)}% of bare${errors ? `; ${errors} errors` : ''}`,
    });
    b.rows.push({ scenario: 'REST chat.completion', measure: `RSS peak @${opts.connections} conns`, unit: 'MiB', bare: peakOf(b, 'bare proxy', tpPhase), gateway: peakOf(b, 'gateway', tpPhase) });
  },
};
