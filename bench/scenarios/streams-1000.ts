/**
 * `--streams` (1,000) REST streams started at once on fresh connections, against direct, the bare proxy and the
 * gateway (both restarted first): TTFT, stream duration, errors and the RSS they cost.
 */
import { burstStreams, summarizeStreams, type StreamPhase, type StreamSample } from '../lib/clients.ts';
import { interleaved, peakOf, restStreams, withRunners, type Bench } from '../lib/phases.ts';
import { freshProxies } from '../lib/servers.ts';
import type { Scenario } from './scenario.ts';

async function measure(b: Bench, phase: string, n: number): Promise<Record<string, StreamPhase>> {
  return withRunners(
    async () => (['direct', 'bare', 'gateway'] as const).map((name) => ({ key: name, target: name, runner: restStreams(b.servers, name, n + 100) })),
    async (runners) => {
      const parts = await interleaved<{ samples: StreamSample[]; wallS: number }>(
        b,
        phase,
        runners.map((r) => ({
          key: r.key,
          target: r.target,
          warm: () => burstStreams(r.runner, 20, 1), // JIT; most measured streams still open fresh connections
          round: async () => {
            const t0 = performance.now();
            const samples = await burstStreams(r.runner, n, 1);
            return { samples, wallS: (performance.now() - t0) / 1000 };
          },
          requests: (p) => p.samples.length,
        })),
        1,
        0,
      );
      const out: Record<string, StreamPhase> = {};
      for (const r of runners) {
        const p = parts[r.key]![0]!;
        const sum = summarizeStreams(p.samples, p.wallS);
        out[r.key] = sum;
        b.raw[`${phase} / ${r.key}`] = sum;
        b.log(`  ${r.key.padEnd(8)} TTFT p50 ${sum.ttft.p50.toFixed(1)} ms  p99 ${sum.ttft.p99.toFixed(1)} ms  all done in ${sum.wallS.toFixed(2)} s  ${sum.errors} errors ${sum.firstErrors.join('; ')}`);
      }
      return out;
    },
  );
}

export const manyStreams: Scenario = {
  name: 'streams-1000',
  async run(b) {
    const { opts } = b;
    const n = opts.streams;
    b.log(`${n} concurrent streams`);
    await freshProxies(b.servers, opts, b.log, `RSS with ${n} streams`);
    const phase = `${n} concurrent streams`;
    const result = await measure(b, phase, n);
    const d = result.direct!;
    const bare = result.bare!;
    const g = result.gateway!;
    const peak = peakOf(b, 'gateway', phase)!;
    const scenario = `${n.toLocaleString('en-US')} concurrent streams`;
    for (const p of ['p50', 'p99'] as const) {
      b.rows.push({ scenario, measure: `TTFT ${p}`, unit: 'ms', direct: d.ttft[p], bare: bare.ttft[p], gateway: g.ttft[p], addedBare: bare.ttft[p] - d.ttft[p], addedGateway: g.ttft[p] - d.ttft[p] });
    }
    b.rows.push({
      scenario,
      measure: `stream duration p50 (${opts.mockChunks} chunks × ${opts.mockIntervalMs} ms upstream)`,
      unit: 'ms',
      direct: d.total.p50,
      bare: bare.total.p50,
      gateway: g.total.p50,
      addedBare: bare.total.p50 - d.total.p50,
      addedGateway: g.total.p50 - d.total.p50,
    });
    b.rows.push({ scenario, measure: 'all streams done (wall)', unit: 'ms', direct: d.wallS * 1000, bare: bare.wallS * 1000, gateway: g.wallS * 1000 });
    b.rows.push({ scenario, measure: 'errors', unit: 'count', direct: d.errors, bare: bare.errors, gateway: g.errors, bar: '0', meets: g.errors === 0, note: g.firstErrors.join('; ').slice(0, 200) || undefined });
    const full = n >= 1000;
    b.rows.push({
      scenario,
      measure: 'RSS peak',
      unit: 'MiB',
      bare: peakOf(b, 'bare proxy', phase),
      gateway: peak,
      bar: full ? '≤ 250 MiB' : undefined,
      meets: full ? peak <= 250 : undefined,
      note: full ? undefined : 'bar is for 1,000 streams',
    });
  },
};
