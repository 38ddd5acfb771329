/**
 * Route decision microbenchmark, in its own process (so the load generator's JIT state cannot skew it):
 * planRoute over 20 targets for a small ChatRequest, many iterations in batches; prints JSON with the
 * median, min and max ns per decision across batches.
 *
 *   node bench/route-microbench.ts [--iterations 20000] [--batches 15]
 */
import { parseArgs } from 'node:util';
import type { Capability, ChatRequest } from '../src/core/index.ts';
import { planRoute, type Target } from '../src/router/route-plan.ts';

const { values } = parseArgs({
  options: { iterations: { type: 'string', default: '20000' }, batches: { type: 'string', default: '15' } },
});
const ITERATIONS = Number(values.iterations);
const BATCHES = Number(values.batches);

const CAPS: Capability[][] = [
  ['tools', 'json_object', 'json_schema', 'vision', 'streaming'],
  ['tools', 'json_object', 'streaming'],
  ['streaming'],
  ['tools', 'json_schema', 'vision', 'streaming', 'prompt_caching', 'reasoning'],
];
const targets: Target[] = Array.from({ length: 20 }, (_, i) => ({
  provider: `provider-${i % 5}`,
  model: `model-${i}`,
  upstreamModel: `upstream-model-${i}`,
  capabilities: CAPS[i % CAPS.length]!,
  contextWindow: i % 7 === 0 ? 8_192 : 128_000,
  maxOutputTokens: i % 3 === 0 ? 4_096 : undefined,
  weight: 1,
}));
const req: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Summarize the plot of Hamlet in two sentences.' },
  ],
  maxOutputTokens: 256,
};

let sink = 0;
function batch(n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += planRoute('default', 1, targets, req).candidates.length;
  return Number(process.hrtime.bigint() - t0) / n;
}

batch(ITERATIONS); // warm-up: let the JIT settle
const perBatch: number[] = [];
for (let b = 0; b < BATCHES; b++) perBatch.push(batch(ITERATIONS));
const sorted = [...perBatch].sort((a, b) => a - b);
const plan = planRoute('default', 1, targets, req);
process.stdout.write(
  `${JSON.stringify({
    targets: targets.length,
    candidates: plan.candidates.length,
    excluded: plan.excluded.length,
    iterations: ITERATIONS * BATCHES,
    medianNs: sorted[Math.floor(sorted.length / 2)],
    minNs: sorted[0],
    maxNs: sorted[sorted.length - 1],
    sink,
  })}\n`,
);
