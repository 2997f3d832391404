/**
 * Runs `task` at most once at a time. A call made during a run schedules exactly one more run
 * after it, so a burst of triggers costs two runs, and nothing triggered is left unhandled.
 */
export function coalesced(task: () => Promise<void>) {
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = task().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void run();
      }
    });
    return running;
  };
  return { run, idle: async () => void (await running) };
}
