import { describe, expect, it } from 'vitest';
import { ndjsonFramer, sseFramer } from '../../src/providers/shared/stream-readers.ts';

/** Feeds `bytes` in pieces of `size` and collects what the framer returns, copied (its array is reused). */
function frameAll<M>(framer: { feed(c: Uint8Array): readonly M[]; end(): readonly M[] }, bytes: Buffer, size: number): M[] {
  const out: M[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...framer.feed(bytes.subarray(i, i + size)));
  out.push(...framer.end());
  return out;
}

describe('the SSE framer', () => {
  const body = Buffer.from('data: {"a":"héllo 👋"}\n\n: a comment\r\n\r\nevent: ping\ndata: {}\n\ndata: line one\ndata: line two\n\ndata: [DONE]\n\n');

  it('cuts events split anywhere, multi-byte characters and CRLF included', () => {
    for (const size of [1, 2, 5, 17, body.length]) {
      const events = frameAll(sseFramer(), body, size);
      expect(events.map((e) => [e.event, e.data])).toEqual([
        [undefined, '{"a":"héllo 👋"}'],
        ['ping', '{}'],
        [undefined, 'line one\nline two'],
        [undefined, '[DONE]'],
      ]);
    }
  });

  it('returns only what each chunk completes, and nothing for an unfinished event at the end', () => {
    const framer = sseFramer();
    expect(framer.feed('data: {"x":1}\n')).toEqual([]);
    expect(framer.feed('\ndata: {"x":2}').map((e) => e.data)).toEqual(['{"x":1}']);
    expect(framer.end()).toEqual([]);
  });
});

describe('the NDJSON framer', () => {
  it('cuts lines split anywhere, skips blank ones and keeps a last line without a newline', () => {
    const body = Buffer.from('{"a":"é"}\n\n  {"b":2}  \r\n{"c":3}');
    for (const size of [1, 3, body.length]) {
      expect(frameAll(ndjsonFramer(), body, size)).toEqual(['{"a":"é"}', '{"b":2}', '{"c":3}']);
    }
  });
});
