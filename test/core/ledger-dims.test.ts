import { describe, expect, it } from 'vitest';
import { dimsKey, parseDimsKey, type RollupDims } from '../../src/core/index.ts';

describe('rollup dims keys', () => {
  const chat: RollupDims = { provider: 'p', model: 'm', route: 'r', keyName: 'k', team: '', operation: 'chat' };

  it('a chat row keeps the five-field key rollups were stored under before operations were a dimension', () => {
    expect(dimsKey(chat)).toBe('["p","m","r","k",""]');
    expect(parseDimsKey('["p","m","r","k",""]')).toEqual(chat);
  });

  it('an embeddings row has a key of its own that reads back', () => {
    const embeddings = { ...chat, operation: 'embeddings' };
    expect(dimsKey(embeddings)).not.toBe(dimsKey(chat));
    expect(parseDimsKey(dimsKey(embeddings))).toEqual(embeddings);
  });
});
