/**
 * GraphQL Code Generator: the result and variable types of the client's operations (src/client/operations.ts)
 * against schema/*.graphql, into src/client/generated.ts. `npm run codegen` after changing either;
 * test/client/codegen.test.ts fails while the committed file is stale.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

/** The Federation directives the subgraph SDL uses; the gateway gets them from @apollo/subgraph. */
const FEDERATION = /* GraphQL */ `
  directive @link(url: String!, import: [String!]) repeatable on SCHEMA
  directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
  directive @shareable repeatable on OBJECT | FIELD_DEFINITION
`;

export const CLIENT_CODEGEN: CodegenConfig = {
  schema: ['schema/*.graphql', FEDERATION],
  documents: ['src/client/operations.ts'],
  generates: {
    'src/client/generated.ts': {
      plugins: ['typescript-operations'],
      config: {
        enumType: 'string-literal',
        scalars: { DateTime: 'string', JSON: 'unknown' },
        useTypeImports: true,
      },
    },
  },
  silent: true,
};

export default CLIENT_CODEGEN;
