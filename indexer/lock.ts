// One writer per index: a lock file created exclusively in the db directory, holding the pid.
// A lock left by a process that no longer runs (kill -9) is taken over. The shards of a sharded
// build write at once, each under a lock of its own, and never beside a whole-index writer
// (whose version cleanup could delete a shard's files before they are committed).
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
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

const WHOLE_INDEX_LOCK = 'index.lock';
const SHARD_LOCK = /^index\.shard-(\d+)-of-(\d+)\.lock$/;

/**
 * Takes the write lock of a local index directory — the whole index's, or with `shard` the
 * lock of that shard — and returns its release function.
 */
export function acquireIndexLock(dbDir: string, shard?: { index: number; count: number }): () => void {
  const release = takeLock(dbDir, shard ? `index.shard-${shard.index + 1}-of-${shard.count}.lock` : WHOLE_INDEX_LOCK);
  // Taken first, looked at second: of a shard and a whole-index writer starting together, at
  // least one sees the other.
  const other = readdirSync(dbDir).find((name) => (shard ? name === WHOLE_INDEX_LOCK : SHARD_LOCK.test(name)) && holderAlive(join(dbDir, name)));
  if (other) {
    release();
    const what = shard ? 'a whole-index update' : `shard ${other.replace(SHARD_LOCK, '$1/$2')}`;
    throw new IndexLockedError(`${what} (pid ${readFileSafe(join(dbDir, other))}) is writing ${dbDir}; wait for it to finish`);
  }
  return release;
}

function holderAlive(file: string): boolean {
  const pid = Number.parseInt(readFileSafe(file), 10);
  return Number.isInteger(pid) && pid !== process.pid && alive(pid);
}

function takeLock(dbDir: string, name: string): () => void {
  mkdirSync(dbDir, { recursive: true });
  const file = join(dbDir, name);
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
