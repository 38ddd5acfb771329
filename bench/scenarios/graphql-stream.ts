/** GraphQL `completionStream` over graphql-ws: time to first token, judged against the REST baselines. */
import { graphqlStreamRunner } from '../lib/clients.ts';
import { streamPhase, withRunners } from '../lib/phases.ts';
import { baselineRunners, ttftRows } from '../lib/ttft-rows.ts';
import type { Scenario } from './scenario.ts';

export const graphqlStream: Scenario = {
  name: 'graphql-stream',
  async run(b) {
    b.log('GraphQL completionStream (graphql-ws)');
    const r = await withRunners(
      async () => [...baselineRunners(b), { key: 'gateway graphql', target: 'gateway' as const, runner: await graphqlStreamRunner(`ws://127.0.0.1:${b.servers.gateway.port}/graphql`) }],
      (runners) => streamPhase(b, 'GraphQL completionStream TTFT', runners),
    );
    ttftRows(b, 'GraphQL completionStream', r.direct!, r.bare!, r['gateway graphql']!, 'REST bar; direct and bare = REST SSE');
  },
};
