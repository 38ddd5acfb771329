import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/** The audit suite's own fetches, with our API key (every request needs one). */
const authedFetch: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${ADMIN_KEY}`);
  return fetch(input, { ...init, headers });
};

describe('GraphQL over HTTP conformance (graphql-http audits)', () => {
  it('passes every MUST audit', async () => {
    const audits = serverAudits({ url: () => h.url, fetchFn: authedFetch });
    expect(audits.length).toBeGreaterThan(20);
    const failures: string[] = [];
    const report: Record<string, number> = {};
    for (const audit of audits) {
      const result = await audit.fn();
      report[`${audit.name.split(' ')[0]} ${result.status}`] = (report[`${audit.name.split(' ')[0]} ${result.status}`] ?? 0) + 1;
      if (audit.name.startsWith('MUST') && result.status !== 'ok') failures.push(`${audit.id} ${audit.name}: ${'reason' in result ? String(result.reason) : ''}`);
    }
    expect(failures).toEqual([]);
    expect(report['MUST ok']).toBeGreaterThan(0);
  });
});
