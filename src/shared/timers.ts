/** The longest delay setTimeout keeps (2^31 - 1 ms, about 24.8 days); Node turns a longer one into 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `then` at `instant` (ms since the epoch), however far away: a later instant than one
 * timer reaches is reached in steps. The timer does not keep the process alive. Returns what
 * cancels it.
 */
export function runAt(instant: number, then: () => void, now: () => number = Date.now): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const delay = Math.max(0, instant - now());
    timer = delay > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(then, delay);
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
