import { Migration } from '@mikro-orm/migrations';

/**
 * Refuses a customer order line of a withdrawn offer. Lines are written only by
 * place_customer_order(), in a statement that begins after it has locked the session (KEY SHARE):
 * withdrawOffer holds the session FOR UPDATE, so this check sees every withdrawal committed before
 * the line, also one made after the checkout read the offer. Refused as a cap or a short hold is
 * (check_violation on a named constraint, withdrawnMeanwhile()), the checkout reads again under
 * lock for its answer. A trigger rather than a restated place_customer_order(): the rule holds for
 * every writer of lines, and the function stays as Migration20261125065114 installed it.
 */
const refuseLinesOfWithdrawnOffers = `create function customer_order_line_offer_on_sale() returns trigger language plpgsql as $$
begin
  if exists (select 1 from offer where id = new.offer_id and withdrawn_at is not null) then
    raise exception 'an offer of the basket was withdrawn' using errcode = 'check_violation', constraint = 'offer_on_sale';
  end if;
  return new;
end $$;`;

/**
 * A session's offers may change while it sells: addOffers, withdrawOffer, restoreOffer.
 *
 * - `offer.withdrawn_at`: set while an offer is off sale.
 * - `domain_event.sales_session_id`: the session of an OFFERED or WITHDRAWN event, so that its
 *   storefronts' availability stream learns of offers added after they subscribed. A partial
 *   index: other events (every checkout's) leave it alone.
 * - a trigger refusing lines of a withdrawn offer (above): one index probe per line of each
 *   checkout, no round trip.
 *
 * Nullable columns: no rewrite. The index holds no row yet, but building it reads domain_event
 * once, and checkouts (which write events) wait for that pass; an operator with a large event
 * log adds the column and builds the index beforehand, CONCURRENTLY, and the migration finds
 * both (README, Upgrading). During a rolling upgrade a previous-version replica still lists a
 * withdrawn offer as on sale, and its checkouts of one fail with an internal error (the trigger
 * refuses them): withdraw offers once every replica runs this version.
 */
export class Migration20261125081324 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "domain_event" add column if not exists "sales_session_id" uuid null;`);
    this.addSql(`create index if not exists "domain_event_offer_changes" on "domain_event" ("sales_session_id", "position") where "sales_session_id" is not null;`);
    this.addSql(`alter table "offer" add column "withdrawn_at" timestamptz null;`);
    this.addSql(refuseLinesOfWithdrawnOffers);
    this.addSql(`create trigger customer_order_line_offer_on_sale before insert on customer_order_line
                 for each row execute function customer_order_line_offer_on_sale();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger customer_order_line_offer_on_sale on customer_order_line;`);
    this.addSql(`drop function customer_order_line_offer_on_sale();`);
    this.addSql(`drop index "domain_event_offer_changes";`);
    this.addSql(`alter table "domain_event" drop column "sales_session_id";`);
    this.addSql(`alter table "offer" drop column "withdrawn_at";`);
  }

}
