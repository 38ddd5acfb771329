import { readFileSync } from 'node:fs';

/** Summaries of a V8 .cpuprofile (what `node --cpu-prof` writes): self time by function and by area. */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  area: string;
  ms: number;
  /** Share of busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  skippedMs: number;
  busyMs: number;
  idleMs: number;
  topFunctions: SelfTime[];
  topAreas: Array<{ area: string; ms: number; pct: number }>;
  /** Our functions (src/, resolvers/) and the dependencies' entry points by inclusive time (self + callees). */
  topInclusive: SelfTime[];
  /**
   * Busy time by owner: the file of the nearest function of ours on the sample's stack (what a module of ours
   * costs with everything it calls), or, for a stack with none of ours, the leaf's area (node:http parsing on
   * its own, undici's socket callbacks). Socket syscalls and GC are their own owners wherever they happen: the
   * kernel's and V8's work, which a bare proxy pays too. With `--from src` the owners are src/ files; from the
   * bundle, its chunks.
   */
  byOwner: Array<{ owner: string; ms: number; pct: number }>;
}

const SOCKET_SYSCALLS = new Set(['writev', 'writeUtf8String', 'writeBuffer', 'writeString', 'writeLatin1String', 'read']);

/** The owner a sample's leaf names by itself: socket syscalls and GC, whoever's frame is above them. */
function leafOwner(fn: string): string | undefined {
  if (SOCKET_SYSCALLS.has(fn)) return '(socket syscalls)';
  if (fn === '(garbage collector)') return '(garbage collector)';
  return undefined;
}

function areaOf(url: string, fn: string, root: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = u.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) return 'node core';
  if (u.startsWith(root)) return u.slice(root.length + 1);
  return u;
}

function shortUrl(url: string, root: string): string {
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm !== -1) return u.slice(nm + '/node_modules/'.length);
  if (u.startsWith(root)) return u.slice(root.length + 1);
  return u;
}

/** `skipMs`: leave out the first milliseconds of the profile (process start-up: module loading, schema build). */
export function summarizeProfile(file: string, root: string, top = 25, skipMs = 0): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let t = prof.startTime;
  const from = prof.startTime + skipMs * 1000;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    if (t < from) continue;
    const dt = prof.timeDeltas[i + 1] ?? 0;
    selfUs.set(prof.samples[i]!, (selfUs.get(prof.samples[i]!) ?? 0) + dt);
  }
  const fns = new Map<string, { name: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const area = areaOf(url, functionName, root);
    const name = url ? `${functionName || '(anonymous)'} ${shortUrl(url, root)}:${lineNumber + 1}` : functionName || '(anonymous)';
    const f = fns.get(name) ?? { name, area, us: 0 };
    f.us += us;
    fns.set(name, f);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const pct = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);

  // Inclusive time of our own functions: each sample counts once for every distinct function of ours on its stack.
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ours = (url: string) => {
    const u = url.replace(/^file:\/\//, '');
    return u.startsWith(root) && !u.includes('/node_modules/') && !u.startsWith(`${root}/bench/`);
  };
  const incl = new Map<string, { name: string; area: string; us: number }>();
  for (const [id, us] of selfUs) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const { functionName, url, lineNumber } = byId.get(cur)!.callFrame;
      if (!url || !ours(url)) continue;
      const name = `${functionName || '(anonymous)'} ${shortUrl(url, root)}:${lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      const f = incl.get(name) ?? { name, area: areaOf(url, functionName, root), us: 0 };
      f.us += us;
      incl.set(name, f);
    }
  }
  const owners = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const leaf = byId.get(id)!.callFrame;
    if (leaf.functionName === '(idle)') continue;
    let owner = leafOwner(leaf.functionName);
    for (let cur: number | undefined = id; cur !== undefined && owner === undefined; cur = parent.get(cur)) {
      const { url } = byId.get(cur)!.callFrame;
      if (url && ours(url)) owner = shortUrl(url, root);
    }
    owner ??= `${areaOf(leaf.url, leaf.functionName, root)} (no frame of ours on the stack)`;
    owners.set(owner, (owners.get(owner) ?? 0) + us);
  }
  return {
    file,
    skippedMs: skipMs,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    topFunctions: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, area: f.area, ms: f.us / 1000, pct: pct(f.us) })),
    topAreas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([area, us]) => ({ area, ms: us / 1000, pct: pct(us) })),
    topInclusive: [...incl.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, area: f.area, ms: f.us / 1000, pct: pct(f.us) })),
    byOwner: [...owners.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([owner, us]) => ({ owner, ms: us / 1000, pct: pct(us) })),
  };
}

export function profileMarkdown(s: ProfileSummary): string {
  const lines = [
    `CPU profile of the gateway process (\`${s.file}\`)${s.skippedMs > 0 ? `, leaving out its first ${(s.skippedMs / 1000).toFixed(1)} s (start-up)` : ''}: ${(s.busyMs / 1000).toFixed(2)} s busy, ${(s.idleMs / 1000).toFixed(2)} s idle.`,
    '',
    'Self time by area (package, file of ours, or V8 bucket):',
    '',
    '| Area | Self ms | % of busy |',
    '|---|---:|---:|',
    ...s.topAreas.map((a) => `| ${a.area} | ${a.ms.toFixed(0)} | ${a.pct.toFixed(1)} |`),
    '',
    'Top functions by self time:',
    '',
    '| Function | Area | Self ms | % of busy |',
    '|---|---|---:|---:|',
    ...s.topFunctions.map((f) => `| \`${f.name.replace(/\|/g, '\\|')}\` | ${f.area} | ${f.ms.toFixed(0)} | ${f.pct.toFixed(1)} |`),
    '',
    'Our functions (src/, resolvers/) by inclusive time (self + everything they call):',
    '',
    '| Function | Inclusive ms | % of busy |',
    '|---|---:|---:|',
    ...s.topInclusive.map((f) => `| \`${f.name.replace(/\|/g, '\\|')}\` | ${f.ms.toFixed(0)} | ${f.pct.toFixed(1)} |`),
    '',
    'Busy time by owner: the file of the nearest function of ours on the stack, with all it calls; socket syscalls and GC apart (each sample counted once):',
    '',
    '| Owner | ms | % of busy |',
    '|---|---:|---:|',
    ...s.byOwner.map((o) => `| ${o.owner} | ${o.ms.toFixed(0)} | ${o.pct.toFixed(1)} |`),
  ];
  return lines.join('\n');
}
