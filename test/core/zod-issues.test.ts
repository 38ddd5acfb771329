import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatPath, GatewayError, invalidRequestOf, issueProblems, newId, randomHex } from '../../src/core/index.ts';

const Body = z.strictObject({ model: z.string(), input: z.union([z.string(), z.array(z.string())]), dimensions: z.number().int().optional() });
const issuesOf = (value: unknown) => {
  const r = Body.safeParse(value);
  if (r.success) throw new Error('expected issues');
  return r.error.issues;
};

describe('zod issues as client errors', () => {
  it('paths read like the JSON they point into', () => {
    expect(formatPath(['providers', 1, 'models', 0, 'price', 'input'])).toBe('providers[1].models[0].price.input');
    expect(formatPath([])).toBe('(root)');
  });

  it('every issue becomes [field, message] under a prefix, without zod\'s "Invalid input: " lead-in', () => {
    const problems = issueProblems(issuesOf({ model: 'm', input: ['a', 7], dimensions: 'x' }), ['input']);
    expect(problems).toContainEqual(['input.dimensions', 'expected number, received string']);
    expect(problems.map(([field]) => field)).toContain('input.input');
  });

  it('the first issue is an invalid_request naming the field in its message and param', () => {
    const e = invalidRequestOf(issuesOf({ model: 'm', input: 'x', dimensions: 1.5 }));
    expect(e).toBeInstanceOf(GatewayError);
    expect(e).toMatchObject({ kind: 'invalid_request', param: 'dimensions' });
    expect(e.message).toMatch(/^dimensions: /);
    expect(invalidRequestOf(z.string().safeParse(1).error!.issues)).toMatchObject({ param: '(root)', message: '(root): expected string, received number' });
  });
});

describe('ids', () => {
  it('a prefix and 32 hex digits, different each time', () => {
    const a = newId('cmpl');
    expect(a).toMatch(/^cmpl_[0-9a-f]{32}$/);
    expect(newId('cmpl')).not.toBe(a);
  });

  it('stays unique and well formed across many refills of the random block', () => {
    // 256 ids use up one 4 KiB block; 2,000 cross it several times, also at the boundary.
    const ids = Array.from({ length: 2000 }, () => newId('req'));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(randomHex()).toMatch(/^[0-9a-f]{32}$/);
  });
});
