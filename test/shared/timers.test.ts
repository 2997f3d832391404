import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, runAt } from '../../src/shared/timers.js';

// A graphql-ws connection closes when its token expires, which can be months away; one timer
// reaches 24.8 days at most, and Node fires a longer one after 1 ms.
describe('runAt', () => {
  beforeEach(() => void vi.useFakeTimers({ now: Date.parse('2026-11-24T00:00:00Z') }));
  afterEach(() => void vi.useRealTimers());

  it('runs at an instant months away, not when the first timer ends', () => {
    const ran = vi.fn();
    runAt(Date.parse('2027-03-01T00:00:00Z'), ran);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(ran).not.toHaveBeenCalled();
    vi.setSystemTime(Date.parse('2027-02-28T23:59:59Z'));
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(ran).not.toHaveBeenCalled();
    vi.setSystemTime(Date.parse('2027-03-01T00:00:00Z'));
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(ran).toHaveBeenCalledTimes(1);
  });

  it('runs at once for an instant already past, and never once cancelled', () => {
    const past = vi.fn();
    runAt(Date.parse('2026-11-23T00:00:00Z'), past);
    vi.advanceTimersByTime(0);
    expect(past).toHaveBeenCalledTimes(1);

    const cancelled = vi.fn();
    const cancel = runAt(Date.parse('2027-06-01T00:00:00Z'), cancelled);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    cancel();
    vi.setSystemTime(Date.parse('2027-07-01T00:00:00Z'));
    vi.advanceTimersByTime(MAX_TIMER_MS * 2);
    expect(cancelled).not.toHaveBeenCalled();
  });
});
