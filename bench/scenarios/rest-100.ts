/** REST chat.completion at 100 connections, on freshly started proxies: throughput and the RSS it costs. */
import { errorsOf, halfPhase, loadPhase, peakOf, restTarget } from '../lib/phases.ts';
import { freshProxies } from '../lib/servers.ts';
import type { Scenario } from './scenario.ts';

export const rest100: Scenario = {
  name: 'rest-100',
  async run(b) {
    const { opts, servers: s } = b;
    b.log('REST non-streaming at 100 connections (memory)');
    await freshProxies(s, opts, b.log, 'RSS at 100 connections');
    const phase = 'REST throughput @100 conns';
    const targets = (['bare', 'gateway'] as const).map((n) => ({ key: n, target: n, http: restTarget(s, n) }));
    const r = await loadPhase(b, phase, targets, { connections: 100 }, halfPhase(opts, 1));
    const errors = errorsOf(r.gateway!);
    b.rows.push({
      scenario: 'REST chat.completion',
      measure: 'throughput @100 conns',
      unit: 'req/s',
      bare: r.bare!.rps,
      gateway: r.gateway!.rps,
      note: `${((100 * r.gateway!.rps) / r.bare!.rps).toFixed(0)}% of bare${errors ? `; ${errors} errors` : ''}`,
    });
    const peak = peakOf(b, 'gateway', phase)!;
    b.rows.push({ scenario: 'REST chat.completion', measure: 'RSS peak @100 conns', unit: 'MiB', bare: peakOf(b, 'bare proxy', phase), gateway: peak, bar: '≤ 150 MiB', meets: peak <= 150 });
  },
};
