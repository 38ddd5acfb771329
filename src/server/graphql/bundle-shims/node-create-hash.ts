import { hash, type BinaryToTextEncoding } from 'node:crypto';

type Data = string | NodeJS.ArrayBufferView;

/** The part of node:crypto's Hash that Apollo's callers use: `createHash(kind).update(data).digest(encoding)`. */
export interface OneShotHash {
  update(data: Data, inputEncoding?: BufferEncoding): OneShotHash;
  digest(): Buffer;
  digest(encoding: BinaryToTextEncoding): string;
}

const bytesOf = (data: Data, encoding: BufferEncoding | undefined): Buffer =>
  typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

/**
 * @apollo/utils.createhash's one function, on node:crypto's one-shot `hash`. The bundle gives it to Apollo in
 * place of that package (scripts/bundle.ts), whose `module.require('crypto')` fails in a bundled CommonJS
 * module, so that it fell back to sha.js, a SHA-256 in JavaScript. Apollo hashes every request's query text to
 * look its parsed document up: ~12 µs of a GraphQL request's CPU with sha.js, and still ~7 µs with a
 * `crypto.createHash` object (making the digest context is most of it), against about half that one-shot.
 * Every caller in Apollo hashes one value and digests it at once, which is all this supports.
 */
export function createHash(kind: string): OneShotHash {
  let parts: Data[] | undefined;
  let only: Data | undefined;
  const h = {
    update(data: Data, inputEncoding?: BufferEncoding) {
      if (inputEncoding !== undefined && inputEncoding !== 'utf8' && inputEncoding !== 'utf-8' && typeof data === 'string') data = Buffer.from(data, inputEncoding);
      if (only === undefined && parts === undefined) only = data;
      else {
        parts ??= [only!];
        only = undefined;
        parts.push(data);
      }
      return h;
    },
    digest(encoding?: BinaryToTextEncoding) {
      const data = parts !== undefined ? Buffer.concat(parts.map((p) => bytesOf(p, undefined))) : (only ?? '');
      return encoding === undefined ? hash(kind, data, 'buffer') : hash(kind, data, encoding);
    },
  };
  return h as OneShotHash;
}
