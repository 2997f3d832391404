import { Migration } from '@mikro-orm/migrations';

/**
 * customer_order.first_arrival_seq: a changed basket's first checkout's arrival number, so that
 * a short fill ranks the basket where its first checkout stood also when checkouts' instants tie
 * (a batch's share one): it was ranked by the change's own number, after checkouts that arrived
 * after its first one (found by review). Baskets changed before this release are numbered here,
 * by walking each chain of replaced orders from its first order (the first numbered one, as a
 * change numbers it: a first order placed before arrivals were numbered has none): one read of
 * the orders table, and one update of the orders that replaced others.
 */
export class Migration20261125200000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "customer_order" add column "first_arrival_seq" bigint null;`);
    this.addSql(`
      WITH RECURSIVE chain(id, first_seq) AS (
        SELECT o.replaced_by_id, o.arrival_seq FROM customer_order o
         WHERE o.replaced_by_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM customer_order earlier WHERE earlier.replaced_by_id = o.id)
        UNION ALL
        SELECT o.replaced_by_id, coalesce(chain.first_seq, o.arrival_seq) FROM chain JOIN customer_order o ON o.id = chain.id
         WHERE o.replaced_by_id IS NOT NULL
      )
      UPDATE customer_order o SET first_arrival_seq = chain.first_seq FROM chain
       WHERE o.id = chain.id AND chain.first_seq IS NOT NULL;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "customer_order" drop column "first_arrival_seq";`);
  }

}
