/** Hostile inputs shared by the REST, Messages, GraphQL and graphql-ws cases. */

export const DEEP = 10_000;
/** The gateway's default `server.bodyLimitBytes` (README "Limits on input"); the main config keeps it. */
export const BODY_LIMIT = 4 * 1024 * 1024;

/** `[[[…]]]`, `depth` levels. */
export const deepArray = (depth = DEEP) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
/** `{"a":{"a":…1…}}`, `depth` levels. */
export const deepObject = (depth = DEEP, key = 'a') => `${`{"${key}":`.repeat(depth)}1${'}'.repeat(depth)}`;

/** `{ a { a { … } } }`, a GraphQL selection `depth` levels deep. */
export const deepSelection = (depth = DEEP) => `{ ${'a { '.repeat(depth)}b${' }'.repeat(depth)} }`;
/** A list literal `depth` levels deep inside an argument. */
export const deepListLiteral = (depth = DEEP) => `{ routes(filter: ${'['.repeat(depth)}1${']'.repeat(depth)}) { name } }`;

/** `{ a0: __typename … }`, `n` aliases. */
export const aliases = (n: number, field = '__typename') => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
export const mutationAliases = (n: number) =>
  `mutation { ${Array.from({ length: n }, (_, i) => `c${i}: createCompletion(input: {messages: [{role: USER, content: "hi ${i}"}]}) { id }`).join(' ')} }`;

/** JSON text whose string value is `"\ud800 …"`: a lone surrogate, escaped (valid JSON, invalid Unicode). */
export const LONE_SURROGATE_ESCAPED = '\\ud800 lone \\udfff surrogates \\udc00\\ud800';
/** Raw bytes that are not UTF-8 (0xff, a broken 2-byte sequence, a CESU-8 surrogate). */
export const INVALID_UTF8 = Buffer.from([0xff, 0xfe, 0x20, 0xc3, 0x28, 0x20, 0xed, 0xa0, 0x80]);

/** A JSON body with `bytes` inserted raw inside the first user message's text. */
export function withRawBytes(template: string, bytes: Buffer): Buffer {
  const [a, b] = template.split('@@RAW@@') as [string, string];
  return Buffer.concat([Buffer.from(a), bytes, Buffer.from(b)]);
}

/**
 * Prototype-pollution canaries: were any of these merged into Object.prototype, every later request body
 * would read `stream: true` (a plain completion would come back as SSE) and carry `chaos_canary`; the
 * health check after the case looks for both.
 */
export const POLLUTION = `{"stream": true, "chaos_canary": "polluted", "scope": "admin", "model": "polluted"}`;
export const protoKey = `"__proto__": ${POLLUTION}`;
export const ctorKey = `"constructor": {"prototype": ${POLLUTION}}`;

/** A JSON string of `n` characters (plus quotes). */
export const bigString = (n: number, ch = 'a') => `"${ch.repeat(n)}"`;
