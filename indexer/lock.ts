// One writer per index: a lock file created exclusively in the db directory, holding the pid.
// A lock left by a process that no longer runs (kill -9) is taken over.
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export class IndexLockedError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Locks held by this process: the pid in the file cannot tell two callers in one process apart. */
const heldHere = new Set<string>();

/** Takes the write lock of a local index directory; returns its release function. */
export function acquireIndexLock(dbDir: string): () => void {
  mkdirSync(dbDir, { recursive: true });
  const file = join(dbDir, 'index.lock');
  if (heldHere.has(file)) throw new IndexLockedError(`an index update of ${dbDir} is already running in this process; wait for it to finish`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(file);
      return () => {
        heldHere.delete(file);
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSafe(file), 10);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) {
        throw new IndexLockedError(`another codesearch index (pid ${pid}) is updating ${dbDir}; wait for it to finish`);
      }
      rmSync(file, { force: true }); // stale: its writer died
    }
  }
  throw new IndexLockedError(`could not lock ${dbDir}`);
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
