/**
 * Malformed input on REST (/v1/chat/completions) and the Messages API (/v1/messages): every answer must be
 * a 4xx in the API's own error shape (or, for odd-but-valid input such as lone surrogates, a proper
 * answer), never a 5xx, a hang or a dropped connection. Then the body-level attacks: a body just under and
 * just over the limit, a chunked body that never ends (408 within the body timeout) and one that floods
 * past the limit (413).
 */
import { auth } from '../lib/gateway.ts';
import { send, type HttpResult } from '../lib/http.ts';
import {
  BODY_LIMIT,
  ctorKey,
  deepArray,
  deepObject,
  INVALID_UTF8,
  LONE_SURROGATE_ESCAPED,
  protoKey,
  withRawBytes,
} from '../lib/payloads.ts';
import { judgeMessages, judgeRest } from '../lib/shapes.ts';
import type { CaseContext, ChaosCase } from '../lib/suite.ts';

type Api = 'rest' | 'messages';
interface Probe {
  label: string;
  api: Api;
  body: string | Buffer;
  /** `client`: must be refused with a 4xx; `any`: a success or a 4xx (valid JSON whose content is odd). */
  expect: 'client' | 'any';
  headers?: Record<string, string>;
}

const msgs = '[{"role":"user","content":"hi"}]';
const rest = (fields: string) => `{"model":"default","messages":${msgs}${fields ? `,${fields}` : ''}}`;
const anth = (fields: string) => `{"model":"default","max_tokens":64,"messages":${msgs}${fields ? `,${fields}` : ''}}`;
const tool = (params: string) => `"tools":[{"type":"function","function":{"name":"f","parameters":${params}}}]`;

function probes(): Probe[] {
  const p: Probe[] = [];
  const both = (label: string, restBody: string | Buffer, anthBody: string | Buffer, expect: Probe['expect']) => {
    p.push({ label: `REST ${label}`, api: 'rest', body: restBody, expect });
    p.push({ label: `Messages ${label}`, api: 'messages', body: anthBody, expect });
  };
  // Not JSON at all.
  for (const [label, body] of [
    ['invalid JSON', '{"model": "default", "messages": ['],
    ['empty body', ''],
    ['trailing garbage', `${rest('')}xyz`],
    ['NaN literal', '{"model":"default","temperature":NaN}'],
    ['single quotes', "{'model':'default'}"],
    ['BOM-prefixed body', `\ufeff${rest('')}`],
  ] as const) both(label, body, body, 'client');
  // JSON of the wrong types.
  for (const [label, body] of [
    ['top-level array', '[]'],
    ['top-level null', 'null'],
    ['top-level string', '"hello"'],
    ['top-level number', '42'],
    ['model is a number', '{"model":5,"messages":[{"role":"user","content":"hi"}],"max_tokens":64}'],
    ['messages is a string', '{"model":"default","messages":"hi","max_tokens":64}'],
    ['messages is null', '{"model":"default","messages":null,"max_tokens":64}'],
    ['content is an object', '{"model":"default","messages":[{"role":"user","content":{"a":1}}],"max_tokens":64}'],
    ['role is unknown', '{"model":"default","messages":[{"role":"root","content":"hi"}],"max_tokens":64}'],
    ['stream is a string', '{"model":"default","messages":[{"role":"user","content":"hi"}],"stream":"yes","max_tokens":64}'],
    ['temperature is a string', '{"model":"default","messages":[{"role":"user","content":"hi"}],"temperature":"hot","max_tokens":64}'],
    ['max_tokens negative', '{"model":"default","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}'],
    ['max_tokens huge', '{"model":"default","messages":[{"role":"user","content":"hi"}],"max_tokens":1e308}'],
    ['messages empty', '{"model":"default","messages":[],"max_tokens":64}'],
  ] as const) both(label, body, body, 'client');
  // 10,000 levels of nesting, in every free-form field and as the body itself.
  both('10k-deep body', deepArray(), deepArray(), 'client');
  both('10k-deep object body', deepObject(), deepObject(), 'client');
  both('10k-deep metadata', rest(`"metadata":${deepObject()}`), anth(`"metadata":${deepObject()}`), 'client');
  both('10k-deep tool schema', rest(tool(deepObject())), anth(`"tools":[{"name":"f","input_schema":${deepObject()}}]`), 'client');
  both('10k-deep content', `{"model":"default","messages":[{"role":"user","content":${deepArray()}}],"max_tokens":64}`, `{"model":"default","max_tokens":64,"messages":[{"role":"user","content":${deepArray()}}]}`, 'client');
  p.push({ label: 'REST 10k-deep providerOptions', api: 'rest', body: rest(`"switchboard":{"providerOptions":{"openai":${deepObject()}}}`), expect: 'client' });
  p.push({ label: 'REST 10k-deep response schema', api: 'rest', body: rest(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deepObject()}}}`), expect: 'client' });
  p.push({ label: 'REST 100k-deep body', api: 'rest', body: deepArray(100_000), expect: 'client' });
  // Lone surrogates (escaped: valid JSON, invalid Unicode) and raw bytes that are not UTF-8.
  both('lone surrogates in content', `{"model":"default","max_tokens":64,"messages":[{"role":"user","content":"${LONE_SURROGATE_ESCAPED}"}]}`, `{"model":"default","max_tokens":64,"messages":[{"role":"user","content":"${LONE_SURROGATE_ESCAPED}"}]}`, 'any');
  both('lone surrogate as model', '{"model":"\\ud800","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}', '{"model":"\\ud800","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}', 'client');
  both('lone surrogate as a key', rest('"\\ud800":1'), anth('"\\ud800":1'), 'client');
  const rawTemplate = '{"model":"default","max_tokens":64,"messages":[{"role":"user","content":"bytes @@RAW@@ end"}]}';
  both('invalid UTF-8 bytes in content', withRawBytes(rawTemplate, INVALID_UTF8), withRawBytes(rawTemplate, INVALID_UTF8), 'any');
  p.push({ label: 'REST lone surrogate in a stream request', api: 'rest', body: `{"model":"default","stream":true,"messages":[{"role":"user","content":"${LONE_SURROGATE_ESCAPED}"}]}`, expect: 'any' });
  // Prototype pollution: at the top, in metadata, in providerOptions (merged key by key), in tool schemas, in messages.
  both('__proto__ at the top', rest(protoKey), anth(protoKey), 'any');
  both('constructor.prototype at the top', rest(ctorKey), anth(ctorKey), 'any');
  both('__proto__ in metadata', rest(`"metadata":{${protoKey}}`), anth(`"metadata":{${protoKey}}`), 'any');
  both('__proto__ in a message', `{"model":"default","max_tokens":64,"messages":[{"role":"user","content":"hi",${protoKey}}]}`, `{"model":"default","max_tokens":64,"messages":[{"role":"user","content":"hi",${protoKey}}]}`, 'any');
  both('__proto__ in a tool schema', rest(tool(`{"type":"object",${protoKey},"properties":{${protoKey}}}`)), anth(`"tools":[{"name":"f","input_schema":{"type":"object",${protoKey}}}]`), 'any');
  p.push({ label: 'REST __proto__ in providerOptions', api: 'rest', body: rest(`"switchboard":{"providerOptions":{"openai":{${protoKey}},${protoKey}}}`), expect: 'any' });
  p.push({ label: 'REST constructor.prototype in providerOptions', api: 'rest', body: rest(`"switchboard":{"providerOptions":{"openai":{${ctorKey}},${ctorKey}}}`), expect: 'any' });
  p.push({ label: 'REST __proto__ in switchboard', api: 'rest', body: rest(`"switchboard":{${protoKey}}`), expect: 'any' });
  // Many small things: 100,000 messages (just under the body limit).
  const many = Array.from({ length: 100_000 }, () => '{"role":"user","content":"a"}').join(',');
  both('100,000 messages', `{"model":"default","max_tokens":64,"messages":[${many}]}`, `{"model":"default","max_tokens":64,"messages":[${many}]}`, 'any');
  // Bodies just under and just over the limit (the limit counts bytes; the content is a single huge string).
  const pad = (template: string, target: number) => template.replace('@@PAD@@', 'a'.repeat(target - Buffer.byteLength(template) + '@@PAD@@'.length));
  const restHuge = '{"model":"default","messages":[{"role":"user","content":"@@PAD@@"}]}';
  const anthHuge = '{"model":"default","max_tokens":64,"messages":[{"role":"user","content":"@@PAD@@"}]}';
  both('body 1 KiB under the limit', pad(restHuge, BODY_LIMIT - 1024), pad(anthHuge, BODY_LIMIT - 1024), 'any');
  both('body 1 KiB over the limit', pad(restHuge, BODY_LIMIT + 1024), pad(anthHuge, BODY_LIMIT + 1024), 'client');
  p.push({ label: 'REST a 20 KiB header', api: 'rest', body: rest(''), expect: 'client', headers: { 'x-chaos-filler': 'h'.repeat(20 * 1024) } });
  p.push({ label: 'REST a bad x-request-id', api: 'rest', body: rest(''), expect: 'any', headers: { 'x-request-id': '\u00ff'.repeat(300) } });
  p.push({ label: 'REST a bad cache header', api: 'rest', body: rest(''), expect: 'client', headers: { 'x-switchboard-cache': 'NOPE; ttl=-1' } });
  return p;
}

function judge(ctx: CaseContext, api: Api, label: string, r: HttpResult, expect: Probe['expect']): void {
  if (api === 'rest') judgeRest(ctx.t, label, r, { clientError: expect === 'client' });
  else judgeMessages(ctx.t, label, r, { clientError: expect === 'client' });
}

/** A chunked body that never ends: one small chunk every 100 ms. */
async function endlessBody(ctx: CaseContext, api: Api, path: string, bodyTimeoutMs: number): Promise<void> {
  const label = `${api === 'rest' ? 'REST' : 'Messages'} never-ending chunked body`;
  const r = await send(ctx.gateway.url, {
    path,
    headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: (req) => {
      req.write('{"model":"default","messages":[{"role":"user","content":"');
      const timer = setInterval(() => (req.destroyed ? clearInterval(timer) : req.write('a')), 100);
      req.once('close', () => clearInterval(timer));
    },
    timeoutMs: bodyTimeoutMs + 10_000,
  });
  if (r.status === 0 && !r.timedOut) {
    ctx.t.saw('closed');
    if (r.ms > bodyTimeoutMs + 3_000) ctx.t.fail('other', label, `connection closed only after ${Math.round(r.ms)} ms`);
    return;
  }
  if (r.status !== 408 && r.status !== 0) ctx.t.fail('other', label, `answered ${r.status}, expected 408 after the body timeout`);
  if (r.status === 408 && r.ms > bodyTimeoutMs + 3_000) ctx.t.fail('other', label, `408 only after ${Math.round(r.ms)} ms (body timeout ${bodyTimeoutMs} ms)`);
  judge(ctx, api, label, r, 'client');
}

/** A chunked body (no content-length) that floods past the limit: 413 in the API's shape, then the connection closes. */
async function floodBody(ctx: CaseContext, api: Api, path: string): Promise<void> {
  const label = `${api === 'rest' ? 'REST' : 'Messages'} chunked flood past the limit`;
  const block = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  const r = await send(ctx.gateway.url, {
    path,
    headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: (req) => {
      const pump = () => {
        while (!req.destroyed && sent < BODY_LIMIT * 4) {
          sent += block.length;
          if (!req.write(block)) return void req.once('drain', pump);
        }
        if (!req.destroyed) req.end();
      };
      req.on('response', () => (sent = Number.POSITIVE_INFINITY));
      pump();
    },
    timeoutMs: 15_000,
  });
  if (r.status !== 413) {
    ctx.t.saw(r.status || 'no-response');
    ctx.t.fail('other', label, `expected 413, got ${r.status || r.error}`);
    return;
  }
  judge(ctx, api, label, r, 'client');
}

export const restInput: ChaosCase = {
  name: 'rest-input',
  group: 'malformed input',
  summary: 'REST and /v1/messages: invalid JSON, wrong types, 10k-deep nesting, lone surrogates, __proto__ keys, huge and endless bodies',
  budgetMs: () => 120_000,
  async run(ctx) {
    const headers = { ...auth, 'content-type': 'application/json' };
    for (const p of probes()) {
      if (ctx.signal.aborted) return;
      const path = p.api === 'rest' ? '/v1/chat/completions' : '/v1/messages';
      const r = await send(ctx.gateway.url, { path, headers: { ...headers, ...p.headers }, body: p.body, timeoutMs: 20_000, agent: false });
      judge(ctx, p.api, p.label, r, p.expect);
    }
    await Promise.all([
      endlessBody(ctx, 'rest', '/v1/chat/completions', 3_000),
      endlessBody(ctx, 'messages', '/v1/messages', 3_000),
      floodBody(ctx, 'rest', '/v1/chat/completions'),
      floodBody(ctx, 'messages', '/v1/messages'),
    ]);
  },
};
