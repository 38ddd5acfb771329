/** GraphQL `createCompletion` over HTTP POST: added latency against REST to the mock, throughput against the bare proxy (REST). */
import { preflight } from '../lib/clients.ts';
import { errorsOf, graphqlTarget, latencyAt, loadPhase, restTarget } from '../lib/phases.ts';
import type { Scenario } from './scenario.ts';

const okGraphql = (status: number, _h: Record<string, unknown>, text: string) => {
  if (status !== 200) return 'expected 200';
  const j = JSON.parse(text) as { data?: { createCompletion?: { id?: string } }; errors?: Array<{ message: string }> };
  if (j.errors?.length) return `errors: ${j.errors.map((e) => e.message).join('; ')}`;
  return j.data?.createCompletion?.id ? undefined : 'no data.createCompletion.id';
};

export const graphql: Scenario = {
  name: 'graphql',
  async run(b) {
    const { opts, servers: s } = b;
    b.log('GraphQL createCompletion (HTTP POST)');
    const gql = graphqlTarget(s);
    await preflight(gql, okGraphql);
    const lat = await loadPhase(
      b,
      'GraphQL createCompletion @1 conn',
      [
        { key: 'direct', target: 'direct', http: restTarget(s, 'direct') },
        { key: 'gateway graphql', target: 'gateway', http: gql },
      ],
      { connections: 1, rate: opts.rate },
    );
    const tp = await loadPhase(
      b,
      `GraphQL createCompletion @${opts.connections} conns`,
      [
        { key: 'bare', target: 'bare', http: restTarget(s, 'bare') },
        { key: 'gateway graphql', target: 'gateway', http: gql },
      ],
      { connections: opts.connections },
    );
    const g = lat['gateway graphql']!;
    const d = lat.direct!;
    const added50 = g.latency.p50 - d.latency.p50;
    const scenario = 'GraphQL createCompletion';
    b.rows.push({ scenario, measure: `latency p50 ${latencyAt(opts)}`, unit: 'ms', direct: d.latency.p50, gateway: g.latency.p50, addedGateway: added50, bar: 'added ≤ 1 ms', meets: added50 <= 1, note: 'direct = REST to the mock' });
    b.rows.push({ scenario, measure: `latency p99 ${latencyAt(opts)}`, unit: 'ms', direct: d.latency.p99, gateway: g.latency.p99, addedGateway: g.latency.p99 - d.latency.p99 });
    const gtp = tp['gateway graphql']!;
    const errors = errorsOf(g) + errorsOf(gtp);
    b.rows.push({
      scenario,
      measure: `throughput @${opts.connections} conns`,
      unit: 'req/s',
      bare: tp.bare!.rps,
      gateway: gtp.rps,
      note: `${((100 * gtp.rps) / tp.bare!.rps).toFixed(0)}% of bare (REST)${errors ? `; ${errors} errors` : ''}`,
    });
  },
};
