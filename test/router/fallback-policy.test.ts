/** Every error kind maps to one fallback action. */
import { describe, expect, it } from 'vitest';
import { ERROR_KINDS } from '../../src/core/index.ts';
import { fallbackAction } from '../../src/router/fallback-policy.ts';

describe('fallbackAction', () => {
  it.each([
    ['rate_limited', 'next-after'],
    ['overloaded', 'next'],
    ['unavailable', 'next'],
    ['timeout', 'next'],
    ['invalid_response', 'next'],
    ['auth', 'skip'],
    ['forbidden', 'skip'],
    ['not_found', 'skip'],
    ['unsupported_feature', 'skip'],
    ['context_length_exceeded', 'larger-window'],
    ['invalid_request', 'stop'],
    ['payload_too_large', 'stop'],
    ['budget_exceeded', 'stop'],
    ['content_filter', 'stop'],
    ['cancelled', 'stop'],
    ['internal', 'stop'],
  ] as const)('%s → %s', (kind, action) => {
    expect(fallbackAction(kind)).toBe(action);
  });

  it('covers every error kind', () => {
    for (const kind of ERROR_KINDS) expect(['next', 'next-after', 'skip', 'larger-window', 'stop']).toContain(fallbackAction(kind));
  });
});
