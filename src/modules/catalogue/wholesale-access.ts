import { seesWholesalePrice } from '../../auth/policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { forbiddenRead } from '../../graphql/forbidden.js';

/**
 * A producer's wholesale prices are between it and the hubs it approved (approveHub), wherever
 * they are read: on the product, or kept on the orders placed at them. Others (a hub it never
 * approved or has revoked, customers, other producers) get FORBIDDEN, as a read of the field.
 */
export async function requireSeesWholesalePrice(ctx: GraphQLContext, producerId: string): Promise<void> {
  const approved = async (hubId: string) => (await ctx.loaders.approvedHubIdsOf.load(producerId)).includes(hubId);
  if (!(await seesWholesalePrice(ctx.actor, producerId, approved))) {
    throw forbiddenRead('the wholesale price of a producer that has not approved you');
  }
}
