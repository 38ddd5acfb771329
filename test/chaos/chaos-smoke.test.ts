/**
 * Keeps the chaos suite (`npm run chaos`, chaos/) working: its judges must flag what they exist to flag, and
 * two of its fastest cases (malformed GraphQL over HTTP and graphql-ws) must run against a real gateway
 * process through the suite's own runner and come back clean.
 */
import { describe, expect, it } from 'vitest';
import { CASES } from '../../chaos/cases/index.ts';
import type { HttpResult } from '../../chaos/lib/http.ts';
import { judgeGraphQL, judgeMessages, judgeRest } from '../../chaos/lib/shapes.ts';
import { runSuite } from '../../chaos/lib/suite.ts';
import { Tally, type CaseResult } from '../../chaos/lib/tally.ts';
import { judgeWsOperation } from '../../chaos/lib/ws.ts';
import { buildReport, caseFailures } from '../../chaos/report.ts';

const answer = (status: number, body: string, headers: Record<string, string> = {}): HttpResult => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: Buffer.from(body),
  ms: 1,
});
const sse = (body: string) => answer(200, body, { 'content-type': 'text/event-stream' });
const chunk = (content: string, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;
const openAiError = (code: string) => JSON.stringify({ error: { message: 'm', type: 'server_error', param: null, code } });

describe('the chaos judges', () => {
  it('flag a 500, an unmapped 5xx and a 5xx for a client mistake on REST, but not a mapped provider error', () => {
    const t = new Tally('t');
    judgeRest(t, 'internal', answer(500, openAiError('internal')));
    judgeRest(t, 'unmapped', answer(502, openAiError('weird')));
    judgeRest(t, 'client', answer(503, openAiError('unavailable')), { clientError: true });
    expect(t.failures.unexpected5xx).toBe(3);
    const ok = new Tally('ok');
    judgeRest(ok, 'mapped', answer(502, openAiError('invalid_response')));
    judgeRest(ok, 'refused', answer(400, JSON.stringify({ error: { message: 'bad', type: 'invalid_request_error', param: 'body', code: 'invalid_request' } })), { clientError: true });
    expect(ok.failed()).toBe(false);
  });

  it('flag error bodies of the wrong shape on every API', () => {
    const t = new Tally('t');
    judgeRest(t, 'rest', answer(400, '{"message":"bad"}'));
    judgeMessages(t, 'messages', answer(400, '{"error":{"message":"bad"}}'));
    judgeGraphQL(t, 'graphql', answer(400, '{"errors":[{"message":"no code"}]}'));
    judgeRest(t, 'dropped', { status: 0, headers: {}, body: Buffer.alloc(0), ms: 1, error: 'ECONNRESET' });
    expect(t.failures.wrongShape).toBe(4);
  });

  it('flag streams that end without their end marker or an error frame, and broken upstreams reported as success', () => {
    const t = new Tally('t');
    judgeRest(t, 'no [DONE]', sse(chunk('a') + chunk('b', 'stop')));
    judgeRest(t, 'no finish', sse(`${chunk('a')}data: [DONE]\n\n`));
    judgeRest(t, 'hidden break', sse(`${chunk('a', 'stop')}data: [DONE]\n\n`), { brokenUpstream: true });
    judgeMessages(t, 'no message_stop', sse('event: message_start\ndata: {}\n\nevent: content_block_delta\ndata: {}\n\n'));
    judgeWsOperation(t, 'ws cut', { nexts: [{ data: { completionStream: { __typename: 'TextDeltaEvent' } } }], end: 'closed', close: { code: 1001, reason: '' } }, { stream: true });
    judgeWsOperation(t, 'ws no terminal', { nexts: [{ data: { completionStream: { __typename: 'TextDeltaEvent' } } }], end: 'complete' }, { stream: true });
    expect(t.failures.silentTruncation).toBe(6);
    const ok = new Tally('ok');
    judgeRest(ok, 'complete', sse(`${chunk('a', 'stop')}data: [DONE]\n\n`));
    judgeRest(ok, 'error frame', sse(`${chunk('a')}data: ${openAiError('invalid_response')}\n\n`), { brokenUpstream: true });
    expect(ok.failed()).toBe(false);
  });

  it('fail a full run on RSS growth past 10% after settling, and a short run only on findings', () => {
    const result: CaseResult = { name: 'c', group: 'g', summary: '', durationMs: 1, probes: 1, statuses: {}, failures: { crash: 0, unexpected5xx: 0, wrongShape: 0, silentTruncation: 0, usageLost: 0, other: 0 }, examples: {}, usageEventsLost: null, notes: [], rss: { beforeMiB: 100, afterMiB: 120, peakMiB: 130, growthPct: 20, heapBeforeMiB: 30, heapAfterMiB: 31 } };
    expect(caseFailures(result, 'short')).toEqual([]);
    expect(caseFailures(result, 'full')).toHaveLength(1);
    expect(buildReport([result], 'full', new Date(), 2).passed).toBe(false);
  });
});

describe('the chaos suite against a real gateway process', () => {
  it('runs the malformed GraphQL and graphql-ws cases clean, checking the gateway before and after each', async () => {
    const cases = CASES.filter((c) => c.name === 'graphql-input' || c.name === 'ws-input');
    expect(cases).toHaveLength(2);
    const results = await runSuite(cases, { short: true, log: () => undefined });
    expect(results.map((r) => r.name)).toEqual(['graphql-input', 'ws-input']);
    for (const r of results) {
      expect(r.examples, r.name).toEqual({});
      expect(caseFailures(r, 'short'), r.name).toEqual([]);
      expect(r.probes, r.name).toBeGreaterThan(40);
      expect(r.rss?.afterMiB, r.name).toBeGreaterThan(0);
    }
  }, 90_000);
});
