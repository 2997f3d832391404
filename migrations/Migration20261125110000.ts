import { Migration } from '@mikro-orm/migrations';
import { placeCustomerOrderWithWholesalePrices } from './Migration20261125065114.js';

/** What place_customer_order() locked a basket's capped offers by: the ids its checkout read as capped. */
const LOCK_OFFERS_CAPPED_AS_READ = `  if basket ? 'cappedOfferIds' then
    perform 1 from offer where id = any(array(select jsonb_array_elements_text(basket->'cappedOfferIds')::uuid))
     order by id for no key update;
  end if;`;

/** What it locks them by now: the basket's offers capped as the statement runs. */
const LOCK_OFFERS_CAPPED_NOW = `  -- Those capped now, not those its checkout read as capped: one capped since (updateOfferCap,
  -- which the session lock above waited for) would otherwise be locked late, by the update of
  -- taken below, after the order took its key.
  perform 1 from offer
   where id = any(array(select (l->>'offer_id')::uuid from jsonb_array_elements(basket->'lines') l))
     and cap is not null
   order by id for no key update;`;

function replacing(body: string, from: string, to: string): string {
  if (!body.includes(from)) throw new Error('place_customer_order() is not the body this migration changes');
  return body.replace(from, to);
}

/** place_customer_order() as this migration installs it. */
export const placeCustomerOrderLockingCapsNow = replacing(placeCustomerOrderWithWholesalePrices, LOCK_OFFERS_CAPPED_AS_READ, LOCK_OFFERS_CAPPED_NOW);

/**
 * place_customer_order() locks the basket's offers that are capped when it runs, in id order,
 * before the order takes its idempotency key. It locked those its checkout had read as capped
 * (`cappedOfferIds`): an offer capped between that read and the write was locked only by the
 * update of its `taken`, after the key, the reverse of the order a same-key retry that read the
 * cap takes them in, and the two deadlocked. The rest of the function is unchanged: the body is
 * the previous migration's, with that one statement replaced. A previous version's checkout still
 * sends `cappedOfferIds`; it is no longer read. (place_customer_orders(), for batches, already
 * locked the offers capped as it runs.)
 */
export class Migration20261125110000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(placeCustomerOrderLockingCapsNow);
  }

  override async down(): Promise<void> {
    this.addSql(placeCustomerOrderWithWholesalePrices);
  }

}
