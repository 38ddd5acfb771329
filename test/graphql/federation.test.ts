import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTypeDefs } from '../../src/server/graphql/graphql-endpoint.ts';
import { ADMIN_KEY, CLIENT_KEY, startHarness, type Harness } from './harness.ts';

/** A second subgraph: teams, whose `lastCompletion` references our Completion entity, and which adds `Completion.reviewedBy`. */
const TEAMS_SDL = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Team @key(fields: "id") {
    id: ID!
    name: String!
    lastCompletion: Completion
  }

  type Completion @key(fields: "id") {
    id: ID!
    reviewedBy: Team
  }

  type Query {
    team(id: ID!): Team
  }
`);

let h: Harness;
let completionId: string;
const stops: Array<() => Promise<unknown>> = [];
let gatewayUrl: string;

beforeAll(async () => {
  h = await startHarness();
  const created = await h.gql('mutation { createCompletion(input: { messages: [{ role: USER, content: "Hi" }] }) { id } }');
  completionId = (created.body.data!.createCompletion as { id: string }).id;

  const team = { id: 't1', name: 'Platform' };
  const teams = new ApolloServer({
    schema: buildSubgraphSchema([
      {
        typeDefs: TEAMS_SDL,
        resolvers: {
          Query: { team: (_: unknown, { id }: { id: string }) => (id === team.id ? team : null) },
          Team: {
            __resolveReference: (ref: { id: string }) => (ref.id === team.id ? team : null),
            lastCompletion: () => ({ __typename: 'Completion', id: completionId }),
          },
          Completion: {
            __resolveReference: (ref: { id: string }) => ref,
            reviewedBy: () => team,
          },
        },
      },
    ]),
  });
  const { url: teamsUrl } = await startStandaloneServer(teams, { listen: { port: 0, host: '127.0.0.1' } });
  stops.push(() => teams.stop());

  const composed = composeServices([
    { name: 'switchboard', typeDefs: loadTypeDefs(), url: h.url },
    { name: 'teams', typeDefs: TEAMS_SDL, url: teamsUrl },
  ]);
  if (composed.errors) throw new Error(`composition failed: ${composed.errors.map((e) => e.message).join('; ')}`);

  const gateway = new ApolloGateway({
    supergraphSdl: composed.supergraphSdl,
    // The router authenticates to our subgraph with its own key.
    buildService: ({ url, name }) =>
      new RemoteGraphQLDataSource({
        url,
        willSendRequest: ({ request }) => {
          if (name === 'switchboard') request.http?.headers.set('authorization', `Bearer ${ADMIN_KEY}`);
        },
      }),
  });
  const server = new ApolloServer({ gateway });
  ({ url: gatewayUrl } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } }));
  stops.push(() => server.stop());
});

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await h.close();
  // Nothing above should have hit the "unexpected error" path (which hides the message from clients).
  expect(h.logged).toEqual([]);
});

async function post(url: string, query: string, key: string | null = ADMIN_KEY) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data: Record<string, unknown>; errors?: unknown[] } };
}

describe('Federation 2 subgraph', () => {
  it('serves _service { sdl } with our entities', async () => {
    const { body } = await post(h.url, '{ _service { sdl } }');
    const sdl = (body.data._service as { sdl: string }).sdl;
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.7"');
    for (const entity of ['type Provider @key(fields: "id")', 'type Model @key(fields: "id")', 'type Route @key(fields: "name")', 'type Completion @key(fields: "id")']) {
      expect(sdl).toContain(entity);
    }
  });

  it('resolves _entities for each entity type', async () => {
    const { body } = await post(h.url, `{
      _entities(representations: [
        { __typename: "Provider", id: "alpha" },
        { __typename: "Model", id: "beta/m1" },
        { __typename: "Route", name: "default" },
        { __typename: "Completion", id: "${completionId}" },
        { __typename: "Provider", id: "missing" }
      ]) {
        __typename
        ... on Provider { id protocol models { id } }
        ... on Model { id name provider { id } }
        ... on Route { name targets { provider { id } } }
        ... on Completion { id route message { content } }
      }
    }`);
    expect(body.errors).toBeUndefined();
    expect(body.data._entities).toEqual([
      { __typename: 'Provider', id: 'alpha', protocol: 'openai', models: [{ id: 'alpha/m1' }, { id: 'alpha/m2' }] },
      { __typename: 'Model', id: 'beta/m1', name: 'm1', provider: { id: 'beta' } },
      { __typename: 'Route', name: 'default', targets: [{ provider: { id: 'alpha' } }, { provider: { id: 'beta' } }] },
      { __typename: 'Completion', id: completionId, route: 'default', message: { content: 'Hello world' } },
      null,
    ]);
  });

  it('does not hand another key\'s completion to a client key through _entities', async () => {
    const { body } = await post(h.url, `{ _entities(representations: [{ __typename: "Completion", id: "${completionId}" }]) { ... on Completion { id } } }`, CLIENT_KEY);
    expect(body.data._entities).toEqual([null]);
  });

  it('composes with another subgraph and answers a query across both through @apollo/gateway', async () => {
    const { status, body } = await post(gatewayUrl, `{
      team(id: "t1") {
        name
        lastCompletion {
          id route finishReason
          provider { id protocol models { id } }
          model { id price { input } }
          message { content }
          reviewedBy { name }
        }
      }
    }`, null);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    expect(body.data.team).toEqual({
      name: 'Platform',
      lastCompletion: {
        id: completionId,
        route: 'default',
        finishReason: 'STOP',
        provider: { id: 'alpha', protocol: 'openai', models: [{ id: 'alpha/m1' }, { id: 'alpha/m2' }] },
        model: { id: 'alpha/m1', price: { input: 1 } },
        message: { content: 'Hello world' },
        reviewedBy: { name: 'Platform' },
      },
    });
  });
});
