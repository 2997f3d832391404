import { createHash } from 'node:crypto';

/**
 * Identical reads share runs instead of each running its own, and every answer still reflects
 * every write committed before its caller arrived, as a read of its own would:
 *
 * - A caller shares a run (in progress, or ended less than `maxAgeMs` ago) only if nothing was
 *   committed between that run's start, before its first read, and the caller's arrival: the
 *   database's version (`Version`) is the same at both. Runs take a version only for keys asked
 *   for again within `maxAgeMs` (the last `POPULAR_KEYS` of them), so a read nobody asks for
 *   again costs no more than it did.
 * - Otherwise it waits for the run in progress to end, then shares a single new run with everyone
 *   else who came meanwhile. A burst of N identical reads costs two runs at most, not N.
 *
 * What a shared answer derives from the clock rather than from the database (a session's status)
 * is as of its run's start: at most `maxAgeMs` before the caller asked.
 */
export type Turn<T> =
  /** A run whose reads began after every commit this caller could have seen produced this result. */
  | { kind: 'shared'; result: T }
  /** Run the read, then call done(): with the result to share it, or with nothing if it must not be shared. */
  | { kind: 'run'; done: (shareable?: T) => void }
  /** The shared run produced nothing shareable (an error, say): run the read alone. */
  | { kind: 'alone' };

/**
 * What the database has committed, as of now: two equal readings mean nothing was committed in
 * between. Undefined (or a failure) when it cannot be told, and nothing is then shared on its strength.
 */
export type Version = () => Promise<string | undefined>;

/** How many recently asked keys are remembered, as digests whatever the size of their variables. */
export const POPULAR_KEYS = 1000;
/**
 * How many ended runs are kept for reuse at most. Each holds its result (a 500-offer catalogue
 * page is about 100 kB as JSON), for at most maxAgeMs after it began.
 */
export const KEPT_RUNS = 50;

export interface ReadGroupsOptions {
  /** Milliseconds on the process's clock (the injected one, so tests can move it). */
  now: () => number;
  /** How long after it started a run's result may still be shared. */
  maxAgeMs: number;
}

interface Run<T> {
  /** The database's version before the run's first read; undefined when none was taken. */
  version: Promise<string | undefined>;
  startedAt: number;
  /** Settles when the run ends: its shareable result, or undefined. */
  result: Promise<T | undefined>;
}

interface Lane<T> {
  latest: Run<T>;
  running: boolean;
  /** The result of the run after the one in progress, for the callers queued for it. */
  next?: Promise<T | undefined>;
}

export class ReadGroups<T> {
  /** Keys with a run in progress, or with a run that ended recently and may be shared. */
  private readonly lanes = new Map<string, Lane<T>>();
  /** Keys of lanes kept after their run ended, in the order they ended. */
  private readonly kept = new Set<string>();
  /** When each of the keys last asked for was last asked for, by digest, oldest first. */
  private readonly asked = new Map<string, number>();
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly options: ReadGroupsOptions) {}

  /** Keys with a run in progress (for tests and metrics). */
  get active(): number {
    return this.lanes.size - this.kept.size;
  }

  /** Results kept for sharing after their run ended (for tests and metrics). */
  get keptResults(): number {
    return this.kept.size;
  }

  async take(key: string, versionOf: Version): Promise<Turn<T>> {
    const version = () => versionOf().catch(() => undefined);
    this.forgetExpired();
    const popular = this.notePopular(key);
    /** This caller's version, once taken: only when there is a run with a version to compare it with. */
    let mine: { version: string | undefined } | undefined;
    // Each pass looks at the key's lane as it is now; a pass that had to wait looks again.
    for (;;) {
      const lane = this.lanes.get(key);
      if (!lane) return this.start(key, version, popular);
      // Callers queued behind the run in progress start the next, which begins after this caller arrived.
      if (lane.next) return shared<T>(await lane.next);
      const run = lane.latest;
      const theirs = await run.version;
      if (theirs !== undefined && this.fresh(run)) {
        if (!mine) {
          mine = { version: await version() };
          continue;
        }
        if (mine.version === theirs) return shared<T>(await run.result);
      }
      if (this.lanes.get(key) !== lane || lane.latest !== run || lane.next) continue;
      if (!lane.running) return this.start(key, version, true);
      // The first to queue during a run waits for it to end, then runs for everyone who came meanwhile.
      const next = deferred<T | undefined>();
      lane.next = next.promise;
      await run.result;
      return this.start(key, version, true, next.resolve);
    }
  }

  /** Whether the key was asked for less than maxAgeMs ago; notes that it is asked for now. */
  private notePopular(key: string): boolean {
    const id = digest(key);
    const now = this.options.now();
    const last = this.asked.get(id);
    this.asked.delete(id);
    this.asked.set(id, now);
    if (this.asked.size > POPULAR_KEYS) this.asked.delete(this.asked.keys().next().value!);
    return last !== undefined && now - last <= this.options.maxAgeMs;
  }

  private async start(key: string, version: Version, popular: boolean, shareWithQueued?: (result: T | undefined) => void): Promise<Turn<T>> {
    const ended = deferred<T | undefined>();
    const run: Run<T> = {
      version: popular ? version() : Promise.resolve(undefined),
      startedAt: this.options.now(),
      result: ended.promise,
    };
    this.kept.delete(key);
    const lane: Lane<T> = { latest: run, running: true };
    this.lanes.set(key, lane);
    let finished = false;
    // Before the caller's first read: whoever shares this run on the strength of its version must
    // not have seen a commit that its reads could miss.
    await run.version;
    return {
      kind: 'run',
      done: (shareable) => {
        if (finished) return;
        finished = true;
        lane.running = false;
        shareWithQueued?.(shareable);
        ended.resolve(shareable);
        if (this.lanes.get(key) !== lane) return;
        // Whoever queued behind this run starts the next; otherwise the result is kept while it
        // may be shared, or the key is forgotten and its next read runs at once.
        if (lane.next) return;
        if (shareable !== undefined && popular) this.keep(key);
        else this.lanes.delete(key);
      },
    };
  }

  /** Begun at most maxAgeMs ago, and not after now: a clock set back must not revive a later run's answer. */
  private fresh(run: Run<T>): boolean {
    const age = this.options.now() - run.startedAt;
    return age >= 0 && age <= this.options.maxAgeMs;
  }

  private keep(key: string): void {
    this.kept.add(key);
    if (this.kept.size > KEPT_RUNS) this.forget(this.kept.values().next().value!);
    this.sweepLater();
  }

  /**
   * Lets go of kept results once they are too old to share, also when no caller comes to notice:
   * a page kept at the end of a busy minute must not stay in memory all night. The timer only
   * triggers the check; the age is always the injected clock's.
   */
  private sweepLater(): void {
    if (this.sweep) return;
    this.sweep = setTimeout(() => {
      this.sweep = undefined;
      this.forgetExpired();
      if (this.kept.size > 0) this.sweepLater();
    }, this.options.maxAgeMs + 1);
    this.sweep.unref();
  }

  /**
   * Kept runs too old to share, in the order they were kept, up to the first still fresh. One
   * begun earlier but ended later waits behind it for a later sweep; take() checks every run's
   * age, so it is never shared meanwhile.
   */
  private forgetExpired(): void {
    for (const key of this.kept) {
      if (this.fresh(this.lanes.get(key)!.latest)) break;
      this.forget(key);
    }
  }

  private forget(key: string): void {
    this.kept.delete(key);
    this.lanes.delete(key);
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64');
}

function shared<T>(result: T | undefined): Turn<T> {
  return result === undefined ? { kind: 'alone' } : { kind: 'shared', result };
}

/** Promise.withResolvers(), which Node 20 lacks. */
function deferred<V>(): { promise: Promise<V>; resolve: (value: V) => void } {
  let resolve!: (value: V) => void;
  const promise = new Promise<V>((r) => (resolve = r));
  return { promise, resolve };
}
