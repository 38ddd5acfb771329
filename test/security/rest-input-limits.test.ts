/**
 * Free-form JSON fields (tool parameters, a response JSON schema, `prediction`, GraphQL JSON variables) are
 * walked recursively further on (zod, canonical JSON for cache keys and idempotency hashes, the adapters'
 * JSON.stringify). Nested thousands deep they used to overflow the stack (a 500, or an ERROR attempt
 * against a provider); now they are refused up front with invalid_request naming the field.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exceedsJsonDepth, jsonTextExceedsDepth, MAX_JSON_DEPTH } from '../../src/core/json-depth.ts';
import { canonicalJson } from '../../src/gateway/request-hash.ts';
import { startStack, type Stack } from '../helpers/start-stack.ts';

const ADMIN = 'sk-admin-0123456789abcdef';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack((c) => {
    c.keys = [{ key: ADMIN, name: 'ops', scope: 'admin' }];
  });
});
afterAll(() => stack?.close());

/** JSON text of `{"type":"object","properties":{"a":{"type":"object","properties":{"a":…}}}}` — n objects deep. */
function deepSchema(n: number): string {
  return '{"type":"object","properties":{"a":'.repeat(n) + '{"type":"string"}' + '}}'.repeat(n);
}

/** JSON text of `[[[…]]]`, n arrays deep. */
function deepArray(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

const MESSAGES = '[{"role":"user","content":"hello"}]';

function upstreamRequests(): number {
  return Object.values(stack.sims).reduce((n, s) => n + s.stats.requests, 0);
}

async function post(body: string, headers: Record<string, string> = {}): Promise<{ status: number; error: Record<string, unknown> }> {
  const res = await fetch(`${stack.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}`, ...headers },
    body,
  });
  const json = (await res.json()) as { error: Record<string, unknown> };
  return { status: res.status, error: json.error };
}

const tooDeep = (field: string) => new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}: nested deeper than ${MAX_JSON_DEPTH} levels`);

describe('REST: deeply nested free-form JSON', () => {
  const fields: Array<[string, (deep: string) => string]> = [
    ['prediction', (deep) => `{"model":"default","messages":${MESSAGES},"prediction":{"type":"content","content":${deep}}}`],
    [
      'tools[0].function.parameters',
      (deep) => `{"model":"default","messages":${MESSAGES},"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]}`,
    ],
    [
      'response_format.json_schema.schema',
      (deep) => `{"model":"default","messages":${MESSAGES},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":${deep}}}}`,
    ],
  ];

  for (const [field, body] of fields) {
    it(`${field} nested 5,000 deep is a 400 invalid_request naming the field`, async () => {
      const before = upstreamRequests();
      const deep = field === 'prediction' ? deepArray(5_000) : deepSchema(5_000);
      const { status, error } = await post(body(deep));
      expect(status).toBe(400);
      expect(error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param: field });
      expect(error.message).toMatch(tooDeep(field));
      expect(upstreamRequests()).toBe(before);
    });
  }

  it('3,000 deep with temperature 0 (cacheable) is a 400, not a 500', async () => {
    const body = `{"model":"default","temperature":0,"messages":${MESSAGES},"tools":[{"type":"function","function":{"name":"f","parameters":${deepSchema(3_000)}}}]}`;
    const { status, error } = await post(body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_request', param: 'tools[0].function.parameters' });
  });

  it('3,000 deep with an Idempotency-Key is a 400, not a 500', async () => {
    const body = `{"model":"default","messages":${MESSAGES},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":${deepSchema(3_000)}}}}`;
    const { status, error } = await post(body, { 'idempotency-key': `deep-${Date.now()}` });
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_request', param: 'response_format.json_schema.schema' });
  });

  it('a streamed request is refused the same way, before any header of the stream', async () => {
    const body = `{"model":"default","stream":true,"messages":${MESSAGES},"prediction":{"type":"content","content":${deepArray(5_000)}}}`;
    const { status, error } = await post(body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_request', param: 'prediction' });
  });

  it('an ordinary nested schema (depth ~10) still works, cached and idempotent alike', async () => {
    const client = new OpenAI({ apiKey: ADMIN, baseURL: `${stack.url}/v1`, maxRetries: 0 });
    const address = {
      type: 'object',
      properties: { street: { type: 'object', properties: { line: { type: 'object', properties: { text: { type: 'string' } } } } } },
    };
    const parameters = { type: 'object', properties: { city: { type: 'string' }, where: { type: 'object', properties: { address } } } };
    const res = await client.chat.completions.create(
      {
        model: 'default',
        temperature: 0,
        messages: [{ role: 'user', content: 'call lookup for Paris' }],
        tools: [{ type: 'function', function: { name: 'lookup', parameters } }],
      },
      { headers: { 'idempotency-key': `normal-${Date.now()}` } },
    );
    const call = res.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.name).toBe('lookup');
    expect(JSON.parse(call.type === 'function' ? call.function.arguments : '{}')).toHaveProperty('where.address.street.line.text');
  });

  it('tool-call arguments sent back nested 5,000 deep are refused (the adapters parse them)', async () => {
    const args = JSON.stringify(deepSchema(5_000));
    const body = `{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":${args}}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]}`;
    const { status, error } = await post(body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'invalid_request', param: 'messages[1].tool_calls[0].function.arguments' });
  });

  it('a tool result whose text is JSON nested 5,000 deep reaches Gemini as text, not a 500', async () => {
    const body = JSON.stringify({
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: deepSchema(5_000) },
      ],
    });
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body,
    });
    expect(res.status).toBe(200);
  });

  it(`exactly ${MAX_JSON_DEPTH} levels is accepted; one more is not`, async () => {
    // `[]` is one level; the schema object is one more.
    const body = (arrays: number) =>
      `{"model":"default","messages":${MESSAGES},"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","x":${deepArray(arrays)}}}}}`;
    const accepted = await fetch(`${stack.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: body(MAX_JSON_DEPTH - 1),
    });
    expect(accepted.status).toBe(200);
    const refused = await post(body(MAX_JSON_DEPTH));
    expect(refused.status).toBe(400);
    expect(refused.error).toMatchObject({ code: 'invalid_request', param: 'response_format.json_schema.schema' });
  });
});

describe('GraphQL: deeply nested JSON variables', () => {
  const query =
    'mutation($input: CompletionInput!) { createCompletion(input: $input) { id attempts { status } } }';

  async function gql(variablesJson: string): Promise<{ data: unknown; errors?: Array<{ message: string; extensions: Record<string, unknown> }> }> {
    const res = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: `{"query":${JSON.stringify(query)},"variables":${variablesJson}}`,
    });
    return (await res.json()) as { data: unknown; errors?: Array<{ message: string; extensions: Record<string, unknown> }> };
  }

  it('tool parameters nested 10,000 deep: BAD_USER_INPUT naming the field, and no upstream call', async () => {
    const before = upstreamRequests();
    const input = `{"input":{"messages":[{"role":"USER","content":"call f"}],"tools":[{"name":"f","parameters":${deepSchema(10_000)}}]}}`;
    const body = await gql(input);
    expect(body.errors).toHaveLength(1);
    const [error] = body.errors!;
    expect(error!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.tools[0].parameters' });
    expect(error!.extensions.attempts).toBeUndefined();
    expect(error!.message).toMatch(tooDeep('input.tools[0].parameters'));
    expect(upstreamRequests()).toBe(before);
  });

  it('a response-format schema and providerOptions nested 10,000 deep are refused too', async () => {
    const before = upstreamRequests();
    const schema = await gql(`{"input":{"messages":[{"role":"USER","content":"x"}],"responseFormat":{"type":"JSON_SCHEMA","schema":${deepSchema(10_000)}}}}`);
    expect(schema.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.responseFormat.schema' });
    const options = await gql(`{"input":{"messages":[{"role":"USER","content":"x"}],"providerOptions":{"openai":{"prediction":${deepArray(10_000)}}}}}`);
    expect(options.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', param: 'input.providerOptions.openai.prediction' });
    expect(upstreamRequests()).toBe(before);
  });
});

describe('the depth check and canonical JSON', () => {
  it('counts levels of objects and arrays, in values and in JSON text alike', () => {
    const nest = (n: number): unknown => (n === 0 ? 'leaf' : n % 2 ? { a: nest(n - 1) } : [1, nest(n - 1)]);
    for (const n of [0, 1, 2, 63, 64, 65]) {
      expect(exceedsJsonDepth(nest(n), 64)).toBe(n > 64);
      expect(jsonTextExceedsDepth(JSON.stringify(nest(n)), 64)).toBe(n > 64);
    }
    // Brackets inside strings (escaped quotes included) are text, not nesting.
    expect(jsonTextExceedsDepth(JSON.stringify({ s: '[[[[\\"{{{{' }), 2)).toBe(false);
    // 100,000 levels: no recursion, so no stack overflow.
    expect(exceedsJsonDepth(JSON.parse(deepArray(100_000)))).toBe(true);
  });

  it('canonical JSON is iterative and serializes as before: sorted keys, undefined members dropped', () => {
    // The recursive definition it replaces.
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : reference(v))).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
    };
    const samples: unknown[] = [
      null,
      'text "quoted"',
      3.5,
      [],
      {},
      [undefined, 1, [2, [3, {}]], null],
      { b: 1, a: { d: [true, false], c: undefined, 'é"': 'x' }, '': [] },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [{ name: 'f', parameters: { type: 'object' } }] },
    ];
    for (const v of samples) expect(canonicalJson(v)).toBe(reference(v));
    // 20,000 levels (the recursive one overflowed near 3,000): keys sorted at every level.
    const n = 20_000;
    const sorted = '{"properties":{"a":'.repeat(n) + '{"type":"string"}' + '},"type":"object"}'.repeat(n);
    expect(canonicalJson(JSON.parse(deepSchema(n)))).toBe(sorted);
  });
});
