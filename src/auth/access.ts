import { GraphQLError, type GraphQLSchema } from 'graphql';
import { type AuthChecker, Authorized, Extensions } from 'type-graphql';
import type { GraphQLContext } from '../graphql/context.js';
import type { Role } from '../shared/request-context.js';

/** The access rule of a field, kept in its GraphQL extensions so a test can read it off the schema. */
export type AccessRule = 'public' | readonly Role[];

/** Anyone may call this, with or without a token: the catalogue of open sessions. */
export function Public(): MethodDecorator & PropertyDecorator {
  return Extensions({ access: 'public' satisfies AccessRule });
}

/** Only callers with one of these roles; ownership is then checked by the service. */
export function Allow(...roles: [Role, ...Role[]]): MethodDecorator & PropertyDecorator {
  const authorized = Authorized(...roles);
  const extensions = Extensions({ access: roles satisfies AccessRule });
  return (target: object, key: string | symbol, descriptor?: PropertyDescriptor) => {
    authorized(target, key, descriptor as never);
    extensions(target, key, descriptor as never);
  };
}

/** Role check for @Allow: refuses with UNAUTHENTICATED (no token) or FORBIDDEN (a role not listed). */
export const authChecker: AuthChecker<GraphQLContext, Role> = ({ context, info }, roles) => {
  const { actor } = context;
  if ((roles as string[]).includes(actor.kind)) return true;
  if (actor.kind === 'anonymous') {
    throw new GraphQLError(`${info.fieldName} needs a bearer token (Authorization: Bearer <token>)`, { extensions: { code: 'UNAUTHENTICATED' } });
  }
  throw new GraphQLError(`the ${actor.kind} role may not use ${info.fieldName}`, { extensions: { code: 'FORBIDDEN' } });
};

/**
 * Locked down by default: every root field must declare who may call it (@Public or @Allow), an
 * explicit, visible choice. Checked once when the schema is built, so a server with an undeclared
 * field refuses to start (and CI fails), at no cost per request.
 */
export function assertEveryRootFieldHasARule(schema: GraphQLSchema): void {
  const missing: string[] = [];
  for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(root?.getFields() ?? {})) {
      const access = field.extensions?.access as AccessRule | undefined;
      if (access !== 'public' && !(Array.isArray(access) && access.length > 0)) missing.push(`${root!.name}.${field.name}`);
    }
  }
  if (missing.length > 0) throw new Error(`no access rule (@Public or @Allow) on ${missing.join(', ')}`);
}
