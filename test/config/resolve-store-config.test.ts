import { describe, expect, it } from 'vitest';
import { resolveStoreConfig, StoreConfigSchema } from '../../src/config/index.ts';

describe('store config', () => {
  it('fills defaults; REDIS_URL applies only when config keeps the memory default', () => {
    expect(StoreConfigSchema.parse({ kind: 'redis', url: 'redis://x' })).toMatchObject({ prefix: 'sb:', failure: { limits: 'open', budgets: 'open' } });
    expect(resolveStoreConfig(undefined, {})).toMatchObject({ kind: 'memory' });
    expect(resolveStoreConfig({ kind: 'memory', failure: { budgets: 'closed' } }, { REDIS_URL: 'redis://env:6379' })).toMatchObject({
      kind: 'redis', url: 'redis://env:6379', failure: { budgets: 'closed' },
    });
    expect(resolveStoreConfig({ kind: 'redis', url: 'redis://cfg' }, { REDIS_URL: 'redis://env' })).toMatchObject({ url: 'redis://cfg' });
    expect(() => StoreConfigSchema.parse({ kind: 'redis', url: 'redis://x', prefix: 'a{b}' })).toThrow(/hash tags/);
    expect(() => StoreConfigSchema.parse({ kind: 'redis', url: 'redis://x', failure: { limits: 'maybe' } })).toThrow();
  });
});
