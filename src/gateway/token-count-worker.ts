/**
 * Worker thread of the token counter: builds js-tiktoken's o200k_base encoder (about a second of CPU,
 * once) and counts texts, so neither ever blocks the gateway's event loop.
 *
 * Protocol: posts `{ ready: true }` once the encoder is built; then for each `{ id, texts }` posts
 * `{ id, tokens }`, or `{ id, stopped: true }` when the gateway wrote `id` into the shared stop cell
 * (`workerData.stop`, one Int32) while the count ran. The cell is read between bounded slices of work,
 * so a stop takes effect within milliseconds without the worker having to be killed.
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

interface Encoder {
  encode(text: string, allowedSpecial?: 'all' | string[], disallowedSpecial?: 'all' | string[]): number[];
}

const require = createRequire(import.meta.url);
const { Tiktoken } = require('js-tiktoken/lite') as { Tiktoken: new (ranks: unknown) => Encoder };
const ranks = require('js-tiktoken/ranks/o200k_base') as { pat_str: string };
const encoder = new Tiktoken(ranks);
/** o200k's pre-tokenizer: BPE merges never cross the boundaries of the pieces it cuts. */
const PIECES = new RegExp(ranks.pat_str, 'gu');
const stop = new Int32Array((workerData as { stop: SharedArrayBuffer }).stop);

/**
 * js-tiktoken's BPE is quadratic in the bytes of one pre-tokenizer piece (every merge rescans every
 * pair), and one piece can be arbitrarily long: a run of one character (`}}}…`, spaces, a word with no
 * break) is a single piece, and 40,000 `}` take about a minute. A piece above this many UTF-8 bytes is
 * counted in chunks of at most this size instead: merges across a cut are lost, so the count ends up a
 * token or so above the exact one per chunk (a close upper bound) and the work is linear in the text.
 * Ordinary pieces (words, numbers, punctuation, indentation) are far shorter and count exactly.
 */
const MAX_PIECE_BYTES = 96;
/** Short pieces are encoded together in slices of about this many UTF-16 units (a few ms of work each). */
const SLICE_UNITS = 4096;

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

/** Tokens of `text`, or undefined when the gateway asked to stop job `id`. */
function countText(text: string, id: number): number | undefined {
  let tokens = 0;
  // Encodes one bounded slice; false when this job should stop.
  const add = (s: string): boolean => {
    tokens += encoder.encode(s, [], []).length;
    return Atomics.load(stop, 0) !== id;
  };
  // `from` is where the slice of short pieces not yet encoded starts. Slices always end where a piece
  // ends, so the encoder cuts them into exactly the pieces it would cut the whole text into.
  let from = 0;
  for (const m of text.matchAll(PIECES)) {
    const piece = m[0];
    const end = m.index + piece.length;
    if (piece.length * 3 > MAX_PIECE_BYTES && Buffer.byteLength(piece) > MAX_PIECE_BYTES) {
      if (m.index > from && !add(text.slice(from, m.index))) return undefined;
      // ASCII: one byte per unit; otherwise at most three per unit (a surrogate pair is 4 bytes in 2 units).
      const step = Buffer.byteLength(piece) === piece.length ? MAX_PIECE_BYTES : MAX_PIECE_BYTES / 3;
      for (let i = 0; i < piece.length; ) {
        let j = Math.min(i + step, piece.length);
        if (j < piece.length && isHighSurrogate(piece.charCodeAt(j - 1))) j--;
        if (!add(piece.slice(i, j))) return undefined;
        i = j;
      }
      from = end;
    } else if (end - from >= SLICE_UNITS) {
      if (!add(text.slice(from, end))) return undefined;
      from = end;
    }
  }
  if (from < text.length && !add(text.slice(from))) return undefined;
  return tokens;
}

parentPort?.on('message', (msg: { id: number; texts: string[] }) => {
  let tokens = 0;
  for (const t of msg.texts) {
    const n = t ? countText(t, msg.id) : 0;
    if (n === undefined) {
      parentPort?.postMessage({ id: msg.id, stopped: true });
      return;
    }
    tokens += n;
  }
  parentPort?.postMessage({ id: msg.id, tokens });
});
parentPort?.postMessage({ ready: true });
