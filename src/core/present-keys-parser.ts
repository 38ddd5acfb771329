import type { z } from 'zod';

/** How many distinct key sets one parser keeps a narrowed schema for; past it, bodies parse with the whole schema. */
const MAX_SHAPES = 64;

/**
 * `schema.safeParse`, run on a narrowed copy of `schema` that has only the keys the input carries (and those
 * that must be checked when absent: required keys and keys with a default). The result is the same as the
 * whole schema's: an absent optional key yields nothing either way, and the narrowed shape keeps the whole
 * shape's key order. Why: zod runs every key of an object's shape, present or not; a Chat Completions body
 * has about 35 optional keys and sends three or four, and those absent keys were most of the parse's
 * allocations on every request. Narrowed schemas are kept per key set, up to MAX_SHAPES, so a client that
 * varies its keys cannot grow memory.
 */
export function presentKeysParser<S extends z.ZodObject>(schema: S): (raw: unknown) => ReturnType<S['safeParse']> {
  const whole = (raw: unknown) => schema.safeParse(raw) as ReturnType<S['safeParse']>;
  const keys = Object.keys(schema.shape);
  // Checked even when absent: a required key (its error names it) or one whose schema fills in a value.
  const always = new Set(keys.filter((k) => {
    const r = (schema.shape[k] as z.ZodType).safeParse(undefined);
    return !r.success || r.data !== undefined;
  }));
  try {
    schema.pick({});
  } catch {
    // A schema with refinements cannot be narrowed (zod refuses pick on it): parse it whole.
    return whole;
  }
  // The key set of a body as a number, one bit per optional key of the shape (exact up to 53 bits): found
  // by walking the body's own few keys, not the shape's ~35 with a string built per request.
  const bitOf = new Map<string, number>();
  for (const k of keys) if (!always.has(k)) bitOf.set(k, bitOf.size);
  if (bitOf.size > 53) return stringKeyed(schema, keys, always, whole);
  const byId = new Map<number, S>();
  return (raw) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return whole(raw);
    let lo = 0;
    let hi = 0;
    for (const k in raw) {
      const bit = bitOf.get(k);
      if (bit === undefined || !Object.hasOwn(raw, k)) continue;
      if (bit < 30) lo |= 1 << bit;
      else hi |= 1 << (bit - 30);
    }
    const id = lo + hi * 2 ** 30;
    let s = byId.get(id);
    if (s === undefined) {
      if (byId.size >= MAX_SHAPES) return whole(raw);
      const mask: Record<string, true> = {};
      for (const k of keys) if (always.has(k) || Object.hasOwn(raw, k)) mask[k] = true;
      s = schema.pick(mask) as unknown as S;
      byId.set(id, s);
    }
    return s.safeParse(raw) as ReturnType<S['safeParse']>;
  };
}

/** The same for a shape with more optional keys than a number's bits: the key set as a string. */
function stringKeyed<S extends z.ZodObject>(schema: S, keys: string[], always: Set<string>, whole: (raw: unknown) => ReturnType<S['safeParse']>): (raw: unknown) => ReturnType<S['safeParse']> {
  const narrowed = new Map<string, S>();
  return (raw) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return whole(raw);
    let id = '';
    for (const k of keys) if (always.has(k) || Object.hasOwn(raw, k)) id += `${k},`;
    let s = narrowed.get(id);
    if (s === undefined) {
      if (narrowed.size >= MAX_SHAPES) return whole(raw);
      const mask: Record<string, true> = {};
      for (const k of id.split(',')) if (k) mask[k] = true;
      s = schema.pick(mask) as unknown as S;
      narrowed.set(id, s);
    }
    return s.safeParse(raw) as ReturnType<S['safeParse']>;
  };
}
