// negotiator ships no types; the part the memoizing subclass uses.
declare module 'negotiator' {
  export default class Negotiator {
    constructor(request: { headers: Record<string, string | string[] | undefined> });
    mediaType(available?: string[]): string | undefined;
    mediaTypes(available?: string[]): string[];
  }
}
