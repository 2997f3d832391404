import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../shared/processes.js';

/**
 * Which process owns an embedded PostgreSQL's data directory: the one whose number is in the file
 * beside it. It is claimed before PostgreSQL is started, so that of two servers started at the
 * same instant on one DATA_DIR the second sees the first's claim and stays off, instead of taking
 * the first's PostgreSQL, still starting, for an orphan and stopping it.
 */
export function ownerFile(dataDir: string): string {
  return `${dataDir}.owner`;
}

/** How old a claim's guard folder must be to be taken for one left by a process that died inside it. */
const GUARD_STALE_MS = 10_000;

/**
 * Claims `dataDir` for this process, unless a live process owns it: then that process's number is
 * returned and nothing is changed. An owner file whose process is gone (killed, or a machine that
 * restarted) is taken over. Reading the owner and writing ours is one step for other processes:
 * it runs inside a guard folder only one process at a time can make.
 */
export async function claimDataDir(dataDir: string): Promise<{ heldBy?: number }> {
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
    if (owner !== undefined && owner.pid !== process.pid && isSameProcess(owner)) return { heldBy: owner.pid };
    writeFileSync(ownerFile(dataDir), `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`);
    return {};
  } finally {
    rmSync(guard, { recursive: true, force: true });
  }
}

/** Gives up this process's claim (a clean stop, or a start that failed). */
export function releaseDataDir(dataDir: string): void {
  if (readOwner(dataDir)?.pid === process.pid) rmSync(ownerFile(dataDir), { force: true });
}

/** The owner that wrote the file: its number and, where /proc tells, when it started. */
function readOwner(dataDir: string): { pid: number; startTime?: string } | undefined {
  let text: string;
  try {
    text = readFileSync(ownerFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, startTime] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: startTime || undefined };
}

/**
 * Whether the owner still runs: its number alive and, when both are known, started when it did.
 * After a machine restarts, its number may belong to any other process, which owns nothing here.
 */
function isSameProcess(owner: { pid: number; startTime?: string }): boolean {
  if (!isAlive(owner.pid)) return false;
  const now = startTimeOf(owner.pid);
  return owner.startTime === undefined || now === undefined || now === owner.startTime;
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
