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
  const narrowed = new Map<string, S>();
  try {
    schema.pick({});
  } catch {
    // A schema with refinements cannot be narrowed (zod refuses pick on it): parse it whole.
    return whole;
  }
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
