import { type ApolloServerPlugin, type GraphQLRequestContext, type GraphQLResponse, HeaderMap } from '@apollo/server';
import { type FormattedExecutionResult, Kind, type OperationDefinitionNode } from 'graphql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ReadGroups } from '../shared/read-groups.js';
import type { Clock } from '../shared/clock.js';
import { preparedSql } from '../shared/sql.js';
import type { GraphQLContext } from './context.js';

type Body = GraphQLResponse['body'];

/**
 * How long an answer may be shared after its execution began, while nothing is committed: the
 * most by which what it derives from the clock (a session's status turning OPEN at `opensAt`) can
 * lag. What it reads from the database is never older than the caller's request.
 */
export const SHARED_ANSWER_MAX_AGE_MS = 1000;

/**
 * Identical queries (same document, operation, variables and caller) share an execution instead of
 * each running its own (src/shared/read-groups.ts): one in progress or just ended, when nothing was
 * committed since it began; otherwise the next one, with everyone who came meanwhile. A
 * storefront's catalogue page, asked for by anonymous visitors at once, is the server's costliest
 * request; under load this keeps the server's work at about one execution per page at a time,
 * however many ask. Different callers never share (what they may see differs): the key has the
 * caller's role and enterprise, so anonymous visitors share, as do a hub's tokens, and signed-in
 * customers each read their own. Each answer still reflects every commit made before its
 * request arrived; what it derives from the clock (a session's status) is as of the shared
 * execution's start, at most SHARED_ANSWER_MAX_AGE_MS earlier. Mutations are never shared, nor
 * are answers with errors: the callers that waited for one then run their own, as they would have
 * without sharing.
 *
 * `stringifyResult` goes to Apollo's option of that name: a shared answer is written as JSON once,
 * not once per caller. `database` (the ORM's root entity manager) asks for the snapshot, so that a
 * request answered with a shared result makes no unit of work of its own.
 */
export function sharedReads(clock: Clock, database: EntityManager): { plugin: ApolloServerPlugin<GraphQLContext>; stringifyResult: (result: FormattedExecutionResult) => string } {
  const groups = new ReadGroups<Body>({ now: () => clock.now().getTime(), maxAgeMs: SHARED_ANSWER_MAX_AGE_MS });
  const running = new WeakMap<GraphQLRequestContext<GraphQLContext>, (shareable?: Body) => void>();
  const written = new WeakMap<object, string>();
  const stringifyResult = (result: FormattedExecutionResult) => {
    if (!result.data || result.errors || result.extensions) return `${JSON.stringify(result)}\n`;
    let json = written.get(result.data);
    if (json === undefined) written.set(result.data, (json = `${JSON.stringify(result)}\n`));
    return json;
  };
  const plugin: ApolloServerPlugin<GraphQLContext> = {
    async requestDidStart() {
      return {
        async responseForOperation(request) {
          if (request.operation?.operation !== 'query' || readsNothing(request.operation)) return null;
          const key = keyOf(request);
          if (key === undefined) return null;
          const turn = await groups.take(key, () => committedState(database));
          if (turn.kind === 'shared') return { http: { status: undefined, headers: new HeaderMap() }, body: turn.result };
          if (turn.kind === 'run') running.set(request, turn.done);
          return null;
        },
        async willSendResponse(request) {
          const { body, http } = request.response;
          const shareable = body?.kind === 'single' && !body.singleResult.errors && (http.status ?? 200) === 200;
          running.get(request)?.(shareable ? body : undefined);
        },
      };
    },
    // A request that failed outside the pipeline's own error handling must still let its followers go.
    async unexpectedErrorProcessingRequest({ requestContext }) {
      running.get(requestContext)?.();
    },
  };
  return { plugin, stringifyResult };
}

/**
 * Only `__typename` and introspection at the root: nothing is read from the database, and
 * executing costs less than asking it whether an answer may be shared.
 */
function readsNothing(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && selection.name.value.startsWith('__'));
}

/**
 * PostgreSQL's current snapshot: which transactions have ended. It changes whenever a transaction
 * that wrote anything commits (or aborts), in any process on the database, so two equal readings
 * mean no write was committed in between.
 */
async function committedState(database: EntityManager): Promise<string | undefined> {
  const [row] = await preparedSql<{ snapshot: string }>(database, 'SELECT pg_current_snapshot()::text AS snapshot');
  return row?.snapshot;
}

/**
 * Who asks matters: what a query may see depends on the caller's role and enterprise. Undefined,
 * so the query runs unshared, when JSON cannot tell its variables from others': JSON writes
 * Infinity and NaN (which a body's 1e400 parses to) as null, and variables nested thousands deep
 * overflow the stack.
 */
function keyOf({ contextValue, queryHash, request }: GraphQLRequestContext<GraphQLContext>): string | undefined {
  try {
    return JSON.stringify([contextValue.actor, queryHash, request.operationName ?? null, request.variables ?? null], (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('a number JSON cannot write');
      return value;
    });
  } catch {
    return undefined;
  }
}
