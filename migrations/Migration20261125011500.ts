import { Migration } from '@mikro-orm/migrations';

/**
 * A hub's webhook no longer gets the producer's lot and location ids in its events' bodies
 * (LOT_SWAPPED names the lot picked, for one): over GraphQL a hub is refused those fields, and
 * the README calls them the producer's business. The relay function is restated whole with that
 * one change (Migration20261123231500 has the rest of its story), and the bodies already queued
 * or kept for hub webhooks lose them too.
 */
export class Migration20261125011500 extends Migration {

  override async up(): Promise<void> {
    // What hub webhooks were already sent, or are still to be sent, loses them too: a hub reads
    // its deliveries' bodies (Webhook.deliveries). Only bodies naming a lot or a location are
    // rewritten, in place, keeping the text's layout (json_build_object's " : ").
    this.addSql(`update webhook_delivery d
   set body = regexp_replace(regexp_replace(d.body, '"lotId" : "[^"]*"', '"lotId" : null'), '"locationId" : "[^"]*"', '"locationId" : null')
  from webhook w
 where w.id = d.webhook_id and w.hub_id is not null
   and (d.body like '%"lotId" : "%' or d.body like '%"locationId" : "%');`);
    this.addSql(relay(FOR_PRODUCERS_ONLY));
  }

  override async down(): Promise<void> {
    this.addSql(relay(FOR_EVERY_WEBHOOK));
  }

}

/** The relay function (Migration20261123231500), with the body's lot and location fields as given. */
export const relay = (lotAndLocation: string) => `create or replace function position_pending_events(p_now timestamptz, p_channel text, out last_position bigint, out deliveries integer)
language plpgsql volatile as $$
begin
  perform pg_advisory_xact_lock(7146205332);
  with base as (select coalesce(max(position), 0) as top from domain_event),
       pending as (select id, row_number() over (order by id) as n from domain_event
                    where position is null order by id limit 10000),
       positioned as (update domain_event e set position = base.top + pending.n from pending, base
                       where e.id = pending.id returning e.*),
       queued as (
         insert into webhook_delivery (webhook_id, event_position, ordering_key, body, status, attempt_count, next_attempt_at, created_at)
         select w.id, p.position, coalesce(p.producer_order_id, p.product_id),
                json_build_object(
                  'id', p.position::text, 'kind', p.kind, 'producerId', p.producer_id, 'productId', p.product_id,
                  'producerOrderId', p.producer_order_id, 'hubId', p.hub_id, 'customerOrderId', p.customer_order_id,
                  ${lotAndLocation}
                  'quantity', trim_scale(p.quantity)::text, 'available', trim_scale(p.available)::text,
                  'at', to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text,
                'PENDING', 0, p_now, p_now
           from positioned p
           join webhook w on w.active and p.kind = any(w.kinds)
                         and (w.producer_id is null or w.producer_id = p.producer_id)
                         and (w.hub_id is null or w.hub_id = p.hub_id)
          order by p.position, w.id
         returning 1)
  select (select max(position) from positioned), (select count(*)::int from queued)
    into last_position, deliveries;
  if last_position is not null then
    perform pg_notify(p_channel, last_position::text);
  end if;
end $$;`;

/** This migration's: the producer's lot and location for webhooks that are no hub's. */
export const FOR_PRODUCERS_ONLY = `-- Where a producer keeps its stock is its own business: a hub's webhook (any
                  -- with a hub scope, also one the operator narrowed to a producer) is not
                  -- told, as fulfilmentChanged refuses a hub its events' lot and location.
                  'locationId', case when w.hub_id is null then p.location_id end,
                  'lotId', case when w.hub_id is null then p.lot_id end,`;

/** The previous version's: for every webhook. */
const FOR_EVERY_WEBHOOK = `'locationId', p.location_id, 'lotId', p.lot_id,`;
