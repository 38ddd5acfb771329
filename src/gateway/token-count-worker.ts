/**
 * Worker thread of the token counter: builds js-tiktoken's o200k_base encoder (about a second of CPU,
 * once) and counts texts, so neither ever blocks the gateway's event loop.
 */
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

interface Encoder {
  encode(text: string, allowedSpecial?: 'all' | string[], disallowedSpecial?: 'all' | string[]): number[];
}

const require = createRequire(import.meta.url);
const { Tiktoken } = require('js-tiktoken/lite') as { Tiktoken: new (ranks: unknown) => Encoder };
const encoder = new Tiktoken(require('js-tiktoken/ranks/o200k_base'));

parentPort?.on('message', (msg: { id: number; texts: string[] }) => {
  let tokens = 0;
  for (const t of msg.texts) if (t) tokens += encoder.encode(t, [], []).length;
  parentPort?.postMessage({ id: msg.id, tokens });
});
