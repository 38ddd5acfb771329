import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The AWS event-stream framing ConverseStream answers with (`application/vnd.amazon.eventstream`), written here
 * from the format's description rather than with the SDK's codec, so a test that decodes it with the SDK checks
 * one implementation against the other. A frame is:
 *   total length (uint32 BE) · headers length (uint32 BE) · CRC32 of those 8 bytes ·
 *   headers · payload · CRC32 of everything before it.
 * A header is: name length (uint8) · name (UTF-8) · value type (7 = string) · value length (uint16 BE) · value.
 */

const STRING_TYPE = 7;

function encodeHeaders(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const h = Buffer.alloc(1 + n.length + 1 + 2 + v.length);
    h.writeUInt8(n.length, 0);
    n.copy(h, 1);
    h.writeUInt8(STRING_TYPE, 1 + n.length);
    h.writeUInt16BE(v.length, 2 + n.length);
    v.copy(h, 4 + n.length);
    parts.push(h);
  }
  return Buffer.concat(parts);
}

export function encodeFrame(headers: Record<string, string>, payload: Buffer): Buffer {
  const h = encodeHeaders(headers);
  const total = 12 + h.length + payload.length + 4;
  const out = Buffer.alloc(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(h.length, 4);
  out.writeUInt32BE(crc32(out.subarray(0, 8)), 8);
  h.copy(out, 12);
  payload.copy(out, 12 + h.length);
  out.writeUInt32BE(crc32(out.subarray(0, total - 4)), total - 4);
  return out;
}

const PAD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * One event (`messageStart`, `contentBlockDelta`, …). Like the real service, each payload carries a `p` field of
 * random length (padding against length side channels) that clients must ignore.
 */
export function eventFrame(type: string, payload: Record<string, unknown>): Buffer {
  const p = PAD.slice(0, 1 + (randomBytes(1)[0]! % PAD.length));
  return encodeFrame({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, Buffer.from(JSON.stringify({ ...payload, p })));
}

/** An exception mid-stream (`throttlingException`, `modelStreamErrorException`, …): the stream's error. */
export function exceptionFrame(type: string, message: string): Buffer {
  return encodeFrame({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }, Buffer.from(JSON.stringify({ message })));
}
