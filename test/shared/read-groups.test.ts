import { describe, expect, it } from 'vitest';
import { ReadGroups, type Turn } from '../../src/shared/read-groups.js';

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

describe('identical reads in flight', () => {
  it('runs a read at once when no identical read is running', async () => {
    const groups = new ReadGroups<string>();
    expect((await groups.take('page')).kind).toBe('run');
    expect((await groups.take('another page')).kind).toBe('run');
  });

  it('gives the reads that arrive during a run the result of one later run, never of the run they found', async () => {
    const groups = new ReadGroups<string>();
    const finishFirst = runner(await groups.take('page'));
    const second = track(groups.take('page'));
    const third = track(groups.take('page'));
    await settle();
    expect([second.turn, third.turn]).toEqual([undefined, undefined]);

    finishFirst('read before they asked');
    await settle();
    const finishSecond = runner(second.turn);
    expect(third.turn).toBeUndefined();
    // Arriving now, during the second run, means waiting for a third one.
    const fourth = track(groups.take('page'));

    finishSecond('read after they asked');
    await settle();
    expect(third.turn).toEqual({ kind: 'shared', result: 'read after they asked' });
    const finishFourth = runner(fourth.turn);
    finishFourth('later still');
    expect(groups.active).toBe(0);
  });

  it('lets the waiting reads run on their own when the run has nothing to share', async () => {
    const groups = new ReadGroups<string>();
    const finishFirst = runner(await groups.take('page'));
    const second = track(groups.take('page'));
    const third = track(groups.take('page'));
    finishFirst();
    await settle();
    runner(second.turn)(undefined);
    await settle();
    expect(third.turn).toEqual({ kind: 'alone' });
    expect(groups.active).toBe(0);
  });

  it('forgets a key once its last run is done, and ignores a second done()', async () => {
    const groups = new ReadGroups<string>();
    const done = runner(await groups.take('page'));
    expect(groups.active).toBe(1);
    done('x');
    done('y');
    expect(groups.active).toBe(0);
    expect((await groups.take('page')).kind).toBe('run');
  });
});
