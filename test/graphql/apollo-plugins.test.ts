import { createHash as cryptoHash } from 'node:crypto';
import { Trace } from '@apollo/usage-reporting-protobuf';
import Negotiator from 'negotiator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import MemoNegotiator from '../../src/server/graphql/bundle-shims/memo-negotiator.ts';
import { createHash } from '../../src/server/graphql/bundle-shims/node-create-hash.ts';
import { ADMIN_KEY, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const QUERY = '{ providers { id } }';
async function post(headers: Record<string, string>, query = QUERY) {
  const res = await fetch(h.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, ...headers },
    body: JSON.stringify({ query }),
  });
  return { res, body: (await res.json()) as { data?: unknown; errors?: unknown; extensions?: Record<string, unknown> } };
}

describe("Apollo's implicit plugins as the endpoint runs them", () => {
  it('answers every operation with cache-control: no-store, as the cache-control plugin did for this schema', async () => {
    const q = await post({});
    expect(q.body.errors).toBeUndefined();
    expect(q.res.headers.get('cache-control')).toBe('no-store');
    const bad = await post({}, '{ noSuchField }');
    expect(bad.res.status).toBe(400);
    expect(bad.res.headers.get('cache-control')).toBe('no-store');
  });

  it('negotiates the media type from Accept', async () => {
    expect((await post({})).res.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await post({ accept: 'application/graphql-response+json, application/json;q=0.9' })).res.headers.get('content-type')).toMatch(/^application\/graphql-response\+json/);
    expect((await post({ accept: 'application/json' })).res.headers.get('content-type')).toMatch(/^application\/json/);
    const refused = await fetch(h.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/csv', authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify({ query: QUERY }) });
    expect(refused.status).toBe(406);
  });

  it("gives a federation router the subgraph's trace (ftv1) when it asks, and no one else", async () => {
    const plain = await post({});
    expect(plain.body.extensions?.ftv1).toBeUndefined();
    const traced = await post({ 'apollo-federation-include-trace': 'ftv1' });
    expect(traced.body.errors).toBeUndefined();
    const ftv1 = traced.body.extensions?.ftv1;
    expect(typeof ftv1).toBe('string');
    const trace = Trace.decode(Buffer.from(ftv1 as string, 'base64'));
    expect(trace.root?.child?.map((c) => c.responseName)).toEqual(['providers']);
    expect(Number(trace.durationNs)).toBeGreaterThan(0);
  });
});

describe('the bundle shims', () => {
  const ACCEPTS = [
    undefined,
    '',
    '*/*',
    'application/json',
    'application/graphql-response+json, application/json;q=0.9',
    'multipart/mixed;deferSpec=20220824, application/json',
    'multipart/mixed; incrementalSpec=v0.2, application/graphql-response+json;q=0.5',
    'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
    'text/csv',
    'application/*;q=0.2, application/json;q=0',
  ];
  const OFFERS = [
    ['application/json', 'application/graphql-response+json', 'application/json; callback=x'],
    ['multipart/mixed; incrementalSpec=v0.2', 'multipart/mixed; deferSpec=20220824'],
    ['multipart/mixed', 'multipart/mixed; incrementalSpec=v0.2', 'multipart/mixed; deferSpec=20220824'],
  ];

  it('MemoNegotiator answers as negotiator does, also when asked again and after its memo starts over', () => {
    for (let round = 0; round < 3; round++) {
      for (const accept of ACCEPTS) {
        for (const offer of OFFERS) {
          const headers = { accept };
          expect(new MemoNegotiator({ headers }).mediaType(offer), `${accept} / ${offer.join(' | ')}`).toBe(new Negotiator({ headers }).mediaType(offer));
        }
        expect(new MemoNegotiator({ headers: { accept } }).mediaType()).toBe(new Negotiator({ headers: { accept } }).mediaType());
      }
      // Enough distinct headers to fill the memo, so the next round starts over.
      for (let i = 0; i < 300; i++) new MemoNegotiator({ headers: { accept: `application/x-${i}` } }).mediaType(['application/json']);
    }
  });

  it("node-create-hash digests as node:crypto's Hash does", () => {
    const query = 'mutation Bench { createCompletion(input: { messages: [{ role: USER, content: "héllo ✓" }] }) { id } }';
    expect(createHash('sha256').update(query).digest('hex')).toBe(cryptoHash('sha256').update(query).digest('hex'));
    expect(createHash('sha512').update('x').digest('hex')).toBe(cryptoHash('sha512').update('x').digest('hex'));
    expect(createHash('sha256').update(query).digest('base64')).toBe(cryptoHash('sha256').update(query).digest('base64'));
    expect(createHash('sha256').update(query).digest().equals(cryptoHash('sha256').update(query).digest())).toBe(true);
    expect(createHash('sha256').update('').digest('hex')).toBe(cryptoHash('sha256').update('').digest('hex'));
    const parts = createHash('sha256').update('ab').update(Buffer.from('cd')).update('6566', 'hex').digest('hex');
    expect(parts).toBe(cryptoHash('sha256').update('ab').update(Buffer.from('cd')).update('6566', 'hex').digest('hex'));
  });
});
