import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { presentKeysParser } from '../../src/core/present-keys-parser.ts';
import { OpenAIChatBodySchema } from '../../src/server/openai-compat/chat-request.ts';

const Schema = z.object({
  model: z.string().min(1),
  temperature: z.number().max(2).optional(),
  stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
  mode: z.enum(['a', 'b']).default('a'),
  tags: z.array(z.string()).optional(),
});

describe('presentKeysParser', () => {
  const parse = presentKeysParser(Schema);
  const cases: unknown[] = [
    { model: 'm' },
    { model: 'm', temperature: 1 },
    { temperature: 3, model: 'm', stop: null },
    { model: '', tags: [1] },
    { stop: 'x' },
    { model: 'm', mode: 'c' },
    { model: 'm', extra: 1 },
    { model: 'm', temperature: undefined },
    null,
    [],
    'text',
  ];

  it('gives what the whole schema gives: data, defaults, issues and their paths', () => {
    for (const raw of cases) {
      const whole = Schema.safeParse(raw);
      const narrow = parse(raw);
      expect(narrow.success).toBe(whole.success);
      if (whole.success) {
        expect(narrow.data).toEqual(whole.data);
        // Key order too: serialized outputs (cache keys, hashes) must not change.
        expect(JSON.stringify(narrow.data)).toBe(JSON.stringify(whole.data));
      } else {
        expect(narrow.error!.issues).toEqual(whole.error.issues);
      }
    }
  });

  it('reports a missing required key and fills defaults although the input lacks them', () => {
    const r = parse({ temperature: 1 });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path)).toEqual([['model']]);
    expect(parse({ model: 'm' }).data).toEqual({ model: 'm', mode: 'a' });
  });

  it('keeps parsing correctly past its cap on distinct key sets', () => {
    const wide = z.object(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, z.number().optional()])));
    const p = presentKeysParser(wide);
    // 2^10 key sets: far past the cap, every one still checked.
    for (let mask = 0; mask < 1024; mask++) {
      const raw = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, mask & (1 << i) ? i : undefined]).filter(([, v]) => v !== undefined));
      expect(p(raw).data).toEqual(raw);
      expect(p({ ...raw, k9: 'x' }).success).toBe(false);
    }
  });

  for (const width of [45, 60]) {
    it(`a shape of ${width} optional keys (${width > 53 ? 'key sets as strings' : 'key sets as numbers, past 30 bits'}): every subset parses as the whole schema`, () => {
      const wide = z.object(Object.fromEntries(Array.from({ length: width }, (_, i) => [`k${i}`, z.number().optional()])));
      const p = presentKeysParser(wide);
      // Single keys on either side of bit 30 and of bit 53, pairs, and a key that is not in the shape.
      const subsets = [[0], [29], [30], [31], [44], [0, 30], [29, 44], [5, 35, 40], Array.from({ length: width }, (_, i) => i)];
      if (width > 53) subsets.push([53], [59], [52, 53]);
      for (const keys of subsets) {
        const raw = Object.fromEntries(keys.map((i) => [`k${i}`, i]));
        expect(p(raw).data).toEqual(raw);
        expect(p({ ...raw, extra: 1 }).data).toEqual(raw);
        // A wrong value is caught whichever shape was picked: the shape kept the key.
        const bad = { ...raw, [`k${keys[0]}`]: 'x' };
        expect(p(bad).error!.issues.map((i) => i.path)).toEqual([[`k${keys[0]}`]]);
      }
    });
  }

  it('parses a Chat Completions body as the whole schema does', () => {
    const body = {
      model: 'default',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'hi', cache_control: { type: 'ephemeral' } }] },
      ],
      max_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
    };
    const p = presentKeysParser(OpenAIChatBodySchema);
    expect(JSON.stringify(p(body).data)).toBe(JSON.stringify(OpenAIChatBodySchema.safeParse(body).data));
    const bad = { ...body, temperature: 5, messages: [] };
    expect(p(bad).error!.issues).toEqual(OpenAIChatBodySchema.safeParse(bad).error!.issues);
  });
});
