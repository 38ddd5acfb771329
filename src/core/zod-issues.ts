import { GatewayError } from './gateway-error.ts';

/** What this module reads of a zod issue (any zod version's issues have it). */
export interface IssueLike {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
}

/** `providers[1].models[0].price.input` from a zod path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(root)';
}

/** zod words type errors as "Invalid input: expected number, received string"; the useful half. */
export function issueMessage(issue: IssueLike): string {
  return issue.message.replace(/^Invalid input: /, '');
}

/** Every issue as [field, message], the field's path under `prefix` (`input` for a GraphQL argument). */
export function issueProblems(issues: readonly IssueLike[], prefix: readonly PropertyKey[] = []): Array<[string, string]> {
  return issues.map((issue) => [formatPath([...prefix, ...issue.path]), issueMessage(issue)]);
}

/** The first issue as the client's error: `invalid_request`, the message and `param` naming the field. */
export function invalidRequestOf(issues: readonly IssueLike[]): GatewayError {
  const first = issues[0];
  const param = formatPath(first?.path ?? []);
  return new GatewayError('invalid_request', `${param}: ${first ? issueMessage(first) : 'invalid'}`, { param });
}
