import { writeSync } from 'node:fs';

/** Past this much in stdout's own queue (a pipe whose reader has fallen behind), batches are dropped and counted. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
const BATCH_BYTES = 8 * 1024;
const BATCH_MS = 250;

export interface BufferedStdoutOptions {
  /** Where the batches go; process.stdout unless a test passes its own. */
  out?: NodeJS.WritableStream & { writableLength: number };
  /** The file descriptor behind `out`, written synchronously for the last lines at exit. */
  fd?: number;
  maxQueuedBytes?: number;
}

export interface BufferedStdout {
  write(line: string): boolean;
  /** Writes what waits; `cb` once stdout has taken it all (a pipe's queue emptied), so an exit after it loses nothing. */
  flush(cb?: (err?: Error) => void): void;
  /** Lines dropped since start because stdout's reader fell behind. */
  dropped(): number;
}

/**
 * stdout, in batches: lines wait in memory until 8 KiB are waiting or 250 ms have passed, then go out in one
 * write. One write per line was a visible share of a small request's cost under load.
 *
 * The writes go through process.stdout, never synchronously to fd 1: once Node has opened process.stdout
 * on a pipe (the listening line does), the pipe is non-blocking, and a synchronous write to a full one
 * fails with EAGAIN, on which pino's sonic-boom slept 100 ms with the event loop stopped, every request
 * with it. Now a pipe that its reader (a log shipper, a container runtime) does not empty queues in memory,
 * up to MAX_QUEUED_BYTES; past that, batches are dropped rather than held or waited for, and a warning line
 * with the count goes out first once the queue has room again. A file or terminal takes each write at once.
 */
export function bufferedStdout(opts: BufferedStdoutOptions = {}): BufferedStdout {
  const out = opts.out ?? process.stdout;
  const fd = opts.fd ?? (opts.out ? undefined : 1);
  const maxQueued = opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
  let lines: string[] = [];
  let size = 0;
  let droppedNow = 0;
  let droppedTotal = 0;

  const take = (): string => {
    let data = lines.length === 1 ? lines[0]! : lines.join('');
    if (droppedNow > 0) {
      data = `{"level":40,"time":${Date.now()},"msg":"log lines dropped: stdout was not read fast enough","dropped":${droppedNow}}\n${data}`;
      droppedNow = 0;
    }
    lines = [];
    size = 0;
    return data;
  };
  const flushNow = () => {
    if (lines.length === 0) return;
    if (out.writableLength > maxQueued) {
      droppedNow += lines.length;
      droppedTotal += lines.length;
      lines = [];
      size = 0;
      return;
    }
    out.write(take());
  };
  const timer = setInterval(flushNow, BATCH_MS);
  timer.unref();
  // An exit that did not wait for flush: a pipe's queue goes with the process, so the last lines are written
  // synchronously when nothing is queued ahead of them (the order holds), retrying a full pipe for up to 1 s.
  process.once('exit', () => {
    if (lines.length === 0) return;
    const data = take();
    if (fd === undefined || out.writableLength > 0) {
      out.write(data);
      return;
    }
    writeAllSync(fd, data);
  });
  return {
    write(line: string) {
      lines.push(line);
      size += line.length;
      if (size >= BATCH_BYTES) flushNow();
      return true;
    },
    flush(cb?: (err?: Error) => void) {
      flushNow();
      if (!cb) return;
      if (out.writableLength === 0) cb();
      else out.write('', () => cb());
    },
    dropped: () => droppedTotal,
  };
}

function writeAllSync(fd: number, data: string): void {
  let buf = Buffer.from(data);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; buf.length > 0 && tries < 200; tries++) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
