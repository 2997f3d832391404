import { Migration } from '@mikro-orm/migrations';

/**
 * The event relay in one statement: positions committed events, queues their webhook deliveries
 * and NOTIFYs, as `SELECT * FROM position_pending_events(now, channel)` in autocommit. It was a
 * transaction of four round trips (BEGIN, lock, position, COMMIT), run after nearly every
 * checkout's commit; under a checkout burst those were a quarter of the server's round trips,
 * and the server's CPU per round trip is what bounds checkout throughput.
 *
 * One relay at a time (advisory lock 7146205332, as before). The positioning statement reads
 * max(position) after the lock is granted: each statement of a VOLATILE function takes its own
 * snapshot, so it sees the positions of the relay it waited for. NOTIFY is delivered on commit,
 * so listeners never read positions that are not visible yet.
 */
export class Migration20261123231500 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create function position_pending_events(p_now timestamptz, p_channel text, out last_position bigint, out deliveries integer)
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
                  'locationId', p.location_id, 'lotId', p.lot_id,
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
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql('drop function position_pending_events(timestamptz, text);');
  }

}
