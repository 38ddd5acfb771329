// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import { isInputObjectType, isInterfaceType, isObjectType, valueFromAST, type GraphQLSchema } from 'graphql/index.js';

/**
 * Re-reads every SDL default value (`interval: UsageInterval = HOUR`) against the schema's final types.
 * Defaults are coerced when the SDL is built, before resolvers give enums internal values (HOUR → 'hour'),
 * so they keep the names, which the enum then cannot serialize: introspection of such an argument failed,
 * and so did printSchema (Apollo prints the schema to key a custom document store).
 */
export function reReadDefaultValues(schema: GraphQLSchema): void {
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    const inputs =
      isObjectType(type) || isInterfaceType(type)
        ? Object.values(type.getFields()).flatMap((f) => f.args)
        : isInputObjectType(type)
          ? Object.values(type.getFields())
          : [];
    for (const input of inputs) {
      const ast = input.astNode?.defaultValue;
      if (!ast) continue;
      const value = valueFromAST(ast, input.type);
      if (value !== undefined) input.defaultValue = value;
    }
  }
}
