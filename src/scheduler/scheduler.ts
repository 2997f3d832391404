import type { MikroORM } from '@mikro-orm/postgresql';
import type { Duration } from 'luxon';
import type { Logger } from 'pino';
import type { Clock } from '../shared/clock.js';
import type { RequestContext } from '../shared/request-context.js';
import type { DueOutcome } from './each-due.js';

/**
 * One kind of work the scheduler does on every tick. Returns how many things it did. A job must
 * not wait on anything outside the database (a webhook receiver): the tick runs the jobs one after
 * another, and hold expiry and session completion cannot wait behind someone else's server.
 */
export interface ScheduledJob {
  readonly name: string;
  /** Run at most once per this much clock time (housekeeping that need not run every tick). */
  readonly every?: Duration;
  /** How many things it did; a pass over due items (doEachDue()) also says what it left busy. */
  run(ctx: RequestContext): Promise<number | DueOutcome>;
}

/**
 * Runs the time-driven jobs (hold expiry, session completion) inside the server. It keeps no state
 * of its own: each tick asks PostgreSQL what is due, so a restart or a second replica changes
 * nothing, and the jobs themselves make sure each thing is done once.
 */
export class Scheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private stopped = false;
  /** When each job with `every` last ran, on this process: replicas each keep their own pace. */
  private readonly lastRun = new Map<ScheduledJob, number>();

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly interval: Duration,
    private readonly jobs: ScheduledJob[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.runOnce(), this.interval.toMillis());
    this.timer.unref();
    void this.runOnce();
  }

  /** Asks for a tick now (a session closed early), instead of at the next interval. */
  wake(): void {
    if (!this.stopped) void this.runOnce();
  }

  /**
   * Runs every job once, against the clock as it is now. A call made while a tick is running gets
   * the next tick, which starts when that one ends, so it sees everything due at the time of the call.
   */
  runOnce(): Promise<void> {
    if (!this.running) {
      this.running = this.tick().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.stopped ? undefined : this.runOnce();
    });
    return this.queued;
  }

  /** Stops the timer and waits for the ticks already started or promised. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.queued;
    await this.running;
  }

  private async tick(): Promise<void> {
    for (const job of this.jobs) {
      if (!this.isDue(job)) continue;
      const ctx: RequestContext = { actor: { kind: 'system' }, em: this.orm.em.fork(), clock: this.clock };
      try {
        const outcome = await job.run(ctx);
        const { done, busy, skipped } = typeof outcome === 'number' ? { done: outcome, busy: 0, skipped: 0 } : outcome;
        if (done > 0) this.logger.info({ job: job.name, done }, 'scheduler job did work');
        // Normal with several replicas (another is completing the same session); a number that
        // stays up tick after tick names stock someone keeps locked.
        if (busy + skipped > 0) this.logger.info({ job: job.name, busy, skipped }, 'scheduler job left busy items for the next tick');
      } catch (error) {
        // The next tick retries: everything a job does is re-checked against the database.
        this.logger.error({ err: error, job: job.name }, 'scheduler job failed');
      }
    }
  }

  private isDue(job: ScheduledJob): boolean {
    if (!job.every) return true;
    const now = this.clock.now().getTime();
    const last = this.lastRun.get(job);
    // A clock set back (tests do) counts as due rather than waiting for it to catch up.
    if (last !== undefined && now >= last && now - last < job.every.toMillis()) return false;
    this.lastRun.set(job, now);
    return true;
  }
}
