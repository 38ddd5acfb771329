import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { childGuardImport } from '../child-guard.ts';

/**
 * The harness's child processes: each is `process.execPath` with the guard of bench/child-guard.ts preloaded (the child
 * exits when our end of its stdin closes, so even a killed harness leaves no orphans), its output appended
 * to a log file, and every one of them is stopped by `stopAll` — called from `finally`, signal handlers and
 * `exit`.
 */

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
}

const children = new Set<Child>();
const opened = new Set<string>();

export interface SpawnOptions {
  name: string;
  cwd: string;
  /** Node flags (before the script), e.g. --cpu-prof. */
  nodeArgs?: string[];
  script: string;
  args: string[];
  logFile: string;
  /** Resolves with the port once a stdout line shows the child is listening. */
  ready: (line: string) => number | undefined;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export async function spawnChild(opts: SpawnOptions): Promise<Child & { port: number }> {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', childGuardImport, opts.script, ...opts.args], {
    cwd: opts.cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  if (proc.pid === undefined) throw new Error(`${opts.name}: spawn failed`);
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  const child: Child = { name: opts.name, proc, pid: proc.pid, exited };
  children.add(child);
  void exited.then(() => {
    children.delete(child);
    proc.stdin?.destroy();
  });
  // One file per child name per run: truncated by the first spawn, appended to by restarts.
  const log = createWriteStream(opts.logFile, { flags: opened.has(opts.logFile) ? 'a' : 'w' });
  opened.add(opts.logFile);
  log.write(`\n--- ${new Date().toISOString()} ${opts.name} pid ${proc.pid}: ${opts.script} ${opts.args.join(' ')}\n`);
  proc.stderr!.pipe(log, { end: false });
  // The child's stdout goes to its log as it comes, in the chunks it was written in (the gateway writes its
  // access log in batches of ~8 KiB); lines are looked at only until the ready line. Splitting every line
  // (readline) and writing each on its own cost this process, which also runs the load generator, CPU per
  // request of the gateway's, and none of the bare proxy's, which logs nothing.
  let recent = '';
  let carry = '';
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${opts.name} did not start within ${opts.readyTimeoutMs ?? 15_000} ms:\n${recent}`)), opts.readyTimeoutMs ?? 15_000);
    let found = false;
    proc.stdout!.on('data', (d: Buffer) => {
      log.write(d);
      if (found) return;
      const parts = (carry + d.toString()).split('\n');
      carry = parts.pop()!.slice(-2_000);
      for (const line of parts) {
        recent = `${recent}${line}\n`.slice(-2_000);
        const p = opts.ready(line);
        if (p !== undefined) {
          found = true;
          carry = '';
          clearTimeout(timer);
          ok(p);
          return;
        }
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      recent = `${recent}${d.toString()}`.slice(-2_000);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`${opts.name} exited (code ${code}) before it was ready:\n${recent}`));
    });
  });
  return { ...child, port };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: Child, graceMs = 5_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([child.exited.then(() => true), new Promise<false>((ok) => (timer = setTimeout(() => ok(false), graceMs)))]);
  clearTimeout(timer);
  if (!done) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

export async function stopAll(graceMs = 5_000): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, graceMs)));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL whatever is left, by pid. */
export function killAllNow(): void {
  for (const c of children) {
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Resource sampling from /proc

/** Direct children of a process (Linux: /proc/<pid>/task/<tid>/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const CLK_TCK = 100; // USER_HZ: 100 on every Linux the harness targets

function readRssKiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of the process, in seconds. */
export function readCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

export interface ResourceWindow {
  rssStartMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** Samples VmRSS every 100 ms; `begin()` opens a window whose `end()` gives RSS start/peak/end and CPU. */
export class ProcSampler {
  readonly pid: number;
  private timer: NodeJS.Timeout | undefined;
  private peakKiB = 0;
  private lastKiB = 0;
  /** Also count the direct children (a node:cluster primary's workers): RSS and CPU summed. */
  private readonly withChildren: boolean;

  constructor(pid: number, opts: { withChildren?: boolean } = {}) {
    this.pid = pid;
    this.withChildren = opts.withChildren ?? false;
  }

  /** The pid and, with `withChildren`, its direct children. */
  pids(): number[] {
    return this.withChildren ? [this.pid, ...childPids(this.pid)] : [this.pid];
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    let kib: number | undefined;
    for (const pid of this.pids()) {
      const k = readRssKiB(pid);
      if (k !== undefined) kib = (kib ?? 0) + k;
    }
    if (kib === undefined) return;
    this.lastKiB = kib;
    if (kib > this.peakKiB) this.peakKiB = kib;
  }

  rssMiB(): number {
    this.sample();
    return this.lastKiB / 1024;
  }

  begin(): { end(): ResourceWindow } {
    this.sample();
    this.peakKiB = this.lastKiB;
    const rssStart = this.lastKiB;
    const cpu = () => this.pids().reduce((a, p) => a + readCpuSeconds(p), 0);
    const cpu0 = cpu();
    const t0 = performance.now();
    return {
      end: () => {
        this.sample();
        return {
          rssStartMiB: rssStart / 1024,
          rssPeakMiB: this.peakKiB / 1024,
          rssEndMiB: this.lastKiB / 1024,
          cpuSeconds: cpu() - cpu0,
          wallSeconds: (performance.now() - t0) / 1000,
        };
      },
    };
  }
}

// ------------------------------------------------------------------------------------------------
// The rest of the machine: CPU used by processes other than ours (other people's tests on a shared box).

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat, steal included. */
export function readSystemBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return (user! + nice! + system! + irq! + softirq! + (steal ?? 0)) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the hypervisor took from this machine's virtual cores (/proc/stat steal), all cores together. */
export function readStealSeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    return (Number(line.trim().split(/\s+/)[8]) || 0) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Opens a window; `end()` gives the average number of cores other processes kept busy during it. */
export function otherLoad(ourPids: () => number[]): { end(): number } {
  const pids = ourPids();
  const ours = () => {
    const self = process.cpuUsage();
    return pids.reduce((a, p) => a + readCpuSeconds(p), 0) + (self.user + self.system) / 1e6;
  };
  const busy0 = readSystemBusySeconds();
  const ours0 = ours();
  const t0 = performance.now();
  return {
    end() {
      const wall = (performance.now() - t0) / 1000;
      const other = readSystemBusySeconds() - busy0 - (ours() - ours0);
      return Math.max(0, other / wall);
    },
  };
}
