/** REST fallback: route `fallback`'s first target answers 503 and the second serves; added latency at 1 connection. */
import { preflight } from '../lib/clients.ts';
import { chatBody, errorsOf, latencyAt, loadPhase, okJsonWithHeader, REST_PATH, restTarget } from '../lib/phases.ts';
import type { Scenario } from './scenario.ts';

export const fallback: Scenario = {
  name: 'fallback',
  async run(b) {
    const { opts, servers: s } = b;
    b.log('Fallback after a 503 (gateway)');
    const fb = { name: 'gateway', origin: `http://127.0.0.1:${s.gateway.port}`, path: REST_PATH, body: chatBody('fallback') };
    await preflight(fb, okJsonWithHeader('x-switchboard-attempts', '2'));
    const r = await loadPhase(
      b,
      'REST fallback after 503 @1 conn',
      [
        { key: 'direct', target: 'direct', http: restTarget(s, 'direct') },
        { key: 'gateway fallback', target: 'gateway', http: fb },
      ],
      { connections: 1, rate: opts.rate },
    );
    const d = r.direct!;
    const g = r['gateway fallback']!;
    const scenario = 'REST fallback (503 → next target)';
    for (const p of ['p50', 'p99'] as const) {
      b.rows.push({ scenario, measure: `latency ${p} ${latencyAt(opts)}`, unit: 'ms', direct: d.latency[p], gateway: g.latency[p], addedGateway: g.latency[p] - d.latency[p] });
    }
    if (errorsOf(g) > 0) b.rows.push({ scenario, measure: 'errors', unit: 'count', gateway: errorsOf(g) });
  },
};
