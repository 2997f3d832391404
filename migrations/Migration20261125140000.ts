import { Migration } from '@mikro-orm/migrations';
import { FOR_PRODUCERS_ONLY, relay } from './Migration20261125011500.js';

/**
 * A hub's webhook no longer gets `available`, the producer's whole available stock of the product
 * (across its locations and every hub it sells through): a hub reads neither `Product.stock` nor
 * anything like it over GraphQL, only its own offers' `available`, capped and in whole steps. The
 * relay function is restated with that one change (Migration20261125011500 has the rest), and the
 * bodies already queued or kept for hub webhooks lose it too, as that migration did for lots.
 */
export class Migration20261125140000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`update webhook_delivery d
   set body = regexp_replace(d.body, '"available" : "[^"]*"', '"available" : null')
  from webhook w
 where w.id = d.webhook_id and w.hub_id is not null and d.body like '%"available" : "%';`);
    this.addSql(relayWith(AVAILABLE_FOR_PRODUCERS_ONLY));
  }

  override async down(): Promise<void> {
    this.addSql(relayWith(AVAILABLE_FOR_EVERY_WEBHOOK));
  }

}

const AVAILABLE_FOR_EVERY_WEBHOOK = `'available', trim_scale(p.available)::text,`;

/** How much a producer has of a product is its own business, as where it keeps it is. */
const AVAILABLE_FOR_PRODUCERS_ONLY = `'available', case when w.hub_id is null then trim_scale(p.available)::text end,`;

/** The relay function as Migration20261125011500 left it, with the body's `available` as given. */
function relayWith(available: string): string {
  const previous = relay(FOR_PRODUCERS_ONLY);
  if (!previous.includes(AVAILABLE_FOR_EVERY_WEBHOOK)) throw new Error('the relay function no longer writes available as expected');
  return previous.replace(AVAILABLE_FOR_EVERY_WEBHOOK, available);
}
