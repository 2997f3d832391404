import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import {
  type DocumentNode,
  execute,
  type ExecutionResult,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  GraphQLScalarType,
  GraphQLSchema,
  Kind,
  printSchema,
  visit,
  BREAK,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';

/**
 * Runs HTTP operations through graphql-jit: the first time a document is asked for again, it is
 * compiled into a function that resolves exactly its fields, and every later request for it runs
 * that function instead of graphql-js walking the schema field by field. On the catalogue page
 * (500 offers, ten fields each) the walk was a third of the server's time per request; compiled,
 * the page costs 30% less (bench/RESULTS.md).
 *
 * Apollo Server 5 has no option for another executor; its documented way to supply one is the
 * `gateway` option, which this implements for a single, fixed schema.
 *
 * What is compiled, and when:
 * - Only documents seen twice. A document asked for once (most of a client's ad-hoc queries) is
 *   not worth compiling, and a stream of distinct documents cannot make the server compile each.
 * - Apollo hands out the same DocumentNode for the same query text (from its cache of parsed
 *   documents), so compiled functions are kept by document: the last MAX_COMPILED_DOCUMENTS used.
 *   Apollo's cache is bounded by the documents' size, not by what compiling them costs in memory,
 *   so this bound is separate: a client sending endless distinct documents twice each gets them
 *   compiled, but only that many are kept.
 * - Queries and mutations without directives or introspection. graphql-jit's own @skip/@include
 *   on fragment spreads differs from graphql-js in corner cases, introspection must describe the
 *   schema clients see (see compilable()), and a subscription over HTTP runs as graphql-js runs
 *   it; those documents stay with graphql-js.
 * - Variables are coerced by graphql-js, always: a bad one is answered exactly as before (Apollo
 *   knows those errors by their wording and answers 400 BAD_USER_INPUT), and the compiled function
 *   gets graphql-js's values. graphql-jit's own coercion differs: it reads any scalar named ID as
 *   the built-in one (ours canonicalises UUIDs) and leaves out input fields' default values. So
 *   the compiled document declares each variable as a scalar that takes the value as it is.
 */
export function compiledExecution(schema: GraphQLSchema): GatewayInterface {
  // The same types (and so the same resolvers), plus the scalar the compiled variables are declared as.
  const config = schema.toConfig();
  const jitSchema = new GraphQLSchema({ ...config, types: [...config.types, COERCED] });
  // Most recently used last: a Map keeps insertion order, and a hit moves its entry to the end.
  const compiled = new Map<DocumentNode, Map<string, CompiledQuery | 'graphql-js'>>();
  const seen = new WeakMap<DocumentNode, Set<string>>();

  /** The compiled operation, or undefined while it runs on graphql-js. */
  const compiledFor = (document: DocumentNode, operationName: string | undefined): CompiledQuery | undefined => {
    const key = operationName ?? '';
    const operations = compiled.get(document);
    if (operations) {
      compiled.delete(document);
      compiled.set(document, operations);
    }
    const known = operations?.get(key);
    if (known) return known === 'graphql-js' ? undefined : known;
    const seenBefore = seen.get(document) ?? new Set<string>();
    if (!seenBefore.has(key)) {
      seen.set(document, seenBefore.add(key));
      return undefined;
    }
    const result = compilable(document, operationName) ? compileQuery(jitSchema, withCoercedVariables(document), operationName, COMPILER_OPTIONS) : undefined;
    const entry = result && isCompiledQuery(result) ? result : 'graphql-js';
    compiled.set(document, (operations ?? new Map<string, CompiledQuery | 'graphql-js'>()).set(key, entry));
    if (compiled.size > MAX_COMPILED_DOCUMENTS) compiled.delete(compiled.keys().next().value!);
    return entry === 'graphql-js' ? undefined : entry;
  };

  const executor: GatewayExecutor = async ({ document, request, context }) => {
    const operationName = request.operationName ?? undefined;
    const variableValues = request.variables ?? {};
    const query = compiledFor(document, operationName);
    if (!query) return execute({ schema, document, operationName, variableValues, contextValue: context });

    const operation = getOperationAST(document, operationName)!;
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variableValues);
    if (coerced.errors) return { errors: coerced.errors };
    const result = (await query.query(undefined, context, coerced.coerced)) as ExecutionResult;
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
  };

  return {
    async load() {
      return { schema, executor };
    },
    onSchemaLoadOrUpdate(callback) {
      // The schema never changes while the server runs: Apollo is told it once, now.
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => {};
    },
    async stop() {},
  };
}

/** A storefront, a producer app and a trader platform use a few dozen documents between them. */
const MAX_COMPILED_DOCUMENTS = 500;

const COMPILER_OPTIONS = {
  // Errors keep the resolver's own stack (for the log); jit's wrapper need not capture another.
  disablingCapturingStackErrors: true,
};

/**
 * graphql-jit's errors pass `instanceof GraphQLError` but leave `extensions` undefined when the
 * resolver's error had none (a driver error, say), which Apollo's error formatting does not
 * survive. The same error as graphql-js makes it, keeping jit's path and locations.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const copy = new GraphQLError(error.message, { path: error.path, originalError: error.originalError ?? undefined });
  return Object.assign(copy, { locations: error.locations });
}

/** Values graphql-js has already coerced, passed on as they are. */
const COERCED = new GraphQLScalarType({
  name: 'CoercedByGraphQLJs',
  parseValue: (value) => value,
  serialize: (value) => value,
});

/** The document with every variable declared as COERCED, without its default (already applied). */
function withCoercedVariables(document: DocumentNode): DocumentNode {
  return visit(document, {
    VariableDefinition: (node) => ({ ...node, type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: COERCED.name } }, defaultValue: undefined }),
  });
}

/**
 * A query or mutation with no directive and no introspection: what graphql-jit runs as graphql-js
 * does. Introspection reads the schema its resolvers are given, which for a compiled document
 * would be the one with COERCED in it.
 */
function compilable(document: DocumentNode, operationName: string | undefined): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation === 'subscription') return false;
  let runsAsCompiled = document.definitions.every((d) => d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION);
  visit(document, {
    Directive() {
      runsAsCompiled = false;
      return BREAK;
    },
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        runsAsCompiled = false;
        return BREAK;
      }
      return undefined;
    },
  });
  return runsAsCompiled;
}
