import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants } from 'node:zlib';

const compress = promisify(brotliCompress);
const decompress = promisify(brotliDecompress);

// One tag byte in front of every stored value says how the rest is encoded, so the threshold can change
// (or compression be turned off) without making values already stored unreadable.
const RAW = 0x00;
const BROTLI = 0x01;

export interface Codec {
  encode(value: string): Promise<Buffer>;
  decode(stored: Buffer): Promise<string>;
}

/**
 * Values above `compressAboveBytes` are brotli-compressed at a low quality: cached completions are
 * mostly prose that compresses 3-5x even at quality 4, and a high quality would put CPU on the hot path.
 */
export function createCodec(opts: { compressAboveBytes: number }): Codec {
  return {
    async encode(value) {
      const raw = Buffer.from(value, 'utf8');
      if (raw.length <= opts.compressAboveBytes) return Buffer.concat([Buffer.of(RAW), raw]);
      const packed = await compress(raw, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 4,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
        },
      });
      return Buffer.concat([Buffer.of(BROTLI), packed]);
    },
    async decode(stored) {
      const tag = stored[0];
      const body = stored.subarray(1);
      if (tag === RAW) return body.toString('utf8');
      if (tag === BROTLI) return (await decompress(body)).toString('utf8');
      throw new Error(`unknown stored value encoding ${String(tag)}`);
    },
  };
}
