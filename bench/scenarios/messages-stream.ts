/**
 * The Anthropic Messages API inbound (`POST /v1/messages`, streamed): time to first token through the
 * gateway, which translates it to the upstream mock's OpenAI stream and back, against the REST baselines.
 */
import { ANTHROPIC_SSE, restStreamRunner } from '../lib/clients.ts';
import { streamPhase, withRunners } from '../lib/phases.ts';
import { baselineRunners, ttftRows } from '../lib/ttft-rows.ts';
import type { Scenario } from './scenario.ts';

const BODY = JSON.stringify({ model: 'default', max_tokens: 256, stream: true, messages: [{ role: 'user', content: 'hi' }] });

export const messagesStream: Scenario = {
  name: 'messages-stream',
  async run(b) {
    b.log('Anthropic Messages API stream (/v1/messages)');
    const target = { name: 'gateway', origin: `http://127.0.0.1:${b.servers.gateway.port}`, path: '/v1/messages', body: BODY };
    const r = await withRunners(
      async () => [...baselineRunners(b), { key: 'gateway messages', target: 'gateway' as const, runner: restStreamRunner(target, undefined, undefined, ANTHROPIC_SSE) }],
      (runners) => streamPhase(b, '/v1/messages stream TTFT', runners),
    );
    ttftRows(b, '/v1/messages stream', r.direct!, r.bare!, r['gateway messages']!, 'REST bar; direct and bare = OpenAI SSE');
  },
};
