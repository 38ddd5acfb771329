import { randomUUID } from 'node:crypto';

/** An id for something we made (`cmpl_…` a completion, `req_…` a request): the prefix and 32 random hex digits. */
export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}
