import { describe, expect, it } from 'vitest';
import { KEPT_RUNS, ReadGroups, type Turn } from '../../src/shared/read-groups.js';

/** Lets every pending promise callback run, so that what can settle has settled. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A take() whose outcome can be looked at without awaiting it. */
function track<T>(turn: Promise<Turn<T>>) {
  const seen: { turn?: Turn<T> } = {};
  void turn.then((t) => (seen.turn = t));
  return seen;
}

function runner<T>(turn: Turn<T> | undefined): (shareable?: T) => void {
  if (turn?.kind !== 'run') throw new Error(`expected to run, got ${JSON.stringify(turn)}`);
  return turn.done;
}

/** The database as the groups see it: a version that commits move on, and a clock. */
function world() {
  const state = { version: 1, now: 0, versionsTaken: 0, unreachable: false };
  const groups = new ReadGroups<string>({ now: () => state.now, maxAgeMs: 1000 });
  const version = async () => {
    state.versionsTaken += 1;
    if (state.unreachable) throw new Error('connection refused');
    return String(state.version);
  };
  return { state, groups, take: (key: string) => groups.take(key, version), commit: () => (state.version += 1) };
}

describe('identical reads', () => {
  it('runs a read at once, taking no version, when it was not asked for lately', async () => {
    const { groups, take, state } = world();
    expect((await take('page')).kind).toBe('run');
    expect((await take('another page')).kind).toBe('run');
    expect(state.versionsTaken).toBe(0);
    expect(groups.active).toBe(2);
  });

  it('gives reads that arrive during a run with no version the result of one later run, never of the run they found', async () => {
    const { groups, take } = world();
    const finishFirst = runner(await take('page'));
    const second = track(take('page'));
    const third = track(take('page'));
    await settle();
    expect([second.turn, third.turn]).toEqual([undefined, undefined]);

    finishFirst('read before they asked');
    await settle();
    const finishSecond = runner(second.turn);
    expect(third.turn).toBeUndefined();
    finishSecond('read after they asked');
    await settle();
    expect(third.turn).toEqual({ kind: 'shared', result: 'read after they asked' });
    expect(groups.active).toBe(0);
  });

  it('shares the run in progress of a key asked for lately while nothing is committed', async () => {
    const { take, state } = world();
    runner(await take('page'))('first');
    const finish = runner(await take('page'));
    // Asked for again within the age: this run noted the version before its reads.
    expect(state.versionsTaken).toBe(1);
    const joining = track(take('page'));
    await settle();
    expect(joining.turn).toBeUndefined();
    finish('second');
    await settle();
    expect(joining.turn).toEqual({ kind: 'shared', result: 'second' });
  });

  it('lets a run begin only once its version is taken, so that nobody shares it on a version taken after its reads', async () => {
    const { groups, take } = world();
    runner(await take('page'))('first');
    let answer!: (version: string) => void;
    const slow = new Promise<string>((resolve) => (answer = resolve));
    const second = track(groups.take('page', () => slow));
    await settle();
    expect(second.turn).toBeUndefined();
    answer('1');
    await settle();
    expect(second.turn?.kind).toBe('run');
  });

  it('never shares a run with a caller who arrived after a commit the run may have missed', async () => {
    const { take, commit } = world();
    runner(await take('page'))('first');
    const finish = runner(await take('page'));
    commit();
    const after = track(take('page'));
    const alsoAfter = track(take('page'));
    finish('read before the commit');
    await settle();
    // One new run, for both.
    const finishNext = runner(after.turn);
    expect(alsoAfter.turn).toBeUndefined();
    finishNext('read after the commit');
    await settle();
    expect(alsoAfter.turn).toEqual({ kind: 'shared', result: 'read after the commit' });
  });

  it('answers from a run that ended while nothing is committed, for at most maxAgeMs after it began', async () => {
    const { take, commit, state } = world();
    runner(await take('page'))('first');
    runner(await take('page'))('kept');
    state.now += 1000;
    expect(await take('page')).toEqual({ kind: 'shared', result: 'kept' });
    state.now += 1;
    // Too old: what it derived from the clock may have changed.
    const tooOld = await take('page');
    runner(tooOld)('renewed');
    expect(await take('page')).toEqual({ kind: 'shared', result: 'renewed' });
    commit();
    runner(await take('page'))('after the commit');
    expect(await take('page')).toEqual({ kind: 'shared', result: 'after the commit' });
    // A clock set back: the answer began later than now.
    state.now -= 10;
    expect((await take('page')).kind).toBe('run');
  });

  it('lets go of a kept result once it is too old to share, even if nobody asks again', async () => {
    const state = { now: 0 };
    const groups = new ReadGroups<string>({ now: () => state.now, maxAgeMs: 20 });
    const version = async () => '1';
    runner(await groups.take('page', version))('first');
    runner(await groups.take('page', version))('kept');
    expect(groups.keptResults).toBe(1);
    state.now += 21;
    const deadline = Date.now() + 5000;
    while (groups.keptResults > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(groups.keptResults).toBe(0);
  });

  it('shares nothing on the strength of a version it could not take', async () => {
    const { take, state } = world();
    runner(await take('page'))('first');
    state.unreachable = true;
    runner(await take('page'))('second');
    // Neither run has a version: the next read runs.
    expect((await take('page')).kind).toBe('run');
  });

  it('lets the waiting reads run on their own when the run has nothing to share, and keeps nothing', async () => {
    const { groups, take } = world();
    const finishFirst = runner(await take('page'));
    const second = track(take('page'));
    const third = track(take('page'));
    await settle();
    finishFirst();
    await settle();
    runner(second.turn)(undefined);
    await settle();
    expect(third.turn).toEqual({ kind: 'alone' });
    expect(groups.active).toBe(0);
    expect((await take('page')).kind).toBe('run');
  });

  it('forgets a key once its last run is done, ignores a second done(), and keeps at most KEPT_RUNS results', async () => {
    const { groups, take } = world();
    const done = runner(await take('page'));
    expect(groups.active).toBe(1);
    done('x');
    done('y');
    expect(groups.active).toBe(0);
    expect((await take('page')).kind).toBe('run');

    for (let i = 0; i <= KEPT_RUNS; i += 1) {
      runner(await take(`page ${i}`))('first');
      runner(await take(`page ${i}`))(`kept ${i}`);
    }
    // The oldest kept result made way for the newest.
    expect((await take('page 0')).kind).toBe('run');
    expect(await take(`page ${KEPT_RUNS}`)).toEqual({ kind: 'shared', result: `kept ${KEPT_RUNS}` });
  });
});
