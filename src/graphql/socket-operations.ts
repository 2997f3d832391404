import {
  type DocumentNode,
  type ExecutionArgs,
  type FormattedExecutionResult,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  OperationTypeNode,
  parse,
  validate,
  type ValidationRule,
} from 'graphql';
import type { RequestCheck } from './limits.js';
import { specifiedRulesWithUnconditionalSubscriptions } from './subscription-root.js';

interface SocketPayload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * What graphql-ws runs for a subscribe message, or the errors that refuse it: the same parse,
 * validation (depth, introspection) and cost check as HTTP, before anything runs.
 *
 * The socket carries subscriptions only. Queries and mutations go over HTTP, where the rest of
 * its rules apply (the body limit, shared reads of identical queries, CORS): a socket that ran
 * them too would be a second door to keep in step with the first.
 */
export function socketOperations(deps: { schema: GraphQLSchema; validationRules: readonly ValidationRule[]; checkRequest: RequestCheck }) {
  const rules = [...specifiedRulesWithUnconditionalSubscriptions, ...deps.validationRules];
  return (payload: SocketPayload): ExecutionArgs | GraphQLError[] => {
    let document: DocumentNode;
    try {
      document = parse(payload.query);
    } catch (error) {
      return [withCode(error as GraphQLError, 'GRAPHQL_PARSE_FAILED')];
    }
    const invalid = validate(deps.schema, document, rules);
    if (invalid.length > 0) return invalid.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
    const operation = getOperationAST(document, payload.operationName);
    if (!operation) {
      return [new GraphQLError('name the one operation of the document to run (operationName)', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })];
    }
    if (operation.operation !== OperationTypeNode.SUBSCRIPTION) {
      return [
        new GraphQLError(`this socket carries subscriptions only: send ${operation.operation === OperationTypeNode.QUERY ? 'queries' : 'mutations'} over HTTP (POST /graphql)`, {
          nodes: [operation],
          extensions: { code: 'BAD_REQUEST' },
        }),
      ];
    }
    // Apollo answers these BAD_USER_INPUT over HTTP; graphql-js alone would give them no code.
    const coerced = getVariableValues(deps.schema, operation.variableDefinitions ?? [], payload.variables ?? {});
    if (coerced.errors) return coerced.errors.map((error) => withCode(error, 'BAD_USER_INPUT'));
    const refused = deps.checkRequest({ document, operationName: payload.operationName, variables: payload.variables });
    if (refused) return [refused];
    return { schema: deps.schema, document, operationName: payload.operationName, variableValues: payload.variables };
  };
}

type ErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/**
 * Shapes errors sent over the socket with the formatter HTTP uses, so a subscriber sees codes and
 * never internals (SQL, stack traces). graphql-ws wraps an error thrown by an event stream in a
 * GraphQLError without a path, where the formatter would not look for the cause: it gets the cause.
 */
export function formatSocketErrors(format: ErrorFormatter, errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map((error) => format(error.toJSON(), error.originalError ?? error));
}

/** An event's result with its errors formatted; undefined (send as is) when it has none. */
export function formatSocketResult(
  format: ErrorFormatter,
  result: { data?: unknown; errors?: readonly GraphQLError[]; extensions?: Record<string, unknown> },
): FormattedExecutionResult | undefined {
  if (!result.errors?.length) return undefined;
  return { ...result, data: result.data as FormattedExecutionResult['data'], errors: formatSocketErrors(format, result.errors) };
}

/** The same error with a stable code, as Apollo gives it over HTTP. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path, originalError: error.originalError, extensions: { ...error.extensions, code } });
}
