import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../shared/processes.js';

/**
 * Which process owns an embedded PostgreSQL's data directory: the one whose number is in the file
 * beside it. It is claimed before PostgreSQL is started, so that of two servers started at the
 * same instant on one DATA_DIR the second sees the first's claim and stays off, instead of taking
 * the first's PostgreSQL, still starting, for an orphan and stopping it.
 *
 * The file holds the number alone, as releases before the claim wrote and read it (one of them,
 * run beside this one, must not misread it and stop a running PostgreSQL as an orphan's). When
 * the owner started is kept in a second file (startFile()).
 */
export function ownerFile(dataDir: string): string {
  return `${dataDir}.owner`;
}

/** The owner's number and when it started (/proc), so that a number taken by another process after a restart owns nothing. */
function startFile(dataDir: string): string {
  return `${dataDir}.owner-start`;
}

/** How old a claim's guard folder must be to be taken for one left by a process that died inside it. */
const GUARD_STALE_MS = 10_000;

/**
 * Claims `dataDir` for this process, unless a live process owns it: then that process's number is
 * returned and nothing is changed. An owner file whose process is gone (killed, or a machine that
 * restarted) is taken over. Reading the owner and writing ours is one step for other processes:
 * it runs inside a guard folder only one process at a time can make.
 *
 * clusterRuns: whether a PostgreSQL runs on `dataDir`, the only sign of a live owner that a
 * release before this one left (its file has no start time).
 */
export async function claimDataDir(dataDir: string, clusterRuns: () => boolean): Promise<{ heldBy?: number }> {
  const guard = `${dataDir}.claiming`;
  for (;;) {
    try {
      mkdirSync(guard);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() - mtimeOf(guard) > GUARD_STALE_MS) rmSync(guard, { recursive: true, force: true });
      else await sleep(20);
    }
  }
  try {
    const owner = readOwner(dataDir);
    if (owner !== undefined && owner.pid !== process.pid && ownsStill(owner, clusterRuns)) return { heldBy: owner.pid };
    writeFileSync(startFile(dataDir), `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`);
    writeFileSync(ownerFile(dataDir), `${process.pid}\n`);
    return {};
  } finally {
    rmSync(guard, { recursive: true, force: true });
  }
}

/** Gives up this process's claim (a clean stop, or a start that failed). */
export function releaseDataDir(dataDir: string): void {
  if (readOwner(dataDir)?.pid !== process.pid) return;
  rmSync(ownerFile(dataDir), { force: true });
  rmSync(startFile(dataDir), { force: true });
}

/** The owner: its number and, if it wrote one, its start-time record ('' where /proc was not there to tell). */
function readOwner(dataDir: string): { pid: number; startTime?: string } | undefined {
  const pid = Number(readText(ownerFile(dataDir)));
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const [startPid, startTime] = readText(startFile(dataDir)).split(/\s+/);
  return { pid, startTime: startPid === String(pid) ? (startTime ?? '') : undefined };
}

/**
 * Whether the owner still runs. After a machine restarts, its number may belong to any other
 * process, which owns nothing here: when it started tells them apart. An owner of a release
 * before this one, which kept no start time, owns the directory only while a PostgreSQL runs
 * on it, as that release judged.
 */
function ownsStill(owner: { pid: number; startTime?: string }, clusterRuns: () => boolean): boolean {
  if (!isAlive(owner.pid)) return false;
  if (owner.startTime === undefined) return clusterRuns();
  const now = startTimeOf(owner.pid);
  return owner.startTime === '' || now === undefined || now === owner.startTime;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined without /proc. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return Date.now();
  }
}
