/** Throughput at `--connections` of the gateway with 1 worker (the main one) and with SWITCHBOARD_WORKERS=N (`--workers`). */
import { cpus } from 'node:os';
import { halfPhase, loadPhase, restTarget } from '../lib/phases.ts';
import { startExtra, stopExtra } from '../lib/servers.ts';
import type { Scenario } from './scenario.ts';

export const scaling: Scenario = {
  name: 'scaling',
  async run(b) {
    const { opts, servers: s } = b;
    b.log(`Scaling: 1 vs ${opts.workers} workers (SWITCHBOARD_WORKERS)`);
    await startExtra(s, opts, { name: 'gateway-workers', process: 'gateway (2 workers)', env: { SWITCHBOARD_WORKERS: String(opts.workers) } });
    try {
      const nKey = `gateway ${opts.workers} workers`;
      const r = await loadPhase(
        b,
        `Scaling @${opts.connections} conns`,
        [
          { key: 'bare', target: 'bare', http: restTarget(s, 'bare') },
          { key: 'gateway 1 worker', target: 'gateway', http: restTarget(s, 'gateway') },
          { key: nKey, target: 'extra', http: restTarget(s, 'extra') },
        ],
        { connections: opts.connections },
        halfPhase(opts, 2),
      );
      const one = r['gateway 1 worker']!;
      const n = r[nKey]!;
      const bare = r.bare!;
      b.rows.push({
        scenario: 'Scaling (SWITCHBOARD_WORKERS)',
        measure: `throughput @${opts.connections} conns, 1 → ${opts.workers} workers`,
        unit: 'req/s',
        bare: bare.rps,
        gateway: n.rps,
        note:
          `1 worker ${Math.round(one.rps).toLocaleString('en-US')} req/s → ${opts.workers} workers ×${(n.rps / one.rps).toFixed(2)} ` +
          `(${Math.round((100 * n.rps) / bare.rps)}% of bare; ${cpus().length} cores shared with the load generator and the mock)`,
      });
    } finally {
      await stopExtra(s);
    }
  },
};
