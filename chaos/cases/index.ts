/** Every case of the suite, in the order a run takes them (the cheap input cases first, shutdown last). */
import type { ChaosCase } from '../lib/suite.ts';
import { graphqlInput } from './graphql-input.ts';
import { otlpOutage } from './otlp-outage.ts';
import { redisOutage } from './redis-outage.ts';
import { restInput } from './rest-input.ts';
import { sigtermStreams } from './sigterm-streams.ts';
import { slowClients } from './slow-clients.ts';
import { upstreamFaults } from './upstream-faults.ts';
import { wsInput } from './ws-input.ts';

export const CASES: readonly ChaosCase[] = [restInput, graphqlInput, wsInput, slowClients, upstreamFaults, redisOutage, otlpOutage(), sigtermStreams];
