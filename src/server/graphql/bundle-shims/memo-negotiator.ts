import Negotiator from 'negotiator';

/** Distinct Accept headers kept; past it the memo starts over, so odd clients cannot grow it. */
const MAX_HEADERS = 256;

/** Answers for one Accept header, by the offered list: one level per offered type, the answer at the end. */
interface Level {
  next: Map<string, Level>;
  known: boolean;
  answer: string | undefined;
}
const level = (): Level => ({ next: new Map(), known: false, answer: undefined });
const memo = new Map<string, Level>();
const NO_HEADER = '\u0000';

/**
 * negotiator with `mediaType` memoized per Accept header and offered list. The bundle gives it to
 * @apollo/server in place of negotiator (scripts/bundle.ts): Apollo negotiates the response's media type
 * two or three times per GraphQL request, parsing the same Accept header each time, which was ~11 µs of
 * a request's CPU. The answer is a function of the header and the list alone, so a kept one is the same.
 * The list is looked up type by type rather than joined into one key: Apollo offers constant strings, whose
 * hashes V8 keeps, so a hit costs one hash of the header and no new string.
 */
export default class MemoNegotiator extends Negotiator {
  readonly #accept: string;

  constructor(request: { headers: Record<string, string | string[] | undefined> }) {
    super(request);
    const accept = request.headers.accept;
    this.#accept = accept === undefined ? NO_HEADER : Array.isArray(accept) ? accept.join(', ') : accept;
  }

  override mediaType(available?: readonly string[]): string | undefined {
    // Without a list the answer is the header's own first type; rare, so not kept.
    if (available === undefined) return super.mediaType();
    let at: Level | undefined = memo.get(this.#accept);
    if (at === undefined) {
      if (memo.size >= MAX_HEADERS) memo.clear();
      at = level();
      memo.set(this.#accept, at);
    }
    for (const type of available) {
      let next: Level | undefined = at.next.get(type);
      if (next === undefined) at.next.set(type, (next = level()));
      at = next;
    }
    if (!at.known) {
      at.answer = super.mediaType([...available]);
      at.known = true;
    }
    return at.answer;
  }
}
