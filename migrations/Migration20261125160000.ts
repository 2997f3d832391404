import { Migration } from '@mikro-orm/migrations';

const LOCK = '  perform 1 from stock_level where product_id = new.product_id order by lock_seq for update;';
const BOUNDED_LOCK = `  -- At COMMIT, where a checkout's hold is applied, PostgreSQL has already disarmed the statement
  -- timer: this wait for the product's levels would have no bound at all, and a checkout would
  -- keep its connection for as long as another transaction kept the levels. The transaction's own
  -- lock_timeout stands (a batch's); otherwise the statement timeout bounds the wait, and the
  -- checkout is rolled back whole (55P03), which the API answers as SERVICE_UNAVAILABLE (retryable).
  if current_setting('lock_timeout') = '0' then
    perform set_config('lock_timeout', current_setting('statement_timeout'), true);
  end if;
${LOCK}`;

/**
 * The wait of the commit trigger (stock_movement_apply_at_commit(), Migration20261124230000) for a
 * product's stock levels is bounded by DATABASE_STATEMENT_TIMEOUT, as every statement of a request
 * is: a producer's first checkout in a session and a checkout placed alone apply their hold at
 * COMMIT, where the statement timeout does not run. Without a bound, checkouts of a product whose
 * levels another transaction kept waited as long, each holding a pool connection, until the pool
 * was gone and every hub's requests failed (found by review). The function is restated with that
 * one change.
 */
export class Migration20261125160000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(restate(LOCK, BOUNDED_LOCK));
  }

  override async down(): Promise<void> {
    this.addSql(restate(BOUNDED_LOCK, LOCK));
  }
}

/** The function's definition as stored, with `from` replaced by `to`; refuses to run if `from` is not in it. */
function restate(from: string, to: string): string {
  const quote = (text: string) => `$text$${text}$text$`;
  return `do $$
declare definition text := pg_get_functiondef('stock_movement_apply_at_commit'::regproc);
begin
  if position(${quote(from)} in definition) = 0 then
    raise exception 'stock_movement_apply_at_commit() is not as Migration20261125160000 expects';
  end if;
  execute replace(definition, ${quote(from)}, ${quote(to)});
end $$;`;
}
