import { createRequire } from 'node:module';
import type { ApolloServerPlugin } from '@apollo/server';
import {
  type ASTNode,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  visit,
} from 'graphql';
import type { ComplexityEstimatorArgs } from 'graphql-query-complexity';
import { assertEveryListHasASize, listSizeOf, SIZE_ARGUMENTS } from './list-sizes.js';
import { unstorableText } from '../shared/text.js';
// The package's ESM build imports graphql's .mjs files, a second copy of graphql next to the
// CommonJS one the rest of the server (type-graphql, Apollo) uses; graphql refuses to mix them.
// Its CommonJS build shares our copy.
const { getComplexity, simpleEstimator } = createRequire(import.meta.url)(
  'graphql-query-complexity',
) as typeof import('graphql-query-complexity');

/**
 * Refuses operations nested deeper than `max` fields. Introspection (`__schema`, `__type`) is not
 * counted: it is deep by nature, and switched on or off as a whole (INTROSPECTION).
 */
export function depthLimit(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    // A fragment is as deep wherever it is spread: each is measured once, or a few hundred bytes
    // of fragments spreading the one before twice would take 2^n steps to measure.
    const fragmentDepths = new Map<string, number>();
    const depthOf = (selectionSet: SelectionSetNode, visiting: Set<string>): number => {
      let deepest = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value.startsWith('__')) continue;
          deepest = Math.max(deepest, 1 + (selection.selectionSet ? depthOf(selection.selectionSet, visiting) : 0));
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting));
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue; // cycles are reported by graphql itself
          let depth = fragmentDepths.get(name);
          if (depth === undefined) {
            depth = depthOf(fragment.selectionSet, new Set([...visiting, name]));
            fragmentDepths.set(name, depth);
          }
          deepest = Math.max(deepest, depth);
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) {
          context.reportError(new GraphQLError(`the operation is ${depth} levels deep; the limit is ${max}`, { nodes: [node] }));
        }
      },
    };
  };
}

/** Why an operation was refused before it ran: a GraphQL error with code QUERY_TOO_COMPLEX. */
function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } } });
}

/** The most selections an operation may have, counted before its lists multiply them. */
const MAX_SELECTIONS = 10_000;

/** How graphql-query-complexity says it stopped at `maxQueryNodes` (a test breaks if that changes). */
const SELECTION_LIMIT_MESSAGE = 'Query exceeds the maximum allowed number of nodes.';

function badArguments(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/** Checks an operation before it runs (its cost, its text): undefined when it may run, else the error to answer. */
export type RequestCheck = (request: { document: DocumentNode; operationName?: string | null; variables?: Record<string, unknown> | null }) => GraphQLError | undefined;

/** Runs each check in turn; the first refusal is the answer. */
export function allChecks(...checks: RequestCheck[]): RequestCheck {
  return (request) => {
    for (const check of checks) {
      const refused = check(request);
      if (refused) return refused;
    }
    return undefined;
  };
}

/**
 * Refuses text PostgreSQL cannot keep as it was sent, in a variable or in a string literal of the
 * document, before anything runs, as the client's mistake it is:
 * - the NUL character (U+0000): a statement carrying it fails (an encoding error, or a protocol
 *   violation), which reached the client as an internal error or as an outage to retry;
 * - a lone UTF-16 surrogate (what cutting a name in the middle of an emoji leaves): JSON sent to
 *   PostgreSQL refuses it, failing every basket of a checkout batch with the one that held it,
 *   and plain text would store U+FFFD in its place.
 */
export function storableTextCheck(): RequestCheck {
  const documents = new WeakMap<DocumentNode, boolean>();
  const literalUnstorable = (document: DocumentNode) => {
    let found = documents.get(document);
    if (found === undefined) {
      found = false;
      visit(document, { StringValue: (node) => void (found ||= unstorableText(node.value)) });
      documents.set(document, found);
    }
    return found;
  };
  return ({ document, variables }) =>
    literalUnstorable(document) || holdsUnstorable(variables)
      ? badArguments('text must not contain the NUL character (U+0000) or a lone UTF-16 surrogate')
      : undefined;
}

/** Whether any string in `value`, keys included, is unstorable. A loop, not recursion: JSON can nest deeper than the stack. */
function holdsUnstorable(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    if (typeof item === 'string') {
      if (unstorableText(item)) return true;
    } else if (Array.isArray(item)) {
      for (const inner of item) pending.push(inner);
    } else if (item && typeof item === 'object') {
      for (const [key, inner] of Object.entries(item)) {
        if (unstorableText(key)) return true;
        pending.push(inner);
      }
    }
  }
  return false;
}

/**
 * The cost of an operation is the most fields its answer can hold: every field counts 1, and a
 * list counts one item's selection times the items it can return (list-sizes.ts), so nested
 * lists multiply. Operations costing more than `max` are refused before any resolver runs: one
 * request cannot make the server do unbounded work. Shared by HTTP (requestCheckPlugin) and
 * graphql-ws (server.ts), so neither transport is a way around it.
 */
export function costCheck(schema: GraphQLSchema, max: number): RequestCheck {
  assertEveryListHasASize(schema);
  const estimators = [listEstimator, mutationEstimator(schema), simpleEstimator({ defaultComplexity: 1 })];
  const maxSelections = Math.min(max, MAX_SELECTIONS);
  // Apollo hands over the same parsed document for the same query text, and most operations cost
  // the same whatever their variables: such a cost is counted once, not on every checkout (it was
  // 5% of the server's CPU per hold).
  const fixedCosts = new WeakMap<DocumentNode, Map<string | null, number>>();
  const verdict = (cost: number) => (cost > max ? tooComplex(`the operation costs ${cost}; the limit is ${max}`) : undefined);
  return ({ document, operationName, variables }) => {
    const known = fixedCosts.get(document)?.get(operationName ?? null);
    if (known !== undefined) return verdict(known);
    const operation = getOperationAST(document, operationName);
    // No single operation to run, or variables that do not fit their types: execution refuses
    // them itself (OPERATION_RESOLUTION_FAILURE, BAD_USER_INPUT) before any resolver runs.
    if (!operation) return undefined;
    if (getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}).errors) return undefined;
    let cost: number;
    try {
      cost = getComplexity({
        schema,
        query: document,
        operationName: operationName ?? undefined,
        variables: variables ?? {},
        estimators,
        // Fragments are counted each time they are spread, so a few hundred bytes of nested spreads
        // can stand for billions of fields: counting stops past maxSelections, which real
        // operations (a few hundred selections, their lists multiplying) never come near.
        maxQueryNodes: maxSelections,
      });
    } catch (error) {
      // Too big to count is too big to run.
      if (error instanceof GraphQLError && error.message === SELECTION_LIMIT_MESSAGE) {
        return tooComplex(`the operation has more than ${maxSelections} selections (fragments counted where spread); the limit is ${maxSelections}`);
      }
      // Counting reads each field's arguments as execution would, and found one the variables
      // leave invalid (an explicit null where a default stood in for a non-null type): the
      // client's mistake, refused before anything runs, as a bad variable is.
      if (error instanceof GraphQLError) return badArguments(error.message);
      throw error;
    }
    if (!costDependsOnVariables(document)) {
      const costs = fixedCosts.get(document) ?? new Map<string | null, number>();
      fixedCosts.set(document, costs.set(operationName ?? null, cost));
    }
    return verdict(cost);
  };
}

/**
 * Whether variables can change what the document costs: only through the arguments the estimators
 * read (a list's `first:`, a narrowing argument: SIZE_ARGUMENTS) or through @skip/@include.
 */
function costDependsOnVariables(document: DocumentNode): boolean {
  let depends = false;
  const usesVariable = (node: ASTNode) => {
    let found = false;
    visit(node, { Variable: () => void (found = true) });
    return found;
  };
  visit(document, {
    Argument(node) {
      if (SIZE_ARGUMENTS.has(node.name.value) && usesVariable(node.value)) depends = true;
    },
    Directive(node) {
      if (usesVariable(node)) depends = true;
    },
  });
  return depends;
}

/** The argument a list's cost is read from (listEstimator). */
const PAGE_SIZE_ARGUMENT = 'first';

/**
 * A list costs itself plus one item's selection times the items it can return: `first:` when
 * given, fewer still when a narrowing argument is given.
 */
function listEstimator({ type, field, args, childComplexity }: ComplexityEstimatorArgs): number | undefined {
  const size = listSizeOf(type.name, field);
  if (!size) return undefined;
  const first = args[PAGE_SIZE_ARGUMENT];
  let items = size.paged && typeof first === 'number' ? Math.min(Math.max(first, 0), size.max) : size.max;
  const narrowing = size.narrowedBy && args[size.narrowedBy.argument];
  if (narrowing !== undefined && narrowing !== null) items = Math.min(items, size.narrowedBy!.max);
  return 1 + items * childComplexity;
}

/**
 * What one mutation costs besides its selection. A mutation is a transaction, not a field: counted
 * like 500 fields, one request holds at most about 200 of them under the default limit.
 */
const MUTATION_COST = 500;

function mutationEstimator(schema: GraphQLSchema) {
  const mutation = schema.getMutationType()?.name;
  return ({ type, childComplexity }: ComplexityEstimatorArgs): number | undefined => (type.name === mutation ? MUTATION_COST + childComplexity : undefined);
}

/** Refuses, over HTTP, operations the check refuses (graphql-ws runs the same check: socket-operations.ts). */
export function requestCheckPlugin(check: RequestCheck): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const refused = check({ document, operationName: request.operationName, variables: request.variables });
          if (refused) throw refused;
        },
      };
    },
  };
}
