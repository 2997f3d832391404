/**
 * Runs `task` at most once at a time. A call made during a run schedules exactly one more run
 * after it, so a burst of triggers costs two runs, and nothing triggered is left unhandled.
 *
 * Callers fire and forget (`void run()`), and the extra run has no caller at all, so a failed run
 * goes to `onError` and `run()` never rejects: an unhandled rejection would end the process.
 * `task` must be an async function (it may not throw before returning its promise).
 */
export function coalesced(task: () => Promise<void>, onError: (error: unknown) => void) {
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = task()
      .catch(onError)
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          void run();
        }
      });
    return running;
  };
  /** Resolves once no run is under way, including the extra run a call during the last one asked for. */
  const idle = async (): Promise<void> => {
    while (running) await running;
  };
  return { run, idle };
}
