import { hash, type BinaryToTextEncoding } from 'node:crypto';

type Data = string | NodeJS.ArrayBufferView;

/** The part of node:crypto's Hash that Apollo's callers use: `createHash(kind).update(data).digest(encoding)`. */
export interface OneShotHash {
  update(data: Data, inputEncoding?: BufferEncoding): OneShotHash;
  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
}

const bytesOf = (data: Data): Buffer => (typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

/**
 * @apollo/utils.createhash's one function, on node:crypto's one-shot `hash`. The bundle gives it to Apollo in
 * place of that package (scripts/bundle.ts), whose `module.require('crypto')` fails in a bundled CommonJS
 * module, so that it fell back to sha.js, a SHA-256 in JavaScript. Apollo hashes every request's query text to
 * look its parsed document up: ~12 µs of a GraphQL request's CPU with sha.js, and still ~7 µs with a
 * `crypto.createHash` object (making the digest context is most of it), against about half that one-shot.
 * Apollo's callers only update and digest, which is all this offers (no stream interface, no copy()).
 */
export function createHash(kind: string): OneShotHash {
  const parts: Data[] = [];
  const h = {
    update(data: Data, inputEncoding?: BufferEncoding) {
      parts.push(typeof data === 'string' && inputEncoding !== undefined ? Buffer.from(data, inputEncoding) : data);
      return h;
    },
    digest(encoding?: BinaryToTextEncoding) {
      const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts.map(bytesOf));
      return encoding === undefined ? hash(kind, data, 'buffer') : hash(kind, data, encoding);
    },
  };
  return h as OneShotHash;
}
