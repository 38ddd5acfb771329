// graphql-js is imported as 'graphql/index.js' throughout (the build Node and every Apollo package load): under
// vitest a bare 'graphql' resolves to index.mjs, and schema objects from the two builds reject each other.
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isInterfaceType,
  isListType,
  isObjectType,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql/index.js';

const VALIDATION_FAILED = { code: 'GRAPHQL_VALIDATION_FAILED' };

/** Assumed size of a list whose field has no `first` argument. */
const DEFAULT_LIST_SIZE = 10;

function fragmentsOf(doc: { definitions: readonly { kind: Kind }[] }): Map<string, FragmentDefinitionNode> {
  const out = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) out.set((d as FragmentDefinitionNode).name.value, d as FragmentDefinitionNode);
  return out;
}

/**
 * Rejects operations nested deeper than `maxDepth` fields. Introspection fields (`__schema`, `__type`) are
 * not counted: the standard introspection query is deep by nature and is governed by the introspection
 * setting. Fragment depths are memoized, so fragment fan-out cannot make the check itself expensive.
 */
export function depthLimitRule(maxDepth: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context.getDocument());
    const memo = new Map<string, number>();
    const visiting = new Set<string>();
    const depthOf = (set: SelectionSetNode): number => {
      let max = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value.startsWith('__')) continue;
          max = Math.max(max, 1 + (sel.selectionSet ? depthOf(sel.selectionSet) : 0));
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          max = Math.max(max, depthOf(sel.selectionSet));
        } else {
          const name = sel.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue; // unknown or cyclic: other rules report it
          if (!memo.has(name)) {
            visiting.add(name);
            memo.set(name, depthOf(fragment.selectionSet));
            visiting.delete(name);
          }
          max = Math.max(max, memo.get(name)!);
        }
      }
      return max;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet);
        if (depth > maxDepth) {
          context.reportError(
            new GraphQLError(`operation depth ${depth} exceeds the limit of ${maxDepth}`, { nodes: [node], extensions: VALIDATION_FAILED }),
          );
        }
      },
    };
  };
}

/**
 * A simple cost estimate: every field (`__typename` too) costs 1, and the cost of a list field's selection is multiplied by
 * its `first` argument (a literal, or the variable's default, else 100) or by 10 when it has none. A
 * connection's `edges` are not multiplied again (its `first` already was). Rejects operations above `max`.
 */
/** The budget of `__schema` / `__type` selections (see complexityLimitRule). */
export const INTROSPECTION_COMPLEXITY = 20_000;

export function complexityLimitRule(max: number): ValidationRule {
  return (context) => {
    const schema: GraphQLSchema = context.getSchema();
    const doc = context.getDocument();
    const fragments = fragmentsOf(doc);
    const memo = new Map<string, number>();
    const visiting = new Set<string>();
    const variableDefaults = new Map<string, number>();
    let introspection = 0;
    for (const d of doc.definitions) {
      if (d.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const v of d.variableDefinitions ?? []) {
        if (v.defaultValue?.kind === Kind.INT) variableDefaults.set(v.variable.name.value, Number.parseInt(v.defaultValue.value, 10));
      }
    }
    const costOf = (set: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
      let total = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          // Meta fields (`__typename`, introspection) cost like any other: free fields would let a
          // document of 100k `__typename` aliases through at cost 0.
          const name = sel.name.value;
          const def = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
          const type = def ? getNamedType(def.type) : undefined;
          let multiplier = 1;
          const first = sel.arguments?.find((a) => a.name.value === 'first')?.value;
          if (first?.kind === Kind.INT) multiplier = Number.parseInt(first.value, 10);
          else if (first?.kind === Kind.VARIABLE) multiplier = variableDefaults.get(first.name.value) ?? 100;
          else if (def && isListType(getNullableType(def.type)) && !(name === 'edges' && parent?.name.endsWith('Connection'))) {
            multiplier = DEFAULT_LIST_SIZE;
          }
          const inner = Math.max(0, multiplier) * (sel.selectionSet ? costOf(sel.selectionSet, type) : 0);
          if (name === '__schema' || name === '__type') {
            // Introspection has its own budget: the standard query of GraphiQL and codegen expands to ~5,000
            // fields of schema metadata, work bounded by the schema, not by anything a client can multiply.
            introspection += inner;
            total += 1;
          } else total += 1 + inner;
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const type = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
          total += costOf(sel.selectionSet, type ?? undefined);
        } else {
          const fname = sel.name.value;
          const fragment = fragments.get(fname);
          if (!fragment || visiting.has(fname)) continue;
          if (!memo.has(fname)) {
            visiting.add(fname);
            memo.set(fname, costOf(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined));
            visiting.delete(fname);
          }
          total += memo.get(fname)!;
        }
      }
      return total;
    };
    return {
      OperationDefinition(node) {
        const root =
          node.operation === 'query' ? schema.getQueryType() : node.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
        introspection = 0;
        const cost = costOf(node.selectionSet, root ?? undefined);
        if (cost > max) {
          context.reportError(
            new GraphQLError(`operation complexity ${cost} exceeds the limit of ${max}`, { nodes: [node], extensions: VALIDATION_FAILED }),
          );
        }
        const introspectionMax = Math.max(max, INTROSPECTION_COMPLEXITY);
        if (introspection > introspectionMax) {
          context.reportError(
            new GraphQLError(`introspection complexity ${introspection} exceeds the limit of ${introspectionMax}`, { nodes: [node], extensions: VALIDATION_FAILED }),
          );
        }
      },
    };
  };
}

/**
 * Rejects a document with more than `max` aliased fields. Aliases are how one request repeats a field
 * many times over (the same resolver under a thousand names); honest documents need a handful.
 */
export function aliasLimitRule(max: number): ValidationRule {
  return (context) => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias && ++aliases === max + 1) {
          context.reportError(
            new GraphQLError(`the document has more than ${max} aliases (the limit is server.graphql.maxAliases)`, { nodes: [node], extensions: VALIDATION_FAILED }),
          );
        }
      },
    };
  };
}

/**
 * Rejects a mutation selecting more than `max` root fields (distinct response names, fragments
 * included): every createCompletion is a paid upstream call, so one request must not fan out into many.
 */
export function mutationFieldsLimitRule(max: number): ValidationRule {
  return (context) => {
    const fragments = fragmentsOf(context.getDocument());
    const collect = (set: SelectionSetNode, keys: Set<string>, seen: Set<string>): void => {
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          if (sel.name.value !== '__typename') keys.add((sel.alias ?? sel.name).value);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          collect(sel.selectionSet, keys, seen);
        } else {
          const fragment = fragments.get(sel.name.value);
          if (!fragment || seen.has(sel.name.value)) continue; // unknown, cyclic or repeated: nothing new
          seen.add(sel.name.value);
          collect(fragment.selectionSet, keys, seen);
        }
      }
    };
    return {
      OperationDefinition(node) {
        if (node.operation !== 'mutation') return;
        const keys = new Set<string>();
        collect(node.selectionSet, keys, new Set());
        if (keys.size > max) {
          context.reportError(
            new GraphQLError(`the mutation selects ${keys.size} root fields; the limit is ${max} (server.graphql.maxMutationFields)`, {
              nodes: [node],
              extensions: VALIDATION_FAILED,
            }),
          );
        }
      },
    };
  };
}
