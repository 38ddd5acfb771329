/**
 * `--stages`: where a request's time goes inside the bare proxy and the gateway, from the records the preload of
 * bench/stage-timer.ts writes on exit. Only requests that had the process to themselves up to their first byte
 * out are counted (no other request arrived from 2 ms before them until then): the one-connection and paced
 * phases, not the saturation runs, where a stage's time is mostly queueing behind other requests.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

type Rec = [t0: number, up: number, sent: number, upHeaders: number, first: number, fin: number, stream: 0 | 1, path: string];

const STAGES: ReadonlyArray<[string, (r: Rec) => number]> = [
  ['received → upstream request created', (r) => r[1] - r[0]],
  ['→ written upstream', (r) => r[2] - r[1]],
  ['→ upstream response headers', (r) => r[3] - r[2]],
  ['→ first byte to the client', (r) => r[4] - r[3]],
  ['received → first byte (total)', (r) => r[4] - r[0]],
];

/** Where a process named `name` writes its records: the prefix, then its start time (a restarted process writes its own file). */
export function stageFilePrefix(dir: string, name: string): string {
  return join(dir, `stages-${name}-`);
}

/** Removes an earlier run's records. */
export function clearStageFiles(dir: string): void {
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) if (f.startsWith('stages-') && f.endsWith('.json')) unlinkSync(join(dir, f));
}

function load(dir: string, name: string): Rec[] {
  const prefix = `stages-${name}-`;
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Rec[]);
}

/** Records that went upstream and had the process to themselves until their first byte out. */
function isolated(recs: Rec[]): Rec[] {
  const sorted = [...recs].sort((a, b) => a[0] - b[0]);
  return sorted.filter((r, i) => {
    if (r[1] < 0 || r[2] < 0 || r[3] < 0 || r[4] < 0) return false;
    const prev = sorted[i - 1];
    const next = sorted[i + 1];
    return (prev === undefined || r[0] - prev[0] > 2) && (next === undefined || next[0] > r[4]);
  });
}

const quantile = (v: number[], q: number) => v[Math.min(v.length - 1, Math.floor(v.length * q))]!;

/** One table per kind of request (path, streamed or not): median and p90 of each stage, in µs, per process. */
export function stageReport(dir: string, processes: readonly string[]): string {
  const byKind = new Map<string, Map<string, Rec[]>>();
  for (const name of processes) {
    for (const r of isolated(load(dir, name))) {
      // The bare proxy is addressed on the gateway's paths: a kind is the path and whether it streamed.
      const kind = `${r[7]}${r[6] === 1 ? ' (stream)' : ''}`;
      const procs = byKind.get(kind) ?? new Map<string, Rec[]>();
      byKind.set(kind, procs);
      procs.set(name, [...(procs.get(name) ?? []), r]);
    }
  }
  const out: string[] = ['Stage timings (`--stages`): µs, median / p90, requests that had the process to themselves'];
  for (const [kind, procs] of [...byKind].sort()) {
    const names = processes.filter((p) => procs.has(p));
    out.push('', `${kind}: ${names.map((n) => `${n} n=${procs.get(n)!.length}`).join(', ')}`, '', `| Stage | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const [label, f] of STAGES) {
      const cells = names.map((n) => {
        const v = procs.get(n)!.map(f).sort((a, b) => a - b);
        return `${(quantile(v, 0.5) * 1000).toFixed(0)} / ${(quantile(v, 0.9) * 1000).toFixed(0)}`;
      });
      out.push(`| ${label} | ${cells.join(' | ')} |`);
    }
  }
  return out.join('\n');
}
