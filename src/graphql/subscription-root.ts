import {
  type ASTVisitor,
  GraphQLError,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  SingleFieldSubscriptionsRule,
  specifiedRules,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/**
 * graphql-js 16's own rule, with what the GraphQL specification (and graphql-js 17) adds: a
 * subscription's root field may not be conditional (@skip or @include, on it or on a fragment it
 * is in). graphql-js 16 let one through, and then either threw inside validation (a condition on
 * a variable with no value) or subscribed to nothing (a TypeError): answered as internal errors,
 * which over a socket close it with every subscription on it.
 */
export const SingleUnconditionalSubscriptionFieldRule: ValidationRule = (context: ValidationContext): ASTVisitor => {
  const singleField = SingleFieldSubscriptionsRule(context) as { OperationDefinition(node: OperationDefinitionNode): void };
  return {
    OperationDefinition(node) {
      if (node.operation !== 'subscription') return;
      const conditional = conditionalRoot(context, node.selectionSet, new Set());
      if (conditional) {
        context.reportError(new GraphQLError("a subscription's root field cannot be conditional (@skip or @include)", { nodes: [conditional] }));
        return;
      }
      singleField.OperationDefinition(node);
    },
  };
};

/** The validation rules graphql-js specifies, with SingleFieldSubscriptionsRule in its stricter form. */
export const specifiedRulesWithUnconditionalSubscriptions: readonly ValidationRule[] = specifiedRules.map((rule) =>
  (rule === SingleFieldSubscriptionsRule ? SingleUnconditionalSubscriptionFieldRule : rule));

type Selection = SelectionSetNode['selections'][number];

/** The first selection at the root level (through fragments) with @skip or @include, if any. */
function conditionalRoot(context: ValidationContext, selectionSet: SelectionSetNode, seen: Set<string>): Selection | undefined {
  for (const selection of selectionSet.selections) {
    if (selection.directives?.some((d) => d.name.value === 'skip' || d.name.value === 'include')) return selection;
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const found = conditionalRoot(context, selection.selectionSet, seen);
      if (found) return found;
    } else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = context.getFragment(selection.name.value);
      const found = fragment && conditionalRoot(context, fragment.selectionSet, seen);
      if (found) return found;
    }
  }
  return undefined;
}
