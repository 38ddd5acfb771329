import { GatewayError } from './gateway-error.ts';

/**
 * How deeply a free-form JSON field of a request (tool parameters, a response JSON schema, tool-call
 * arguments, vendor options) may nest; `{}` and `[]` are one level each. Real JSON schemas stay far below
 * it. The limit exists because later stages walk these values recursively (canonical JSON for cache keys
 * and idempotency hashes, the adapters' JSON.stringify, a simulator's schema walk): nested a few thousand
 * deep, they exhaust the stack. Not configurable: raising it would bring that back.
 */
export const MAX_JSON_DEPTH = 64;

/** The message of a field nested too deeply, after the field's name. */
export const TOO_DEEP_MESSAGE = `nested deeper than ${MAX_JSON_DEPTH} levels`;

const isContainer = (v: unknown): v is object => v !== null && typeof v === 'object';

/**
 * Whether objects and arrays in `value` nest more than `limit` levels. Iterative (an explicit stack, no
 * recursion), so it is safe at any depth; it stops at the first container past the limit.
 */
export function exceedsJsonDepth(value: unknown, limit = MAX_JSON_DEPTH): boolean {
  if (!isContainer(value)) return false;
  // Parallel stacks of containers still to look into and their depths.
  const pending: object[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const node = pending.pop()!;
    const depth = depths.pop()!;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (const child of node as unknown[]) {
        if (isContainer(child)) {
          pending.push(child);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key of Object.keys(node)) {
        const child = (node as Record<string, unknown>)[key];
        if (isContainer(child)) {
          pending.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

/**
 * The same for JSON text, without parsing it: counts brackets outside string literals. Text that is not
 * JSON is answered as best it can be (unbalanced brackets count as they open).
 */
export function jsonTextExceedsDepth(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

/** An invalid_request naming the field (`tools[0].function.parameters: nested deeper than 64 levels`). */
export function tooDeepError(field: string): GatewayError {
  return new GatewayError('invalid_request', `${field}: ${TOO_DEEP_MESSAGE}`, { param: field });
}

/** Throws tooDeepError(field) when `value` nests deeper than MAX_JSON_DEPTH. */
export function assertJsonDepth(value: unknown, field: string): void {
  if (exceedsJsonDepth(value)) throw tooDeepError(field);
}
