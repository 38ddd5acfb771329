/** REST streaming: time to first token, paced and in bursts, against direct and the bare proxy. */
import { restStreams, streamPhase, withRunners } from '../lib/phases.ts';
import { baselineRunners, ttftRows } from '../lib/ttft-rows.ts';
import type { Scenario } from './scenario.ts';

export const stream: Scenario = {
  name: 'stream',
  async run(b) {
    b.log('REST streaming');
    const r = await withRunners(
      async () => [...baselineRunners(b), { key: 'gateway', target: 'gateway' as const, runner: restStreams(b.servers, 'gateway') }],
      (runners) => streamPhase(b, 'REST stream TTFT', runners),
    );
    ttftRows(b, 'REST stream', r.direct!, r.bare!, r.gateway!);
  },
};
