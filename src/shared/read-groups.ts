/**
 * Identical reads that arrive while one of them runs wait for that run to end, then share a single
 * new run. Every answer therefore comes from a run that started after its caller arrived: it
 * reflects every write committed before the caller asked, as a read of its own would. (Handing
 * late callers the result already being computed would be cheaper still, but that result may
 * predate a write they have seen committed.) A burst of N identical reads costs two runs, not N.
 */
export type Turn<T> =
  /** Another caller's run, which started after this caller arrived, produced this result. */
  | { kind: 'shared'; result: T }
  /** Run the read, then call done(): with the result to share it, or with nothing if it must not be shared. */
  | { kind: 'run'; done: (shareable?: T) => void }
  /** The shared run produced nothing shareable (an error, say): run the read alone. */
  | { kind: 'alone' };

interface Lane<T> {
  /** Settles when the run in progress ends. */
  running: Promise<void>;
  /** The result of the run after it, for the callers that arrived meanwhile; undefined while none have. */
  next?: Promise<T | undefined>;
}

export class ReadGroups<T> {
  private readonly lanes = new Map<string, Lane<T>>();

  /** Keys with a run in progress (for tests and metrics). */
  get active(): number {
    return this.lanes.size;
  }

  async take(key: string): Promise<Turn<T>> {
    const lane = this.lanes.get(key);
    if (!lane) return this.start(key);
    if (lane.next) {
      const result = await lane.next;
      return result === undefined ? { kind: 'alone' } : { kind: 'shared', result };
    }
    // The first to arrive during a run waits for it to end, then runs for everyone who came meanwhile.
    const next = deferred<T | undefined>();
    lane.next = next.promise;
    await lane.running;
    return this.start(key, next.resolve);
  }

  private start(key: string, shareWithWaiters?: (result: T | undefined) => void): Turn<T> {
    const ended = deferred<void>();
    let lane = this.lanes.get(key);
    if (lane) {
      lane.running = ended.promise;
      lane.next = undefined;
    } else {
      lane = { running: ended.promise };
      this.lanes.set(key, lane);
    }
    const current = lane;
    let finished = false;
    return {
      kind: 'run',
      done: (shareable) => {
        if (finished) return;
        finished = true;
        shareWithWaiters?.(shareable);
        // Nobody is queued behind this run: the key is forgotten, and its next read runs at once.
        if (!current.next) this.lanes.delete(key);
        ended.resolve();
      },
    };
  }
}

/** Promise.withResolvers(), which Node 20 lacks. */
function deferred<V>(): { promise: Promise<V>; resolve: (value: V) => void } {
  let resolve!: (value: V) => void;
  const promise = new Promise<V>((r) => (resolve = r));
  return { promise, resolve };
}
