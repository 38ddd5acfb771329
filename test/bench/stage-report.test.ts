import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { clearStageFiles, stageFilePrefix, stageReport } from '../../bench/lib/stage-report.ts';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// [t0, upstream request created, written upstream, upstream headers, first byte out, finished, stream, path], ms
const stream = (t0: number, pre: number): unknown[] => [t0, t0 + pre, t0 + pre + 0.05, t0 + pre + 0.55, t0 + pre + 0.75, t0 + 1000, 1, '/v1/chat/completions'];

describe('the --stages report', () => {
  it('counts only requests that went upstream and had the process to themselves, per process and kind', () => {
    dir = mkdtempSync(join(tmpdir(), 'stages-'));
    writeFileSync(`${stageFilePrefix(dir, 'gateway')}1.json`, JSON.stringify([
      stream(0, 0.5),
      stream(50, 0.7),
      // Two that overlap (the second arrived before the first's first byte out): neither counts.
      stream(100, 0.5),
      stream(100.3, 0.5),
      // No upstream call (a cache hit): not counted.
      [200, -1, -1, -1, 200.2, 200.3, 0, '/v1/chat/completions'],
    ]));
    // A restarted gateway writes its own file: both are read.
    writeFileSync(`${stageFilePrefix(dir, 'gateway')}2.json`, JSON.stringify([stream(300, 0.6)]));
    writeFileSync(`${stageFilePrefix(dir, 'bare-proxy')}1.json`, JSON.stringify([stream(0, 0.08)]));
    const out = stageReport(dir, ['bare-proxy', 'gateway']);
    expect(out).toContain('/v1/chat/completions (stream): bare-proxy n=1, gateway n=3');
    expect(out).toContain('| received → upstream request created | 80 / 80 | 600 / 700 |');
    expect(out).toContain('| → upstream response headers | 500 / 500 | 500 / 500 |');
    expect(out).toContain('| received → first byte (total) | 830 / 830 | 1350 / 1450 |');
    expect(out).not.toContain('/v1/chat/completions:');
    clearStageFiles(dir);
    expect(stageReport(dir, ['gateway'])).not.toContain('n=');
  });
});
