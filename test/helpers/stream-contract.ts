import { expect } from 'vitest';
import { GatewayError, type StreamPart } from '../../src/core/index.ts';

export type TerminalPart = Extract<StreamPart, { type: 'finish' | 'error' }>;

/** Reads a stream to its end; `onPart` sees each part as it arrives (e.g. to abort mid-stream). */
export async function drain(stream: AsyncIterable<StreamPart>, onPart?: (p: StreamPart) => void): Promise<StreamPart[]> {
  const out: StreamPart[] = [];
  for await (const p of stream) {
    out.push(p);
    onPart?.(p);
  }
  return out;
}

/**
 * Asserts the stream contract — at most one `start` and it comes first, exactly one terminal part and
 * it is the last — and returns the terminal part.
 */
export function terminal(parts: StreamPart[]): TerminalPart {
  const terminals = parts.filter((p) => p.type === 'finish' || p.type === 'error');
  expect(terminals).toHaveLength(1);
  expect(parts.at(-1)).toBe(terminals[0]);
  const starts = parts.filter((p) => p.type === 'start');
  expect(starts.length).toBeLessThanOrEqual(1);
  if (starts.length === 1) expect(parts[0]).toBe(starts[0]);
  return terminals[0] as TerminalPart;
}

/** The GatewayError a well-formed stream ended with (fails if it finished instead). */
export function errorOf(parts: StreamPart[]): GatewayError {
  const t = terminal(parts);
  if (t.type !== 'error') throw new Error(`expected an error part, got ${JSON.stringify(t)}`);
  return t.error;
}

/** The GatewayError a promise rejected with (fails if it resolved or threw something else). */
export async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

/** Reads a stream to its end and asserts the stream contract on it (see `terminal`). */
export async function drainChecked(stream: AsyncIterable<StreamPart>, onPart?: (p: StreamPart) => void): Promise<StreamPart[]> {
  const parts = await drain(stream, onPart);
  terminal(parts);
  return parts;
}
