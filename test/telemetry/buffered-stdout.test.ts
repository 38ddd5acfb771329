import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bufferedStdout } from '../../src/telemetry/buffered-stdout.ts';

const line = (i: number) => `${JSON.stringify({ i, pad: 'x'.repeat(100) })}\n`;

/** A stdout whose reader has stalled: nothing is read until `drainAll`. */
function stalledPipe() {
  const out = new PassThrough({ highWaterMark: 1024 });
  const taken: string[] = [];
  return {
    out,
    drainAll: () => {
      for (let c = out.read(); c !== null; c = out.read()) taken.push(String(c));
      return taken.join('');
    },
  };
}

describe('bufferedStdout', () => {
  it('batches lines into one write of ~8 KiB, in order', () => {
    const pipe = stalledPipe();
    const writes: number[] = [];
    const write = pipe.out.write.bind(pipe.out);
    pipe.out.write = ((chunk: string, ...rest: never[]) => {
      writes.push(chunk.length);
      return write(chunk, ...rest);
    }) as typeof pipe.out.write;
    const s = bufferedStdout({ out: pipe.out });
    for (let i = 0; i < 100; i++) s.write(line(i));
    s.flush();
    expect(writes.length).toBeLessThanOrEqual(3);
    const got = pipe.drainAll().trim().split('\n').map((l) => JSON.parse(l).i);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('past the queue bound drops batches instead of holding them, and reports how many once there is room', () => {
    const pipe = stalledPipe();
    const s = bufferedStdout({ out: pipe.out, maxQueuedBytes: 20_000 });
    for (let i = 0; i < 1_000; i++) s.write(line(i));
    s.flush();
    expect(pipe.out.writableLength).toBeLessThan(20_000 + 9 * 1024);
    expect(s.dropped()).toBeGreaterThan(700);
    const first = pipe.drainAll();
    s.write(line(1_000));
    s.flush();
    const after = pipe.drainAll().slice(first.length).trim().split('\n').map((l) => JSON.parse(l));
    expect(after[0]).toMatchObject({ level: 40, msg: 'log lines dropped: stdout was not read fast enough', dropped: s.dropped() });
    expect(after[1]).toMatchObject({ i: 1_000 });
    // Nothing written is lost or reordered: what arrived is a prefix of the lines, then the report, then the new line.
    const kept = first.trim().split('\n').map((l) => JSON.parse(l).i);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => i));
    expect(kept.length + s.dropped()).toBe(1_000);
  });

  it('flush(cb) calls back only once stdout has taken every line', async () => {
    const pipe = stalledPipe();
    const s = bufferedStdout({ out: pipe.out });
    for (let i = 0; i < 300; i++) s.write(line(i));
    let done = false;
    s.flush(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    pipe.drainAll();
    await new Promise((r) => setTimeout(r, 50));
    pipe.drainAll();
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(true);
  });
});

describe('the stdout logger on a pipe nobody reads', () => {
  const loggerModule = fileURLToPath(new URL('../../src/telemetry/logger.ts', import.meta.url));

  it('keeps the process running: no synchronous wait on a full pipe (it used to sleep 100 ms per try, forever)', async () => {
    // process.stdout opened first, as the CLI's listening line does: that makes the pipe non-blocking.
    const body = `
      import { createLogger } from ${JSON.stringify(loggerModule)};
      process.stdout.write('listening\\n');
      const log = createLogger();
      let ticks = 0;
      const tick = setInterval(() => ticks++, 10);
      for (let i = 0; i < 4000; i++) log.info({ i, pad: 'x'.repeat(1000) }, 'line');
      setTimeout(() => { clearInterval(tick); process.stderr.write('done ' + ticks + '\\n'); }, 600);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', body], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    const done = await new Promise<string>((ok) => {
      const t = setTimeout(() => ok('timed out'), 10_000);
      child.stderr.on('data', () => {
        if (/done \d+/.test(err)) {
          clearTimeout(t);
          ok(err);
        }
      });
    });
    child.kill('SIGKILL');
    expect(done).toMatch(/done \d+/);
    // Its timers kept firing while 4 MB of log waited on the pipe.
    expect(Number(/done (\d+)/.exec(done)![1])).toBeGreaterThan(10);
  });
});
