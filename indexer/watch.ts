// The live index: a file watcher (@parcel/watcher) over the root, and incremental index runs
// when sources change. Events are coalesced: a burst (a branch switch, an `hg update` touching
// thousands of files) waits for a short quiet spell and becomes one run, and events that arrive
// during a run make exactly one more run after it. Each run is the ordinary incremental
// `indexRepo`, which finds what changed by size, mtime and hash, so renames and deletes need no
// special handling and a missed event is caught by the next run.
import { existsSync, statSync } from 'node:fs';
import { basename, extname, relative, resolve } from 'node:path';
import watcher from '@parcel/watcher';
import { indexRepo, optimizeIndex, type IndexOptions, type IndexSummary } from './pipeline.js';
import { IndexLockedError } from './lock.js';
import { isRemoteIndex, normalizeIndexLocation } from './location.js';
import { ALWAYS_SKIPPED_DIRS, isWithin } from './walk.js';

/** Quiet time after the last event before a run starts: one run per burst, yet fresh within a second. */
export const DEFAULT_SETTLE_MS = 200;
/**
 * Quiet time after which the optimize pass that runs put off is done. A save during the pass
 * waits for the table pass under way (1–2 s, more under load), so the pass waits for a real
 * pause, not the gap between two saves (at 5 s, the load trial's first edit after a pause waited
 * 4.7 s).
 */
const OPTIMIZE_WHEN_IDLE_MS = 15_000;
/** A run waits this long when another process holds the index lock, then tries again. */
const LOCKED_RETRY_MS = 1000;
/**
 * A failed run is tried again after this long, without waiting for another change, and after
 * twice as long each time it fails again, up to a minute.
 */
const FAILED_RETRY_MS = 2000;
const FAILED_RETRY_MAX_MS = 60_000;
const WATCHED_FILES = /\.mli?$|^dune$|^\.(git|hg|codesearch)ignore$/;

export interface WatchOptions extends Omit<IndexOptions, 'onProgress' | 'deferOptimize'> {
  settleMs?: number;
  /** A run or an optimize pass starts: the index is about to change. */
  onRunStart?: () => void;
  /** After each run, with what it did and the paths whose events started it. */
  onRun?: (summary: IndexSummary, changed: readonly string[]) => void;
  /** A run or an optimize pass ended, whether it did its work or failed. */
  onRunEnd?: () => void;
  /** A run failed; the watcher keeps going, and tries again after a pause or at the next change. */
  onError?: (err: Error) => void;
  /** The first pause after a failed run (ms), doubling while runs keep failing. */
  retryMs?: number;
}

export interface LiveIndex {
  /** Resolves once no run is running or waiting. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Starts watching and brings the index up to date (`settled` tells when), then keeps it so until `close`. */
export async function watchIndex(options: WatchOptions): Promise<LiveIndex> {
  const root = resolve(options.root);
  const db = normalizeIndexLocation(options.db);
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const onError = options.onError ?? (() => {});
  const run = () => indexRepo({ ...options, root, db, deferOptimize: true });

  let changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let optimizeTimer: NodeJS.Timeout | undefined;
  const idle: (() => void)[] = [];
  // Failed runs in a row, the paths they were for, and the try after a pause.
  let failures = 0;
  let failedPaths: string[] = [];
  let retryTimer: NodeJS.Timeout | undefined;
  const retryMs = options.retryMs ?? FAILED_RETRY_MS;

  // After a run or an optimize pass: the changes that came meanwhile start the next run, and
  // with nothing left to do, whoever waits for the index to settle is told.
  const afterWork = () => {
    running = undefined;
    if (changed.size > 0 && !timer) timer = setTimeout(start, settleMs);
    if (!timer) for (const resolveIdle of idle.splice(0)) resolveIdle();
  };

  // Runs put off the optimize pass; it runs once changes pause, in the same single file as runs.
  const optimizeLater = () => {
    if (optimizeTimer) clearTimeout(optimizeTimer);
    optimizeTimer = setTimeout(() => {
      optimizeTimer = undefined;
      if (running || timer || closed) return;
      // Announced like a run: it writes a new version too, and a server gives way to it.
      options.onRunStart?.();
      running = optimizeIndex(db, { yieldTo: () => changed.size > 0 || closed })
        .then(() => {}, onError)
        .finally(() => {
          options.onRunEnd?.();
          afterWork();
        });
    }, OPTIMIZE_WHEN_IDLE_MS);
  };

  const start = () => {
    timer = undefined;
    if (running || closed) return;
    const paths = [...changed];
    changed = new Set();
    running = (async () => {
      try {
        options.onRunStart?.();
        // Awaited apart: an optional call would skip evaluating its arguments, the run itself.
        const summary = await run();
        options.onRun?.(summary, [...failedPaths.splice(0), ...paths]);
        failures = 0;
        if (retryTimer) clearTimeout(retryTimer);
        retryTimer = undefined;
        optimizeLater();
      } catch (err) {
        if (err instanceof IndexLockedError) {
          // Another `codesearch index` is writing: it will have seen most of this; look again after it.
          for (const p of paths) changed.add(p);
          timer ??= setTimeout(start, LOCKED_RETRY_MS);
        } else {
          onError(err as Error);
          // Without this, what the failed run was for waits for the next change (a server back up).
          failedPaths.push(...paths);
          retryTimer ??= setTimeout(retry, Math.min(FAILED_RETRY_MAX_MS, retryMs * 2 ** failures++));
        }
      } finally {
        options.onRunEnd?.();
        afterWork();
      }
    })();
  };

  const retry = () => {
    retryTimer = undefined;
    if (!closed) schedule([]);
  };

  const schedule = (paths: string[]) => {
    for (const p of paths) changed.add(p);
    if (optimizeTimer) clearTimeout(optimizeTimer);
    optimizeTimer = undefined;
    if (closed || running) return; // the run's end schedules the next
    if (timer) clearTimeout(timer);
    timer = setTimeout(start, settleMs);
  };

  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`cannot watch ${root}: not a directory`);
  const subscription = await watcher.subscribe(
    root,
    (err, events) => {
      if (err) return onError(err);
      // A directory created or deleted whole may be reported without its files.
      const relevant = events.filter((e) => WATCHED_FILES.test(basename(e.path)) || (e.type !== 'update' && !extname(e.path)));
      if (relevant.length > 0) schedule(relevant.map((e) => relative(root, e.path)));
    },
    { ignore: [...[...ALWAYS_SKIPPED_DIRS].map((d) => `**/${d}/**`), ...(!isRemoteIndex(db) && isWithin(root, db) ? [relative(root, db)] : [])] },
  );

  // The first run brings the index up to date with what changed while nothing watched.
  start();
  return {
    settled: () => (running || timer ? new Promise<void>((r) => idle.push(r)) : Promise.resolve()),
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (optimizeTimer) clearTimeout(optimizeTimer);
      if (retryTimer) clearTimeout(retryTimer);
      timer = undefined;
      await subscription.unsubscribe();
      await running;
      for (const resolveIdle of idle.splice(0)) resolveIdle();
    },
  };
}
