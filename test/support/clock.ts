import { DateTime, type DurationLike } from 'luxon';
import type { Clock } from '../../src/shared/clock.js';

/** A clock the test moves by hand, so time-driven behaviour is tested without sleeping. */
export class ManualClock implements Clock {
  private current: DateTime;

  constructor(start: string) {
    this.current = DateTime.fromISO(start, { setZone: true });
    if (!this.current.isValid) throw new Error(`bad start time ${start}`);
  }

  now(): Date {
    return this.current.toJSDate();
  }

  set(iso: string): void {
    this.current = DateTime.fromISO(iso, { setZone: true });
  }

  advance(by: DurationLike): void {
    this.current = this.current.plus(by);
  }
}
