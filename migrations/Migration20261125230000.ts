import { Migration } from '@mikro-orm/migrations';
import { placeCustomerOrderLockingCapsNow } from './Migration20261125110000.js';

const OPEN_BY_THE_CLOCK = `where id = (basket->>'salesSessionId')::uuid and completed_at is null and closed_at is null
       and opens_at <= instant and closes_at > instant`;

const OPEN_AND_NOT_ANNOUNCED_CLOSED = `where id = (basket->>'salesSessionId')::uuid and completed_at is null and closed_at is null
       -- A close announced to the storefronts is a close, whatever this checkout's clock says.
       and close_announced_at is null
       and opens_at <= instant and closes_at > instant`;

/**
 * place_customer_order() (and place_customer_orders(), which calls it for each basket of a batch)
 * places no order in a session whose scheduled close was announced (close_announced_at). The
 * checkout read it without a lock: a checkout on a replica whose clock was a little behind,
 * which read the session just before another replica's scheduler announced the close, waited for
 * that announcement's lock and then placed its order, in a session its storefronts had been told
 * was closed (found by review). Its check, made after that wait, now reads the announcement. The
 * rest of the function is unchanged.
 */
export class Migration20261125230000 extends Migration {

  override async up(): Promise<void> {
    if (!placeCustomerOrderLockingCapsNow.includes(OPEN_BY_THE_CLOCK)) throw new Error('place_customer_order() is not the body this migration changes');
    this.addSql(placeCustomerOrderLockingCapsNow.replace(OPEN_BY_THE_CLOCK, OPEN_AND_NOT_ANNOUNCED_CLOSED));
  }

  override async down(): Promise<void> {
    this.addSql(placeCustomerOrderLockingCapsNow);
  }

}
