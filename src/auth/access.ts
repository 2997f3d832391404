import { GraphQLError, type GraphQLFieldConfig } from 'graphql';
import { type AuthChecker, Authorized, Extensions, type MiddlewareFn } from 'type-graphql';
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

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * Locked down by default: a root field with no declared rule refuses everyone. Declaring one
 * (@Public or @Allow) is an explicit, visible choice, and a test checks every root field has one.
 */
export const requireDeclaredRule: MiddlewareFn<GraphQLContext> = ({ info }, next) => {
  if (ROOT_TYPES.has(info.parentType.name)) {
    const field = info.parentType.getFields()[info.fieldName] as unknown as GraphQLFieldConfig<unknown, unknown> | undefined;
    if (!field?.extensions?.access) {
      throw new GraphQLError(`${info.parentType.name}.${info.fieldName} has no access rule`, { extensions: { code: 'FORBIDDEN' } });
    }
  }
  return next();
};
