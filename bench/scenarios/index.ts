/** Every scenario of `npm run bench`, in the order a full run measures them. */
import { cache } from './cache.ts';
import { fallback } from './fallback.ts';
import { graphqlStream } from './graphql-stream.ts';
import { graphql } from './graphql.ts';
import { messagesStream } from './messages-stream.ts';
import { rest100 } from './rest-100.ts';
import { rest } from './rest.ts';
import { route } from './route.ts';
import { scaling } from './scaling.ts';
import type { Scenario } from './scenario.ts';
import { soak } from './soak.ts';
import { stream } from './stream.ts';
import { manyStreams } from './streams-1000.ts';

export const SCENARIOS: readonly Scenario[] = [rest, rest100, stream, messagesStream, graphql, graphqlStream, fallback, manyStreams, route, cache, scaling, soak];
