/**
 * Malformed input on GraphQL over HTTP (/graphql): every answer must be `errors[]` with an
 * `extensions.code` on each, a 4xx for what the client got wrong (or a 200 with errors for a refused
 * operation), never a 5xx or INTERNAL_SERVER_ERROR, a hang or a dropped connection.
 */
import { auth } from '../lib/gateway.ts';
import { send } from '../lib/http.ts';
import {
  aliases,
  BODY_LIMIT,
  ctorKey,
  deepArray,
  deepListLiteral,
  deepObject,
  deepSelection,
  INVALID_UTF8,
  LONE_SURROGATE_ESCAPED,
  mutationAliases,
  protoKey,
  withRawBytes,
} from '../lib/payloads.ts';
import { judgeGraphQL } from '../lib/shapes.ts';
import type { ChaosCase } from '../lib/suite.ts';

interface Probe {
  label: string;
  body: string | Buffer;
  /** `client`: must be refused; `any`: data or errors, both shaped. */
  expect: 'client' | 'any';
  method?: 'GET' | 'POST';
  path?: string;
}

const COMPLETE = 'mutation($input: CompletionInput!) { createCompletion(input: $input) { id message { content } } }';
const op = (query: string, variables?: string, extra = '') => `{"query":${JSON.stringify(query)}${variables === undefined ? '' : `,"variables":${variables}`}${extra}}`;
const input = (content: string, extra = '') => `{"input":{"messages":[{"role":"USER","content":${content}}]${extra}}}`;

function probes(): Probe[] {
  const p: Probe[] = [];
  const client = (label: string, body: string | Buffer) => p.push({ label, body, expect: 'client' });
  const any = (label: string, body: string | Buffer) => p.push({ label, body, expect: 'any' });
  // Not JSON, or not a GraphQL request.
  client('invalid JSON', '{"query": "{ __typename }"');
  client('empty object', '{}');
  client('query is a number', '{"query": 5}');
  client('query is null', '{"query": null}');
  client('variables is a string', op('{ __typename }', '"x"'));
  client('operationName is an object', op('{ __typename }', undefined, ',"operationName":{}'));
  client('extensions is an array', op('{ __typename }', undefined, ',"extensions":[]'));
  client('top-level null', 'null');
  client('top-level string', '"{ __typename }"');
  client('empty batch', '[]');
  client('syntax error', op('{ routes { name }'));
  client('unknown field', op('{ nope }'));
  client('subscription over HTTP', op('subscription { completionStream(input: {messages: [{role: USER, content: "x"}]}) { __typename } }'));
  // Wrong variable types.
  client('messages is a number', op(COMPLETE, '{"input":{"messages":5}}'));
  client('role is unknown', op(COMPLETE, '{"input":{"messages":[{"role":"ROOT","content":"x"}]}}'));
  client('temperature is a string', op(COMPLETE, input('"x"', ',"temperature":"hot"')));
  client('maxTokens over Int', op(COMPLETE, input('"x"', ',"maxTokens":1e20')));
  client('input is missing', op(COMPLETE, '{}'));
  // 10,000 levels: selections, list literals, variables, extensions.
  client('10k-deep selection', op(deepSelection()));
  client('10k-deep list literal', op(deepListLiteral()));
  client('10k-deep variables', op(COMPLETE, `{"input":{"messages":[{"role":"USER","content":"x"}],"metadata":${deepObject()}}}`));
  client('10k-deep variable list', op(COMPLETE, `{"input":{"messages":${deepArray()}}}`));
  any('10k-deep extensions', op('{ __typename }', undefined, `,"extensions":${deepObject()}`));
  client('10k-deep body', deepArray());
  client('deep selection within the nesting limit', op(`{ ${'routes { targets { provider { models { provider { '.repeat(12)}id${' } } } } }'.repeat(12)} }`));
  // Aliases and batches.
  client('1,000 aliases', op(aliases(1_000)));
  client('1,000 createCompletion aliases', op(mutationAliases(1_000)));
  client('1,000-operation batch', `[${Array.from({ length: 1_000 }, () => op('{ __typename }')).join(',')}]`);
  any('1,000 fragments spread', op(`{ ...${Array.from({ length: 1_000 }, (_, i) => `f${i}`).join(' ...')} } ${Array.from({ length: 1_000 }, (_, i) => `fragment f${i} on Query { __typename }`).join(' ')}`));
  client('fragment cycle', op('{ ...a } fragment a on Query { ...b } fragment b on Query { ...a }'));
  // Huge strings.
  const pad = (n: number) => `"${'a'.repeat(n)}"`;
  const under = BODY_LIMIT - 1024 - Buffer.byteLength(op(COMPLETE, input('""')));
  any('body 1 KiB under the limit', op(COMPLETE, input(pad(under))));
  client('body 1 KiB over the limit', op(COMPLETE, input(pad(under + 2048))));
  client('document over maxDocumentBytes', op(`{ __typename ${'# padding\n'.repeat(8_000)} }`));
  client('a 1 MiB field name', op(`{ ${'a'.repeat(1024 * 1024)} }`));
  // Lone surrogates and bytes that are not UTF-8.
  any('lone surrogates in variables', op(COMPLETE, input(`"${LONE_SURROGATE_ESCAPED}"`)));
  any('lone surrogate in a document string', `{"query":"mutation { createCompletion(input: {messages: [{role: USER, content: \\"\\\\ud800 x\\"}]}) { id } }"}`);
  any('lone surrogate escaped in the document', `{"query":"{ routes { name } } # \\ud800"}`);
  any('invalid UTF-8 in variables', withRawBytes(op(COMPLETE, input('"bytes @@RAW@@ end"')), INVALID_UTF8));
  client('invalid UTF-8 in the document', withRawBytes('{"query":"{ rou@@RAW@@tes { name } }"}', INVALID_UTF8));
  // Prototype pollution.
  any('__proto__ in the body', op('{ __typename }', undefined, `,${protoKey}`));
  any('constructor.prototype in the body', op('{ __typename }', undefined, `,${ctorKey}`));
  any('__proto__ in variables', op(COMPLETE, `{${protoKey},"input":{"messages":[{"role":"USER","content":"x"}],${protoKey}}}`));
  any('constructor.prototype in variables', op(COMPLETE, `{${ctorKey},"input":{"messages":[{"role":"USER","content":"x",${ctorKey}}]}}`));
  any('__proto__ in providerOptions', op(COMPLETE, input('"x"', `,"providerOptions":{"openai":{${protoKey}},${protoKey}}`)));
  any('__proto__ in extensions', op('{ __typename }', undefined, `,"extensions":{${protoKey}}`));
  client('operationName __proto__', op('query a { __typename } query b { __typename }', undefined, ',"operationName":"__proto__"'));
  // GET with odd parameters.
  p.push({ label: 'GET with a 10k-deep query', body: '', method: 'GET', path: `/graphql?query=${encodeURIComponent(deepSelection())}`, expect: 'client' });
  p.push({ label: 'GET with variables that are not JSON', body: '', method: 'GET', path: `/graphql?query=${encodeURIComponent('{ __typename }')}&variables=%7Bnope`, expect: 'client' });
  p.push({ label: 'GET mutation', body: '', method: 'GET', path: `/graphql?query=${encodeURIComponent('mutation { deleteRoute(name: "x") }')}`, expect: 'client' });
  return p;
}

export const graphqlInput: ChaosCase = {
  name: 'graphql-input',
  group: 'malformed input',
  summary: 'GraphQL over HTTP: invalid JSON, wrong types, 10k-deep selections and variables, 1,000 aliases and batches, huge strings, lone surrogates, __proto__ keys',
  budgetMs: () => 90_000,
  async run(ctx) {
    const headers = { ...auth, 'content-type': 'application/json' };
    for (const p of probes()) {
      if (ctx.signal.aborted) return;
      const method = p.method ?? 'POST';
      const r = await send(ctx.gateway.url, {
        method,
        path: p.path ?? '/graphql',
        // A GET needs a header that forces a browser preflight (Apollo's CSRF prevention).
        headers: method === 'GET' ? { ...auth, 'apollo-require-preflight': 'true' } : headers,
        ...(method === 'POST' && { body: p.body }),
        timeoutMs: 20_000,
        agent: false,
      });
      judgeGraphQL(ctx.t, p.label, r, { clientError: p.expect === 'client' });
    }
  },
};
