// walk → parse → chunk → store, incrementally: only files whose size, mtime and then content
// hash changed are parsed again, and each changed file is replaced in one commit.
import { resolve } from 'node:path';
import { isWithin, walkRepo } from './walk.js';
import { createModuleResolver } from './modules.js';
import { runJobs } from './pool.js';
import { acquireIndexLock, IndexLockedError } from './lock.js';
import { hashContent, readSource, type FileOutcome, type UnitJob } from './process-file.js';
import { IndexStore, type FileState, type StoredChunk } from './store.js';
import { fingerprint } from './fingerprint.js';
import { embedderFactory, type EmbedderSpec } from './embed/embedder.js';
import { embedChunks } from './embed/stage.js';
import './embed/builtin.js';
const FLUSH_CHUNKS = 10_000;

/** Past this many rewritten files, the embed stage compares every chunk's hash in one scan. */
const MAX_PATHS_COMPARED = 1000;

export const DEFAULT_EMBEDDER: EmbedderSpec = { name: 'static' };

export interface IndexProgress {
  phase: 'walk' | 'parse' | 'train' | 'embed' | 'finalize';
  done: number;
  total: number;
}

export interface IndexOptions {
  root: string;
  db: string;
  threads?: number;
  /**
   * The embedder: `undefined` keeps the index's own (static for a new index), `null` indexes
   * without vectors (lexical search only).
   */
  embedder?: EmbedderSpec | null;
  /** Re-learn the static model even if the corpus has not drifted. */
  retrain?: boolean;
  /**
   * Leave compaction, index folding and version cleanup to a later `optimizeIndex` (a live
   * index does it when changes pause): LanceDB searches the few rows its indexes do not cover
   * yet directly, and the pass costs seconds on a large index, which a saved file should not wait for.
   */
  deferOptimize?: boolean;
  onProgress?: (p: IndexProgress) => void;
  onWarning?: (message: string) => void;
}

export interface IndexSummary {
  files: number;
  parsed: number;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  skipped: number;
  chunks: number;
  lines: number;
  filesWithErrors: number;
  /** Chunks (re-)embedded by this run, and the model that made the index's vectors ('' for none). */
  embedded: number;
  embedder: string;
  seconds: number;
}

export async function indexRepo(options: IndexOptions): Promise<IndexSummary> {
  const started = performance.now();
  const root = resolve(options.root);
  const db = resolve(options.db);
  const onWarning = options.onWarning;
  // File names may hold newlines or terminal escape sequences: a warning is one printable line.
  const warn = onWarning ? (m: string) => onWarning(printable(m)) : () => {};
  const progress = options.onProgress ?? (() => {});
  return withLockedStore(db, (store) => update(store, root, db, options, warn, progress, started));
}

/** Runs `work` on the index at `db` opened for writing, holding its lock throughout. */
async function withLockedStore<T>(db: string, work: (store: IndexStore & { damaged: boolean }) => Promise<T>): Promise<T> {
  const release = acquireIndexLock(db);
  try {
    const store = await IndexStore.open(db);
    try {
      return await work(store);
    } finally {
      store.close();
    }
  } finally {
    release();
  }
}

async function update(
  store: IndexStore & { damaged: boolean },
  root: string,
  db: string,
  options: IndexOptions,
  warn: (m: string) => void,
  progress: (p: IndexProgress) => void,
  started: number,
): Promise<IndexSummary> {
  progress({ phase: 'walk', done: 0, total: 0 });
  const walked = await walkRepo({ root, excludePaths: isWithin(root, db) ? [db] : [], onWarning: warn });

  const rebuild = store.damaged || (await store.getMeta('fingerprint')) !== fingerprint();
  const previous = rebuild ? new Map<string, FileState>() : await store.fileStates();
  if (rebuild) {
    // Written by another format (or never finished once): start over rather than mix layouts.
    await store.dropAll();
  } else if ((await store.getMeta('writing')) === '1') {
    // An interrupted run may have written chunks of files it never recorded: drop them.
    const orphans = [...(await store.chunkPaths())].filter((p) => !previous.has(p));
    await store.deleteChunksOf(orphans);
  }

  const runStamp = new Date().toISOString();
  const duneFiles = walked.files.filter((f) => f.kind === 'dune');
  const sources = walked.files.filter((f) => f.kind !== 'dune');
  const duneTexts = new Map<string, string>();
  const duneStates: FileState[] = [];
  for (const f of duneFiles) {
    // Read as sources are: never from outside the root, never blocking on a swapped-in FIFO.
    const read = readSource(f);
    if ('skipped' in read) {
      warn(`skipped ${f.path}: ${read.skipped}`);
      continue;
    }
    const bytes = Buffer.from(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength);
    duneTexts.set(f.path, bytes.toString('utf8'));
    const hash = hashContent(bytes);
    if (previous.get(f.path)?.hash !== hash) {
      duneStates.push({ path: f.path, hash, size: f.size, mtimeMs: f.mtimeMs, lines: 0, chunks: 0, relations: [], skipped: '', chunkedAt: runStamp });
    }
  }
  const seen = new Set(walked.files.map((f) => f.path));
  const removed = [...previous.keys()].filter((p) => !seen.has(p));
  // A changed dune file can rename the library of every module beside it, and so can an alias
  // module (`lib__.ml`, how installed libraries without dune files are recognised) that
  // appears or goes.
  const isAliasModule = (p: string) => /__\.mli?$/.test(p);
  const dirsWithNewLibraries = new Set([
    ...duneStates.map((d) => dirOf(d.path)),
    ...removed.filter(isAliasModule).map(dirOf),
    ...sources.filter((f) => !previous.has(f.path) && isAliasModule(f.path)).map((f) => dirOf(f.path)),
  ]);
  // The .ml of a removed .mli (or the reverse) lost the partner whose docs and signatures it carried.
  const unitStem = (p: string) => p.replace(/\.mli?$/, '');
  const stemsLosingAPartner = new Set(removed.map(unitStem));
  const resolver = createModuleResolver(
    sources.map((f) => f.path),
    duneTexts,
  );

  // A compilation unit is parsed as a whole (its .ml and .mli are linked), so a change to
  // either file re-chunks both.
  const units = new Map<string, typeof sources>();
  for (const f of sources) {
    const stem = unitStem(f.path);
    units.set(stem, [...(units.get(stem) ?? []), f]);
  }
  const isFresh = (f: (typeof sources)[number]) => {
    const before = previous.get(f.path);
    // A file skipped as unreadable is tried again: permissions change without touching mtime.
    return (
      !!before &&
      before.size === f.size &&
      before.mtimeMs === f.mtimeMs &&
      !before.skipped.startsWith('unreadable') &&
      !dirsWithNewLibraries.has(dirOf(f.path)) &&
      !stemsLosingAPartner.has(unitStem(f.path))
    );
  };
  const jobs: UnitJob[] = [];
  let unchanged = 0;
  for (const files of units.values()) {
    if (files.every(isFresh)) {
      unchanged += files.length;
      continue;
    }
    // A file alone in its unit may turn out unchanged by content, unless what it is chunked with changed.
    const allowSkip = files.length === 1 && !stemsLosingAPartner.has(unitStem(files[0]!.path));
    jobs.push(
      files.map((f) => ({
        path: f.path,
        absPath: f.absPath,
        size: f.size,
        mtimeMs: f.mtimeMs,
        qualifier: resolver.qualifierOf(f.path),
        knownHash: allowSkip && !dirsWithNewLibraries.has(dirOf(f.path)) ? previous.get(f.path)?.hash : undefined,
      })),
    );
  }

  const summary: IndexSummary = {
    files: sources.length,
    parsed: 0,
    added: 0,
    changed: 0,
    removed: removed.filter((p) => !p.endsWith('dune')).length,
    unchanged,
    skipped: walked.skipped.length,
    chunks: 0,
    lines: 0,
    filesWithErrors: 0,
    embedded: 0,
    embedder: '',
    seconds: 0,
  };
  const hasWork = jobs.length > 0 || removed.length > 0 || duneStates.length > 0;
  // Vectors complete before this run means only the files it rewrites can lack one; a run killed
  // before its vectors were made leaves the flag down, and the next compares everything.
  const vectorsWereComplete = (await store.getMeta('vectors_complete')) === '1';
  if (hasWork) await store.setMeta({ writing: '1', vectors_complete: '0' });
  const rewritten = new Set<string>(removed);

  // Buffered writes: appends for files never indexed, atomic replaces for changed ones.
  let fresh: StoredChunk[] = [];
  let replaced: { paths: string[]; chunks: StoredChunk[] } = { paths: [], chunks: [] };
  let states: FileState[] = [];
  // What the files table holds once this run is done, for the summary.
  const current = new Map(previous);
  const flush = async () => {
    await store.appendChunks(fresh);
    await store.replaceChunks(replaced.paths, replaced.chunks);
    await store.upsertFiles(states);
    for (const st of states) current.set(st.path, st);
    fresh = [];
    replaced = { paths: [], chunks: [] };
    states = [];
  };

  let done = 0;
  const jobTotal = jobs.reduce((n, u) => n + u.length, 0);
  await runJobs(
    jobs,
    async (outcomes: FileOutcome[]) => {
      for (const o of outcomes) {
        done++;
        const before = previous.get(o.path);
        if (o.unchanged) {
          summary.unchanged++;
          states.push({ ...before!, size: o.size, mtimeMs: o.mtimeMs });
          continue;
        }
        summary.parsed++;
        rewritten.add(o.path);
        if (o.skipped) {
          summary.skipped++;
          warn(`skipped ${o.path}: ${o.skipped}`);
        }
        if (o.hasErrors) summary.filesWithErrors++;
        if (before) {
          // The partner of a changed file is re-chunked too, but did not change itself.
          if (before.hash === o.hash) summary.unchanged++;
          else summary.changed++;
          replaced.paths.push(o.path);
          replaced.chunks.push(...o.chunks);
        } else {
          summary.added++;
          fresh.push(...o.chunks);
        }
        states.push({
          path: o.path,
          hash: o.hash,
          size: o.size,
          mtimeMs: o.mtimeMs,
          lines: o.lines,
          chunks: o.chunks.length,
          relations: o.relations,
          skipped: o.skipped ?? '',
          chunkedAt: runStamp,
        });
      }
      progress({ phase: 'parse', done, total: jobTotal });
      if (fresh.length + replaced.chunks.length >= FLUSH_CHUNKS) await flush();
    },
    options.threads,
  );
  await flush();
  await store.upsertFiles(duneStates);
  if (removed.length > 0) {
    await store.deleteChunksOf(removed);
    await store.deleteFiles(removed);
    for (const p of removed) current.delete(p);
  }

  // A new table's indexes are built by LanceDB's threads while embedding keeps this one busy.
  const chunkIndexes = previous.size === 0 ? store.indexChunks() : Promise.resolve();
  chunkIndexes.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
  const drift = previous.size === 0 ? 1 : (summary.added + summary.changed + summary.removed) / Math.max(1, current.size);
  const onlyPaths = vectorsWereComplete && previous.size > 0 && rewritten.size <= MAX_PATHS_COMPARED ? [...rewritten] : undefined;
  await updateEmbeddings(store, options, summary, { chunksChanged: hasWork, drift, onlyPaths }, progress);
  await chunkIndexes;

  const deferred = !!options.deferOptimize && previous.size > 0;
  if (hasWork || summary.embedded > 0 || (await store.getMeta('finalized')) !== '1') {
    progress({ phase: 'finalize', done: 0, total: 1 });
    await store.finalize({ fresh: previous.size === 0, optimize: !deferred });
  }
  for (const st of current.values()) {
    summary.chunks += st.chunks;
    summary.lines += st.lines;
  }
  summary.skipped = walked.skipped.length + [...current.values()].filter((st) => st.skipped).length;
  if (hasWork || rebuild || summary.embedded > 0) {
    await store.setMeta({
      writing: '0',
      finalized: '1',
      fingerprint: fingerprint(),
      indexedAt: new Date().toISOString(),
      root,
      ...(hasWork || summary.embedded > 0 ? { optimized: deferred ? '0' : '1' } : {}),
    });
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/**
 * The optimize pass runs with `deferOptimize` left out: compaction, new rows folded into the
 * indexes, superseded versions removed. False when the index needed none, another process
 * holds the lock (it will do it), or `yieldTo` said to stop between tables (a saved file waits
 * for at most one table's pass; the rest is done next time).
 */
export async function optimizeIndex(db: string, options: { yieldTo?: () => boolean } = {}): Promise<boolean> {
  try {
    return await withLockedStore(resolve(db), async (store) => {
      if ((await store.getMeta('optimized')) !== '0') return false;
      if (!(await store.finalize({ fresh: false, optimize: true, yieldTo: options.yieldTo }))) return false;
      await store.setMeta({ optimized: '1' });
      return true;
    });
  } catch (err) {
    if (err instanceof IndexLockedError) return false;
    throw err;
  }
}

/**
 * Brings the vectors up to date with the chunks. Another embedder than the stored one makes
 * every vector incomparable, so they are all dropped and made again.
 */
async function updateEmbeddings(
  store: IndexStore,
  options: IndexOptions,
  summary: IndexSummary,
  run: {
    chunksChanged: boolean;
    drift: number;
    /** The only files whose chunks can lack a vector under the stored model, when that is known. */
    onlyPaths?: readonly string[];
  },
  progress: (p: IndexProgress) => void,
): Promise<void> {
  const storedSpec = await store.getMeta('embedder_spec');
  const spec = options.embedder === undefined ? (storedSpec ? (JSON.parse(storedSpec) as EmbedderSpec | null) : DEFAULT_EMBEDDER) : options.embedder;
  // Nothing changed since a run that embedded everything: no model to load, no hashes to compare.
  const sameSpec = storedSpec !== undefined && JSON.stringify(spec) === storedSpec;
  if (!run.chunksChanged && sameSpec && !options.retrain && (await store.getMeta('vectors_complete')) === '1') {
    summary.embedder = spec ? ((await store.getMeta('embedder_id')) ?? '') : '';
    return;
  }
  // Tables of models a killed run left behind, or that an earlier run made obsolete.
  const storedId = (await store.getMeta('embedder_id')) ?? '';
  await store.dropStaleEmbeddings(storedId);
  if (!spec) {
    await store.useEmbedder('');
    await store.setMeta({ embedder_spec: 'null', embedder_id: '', vectors_complete: '1' });
    return;
  }
  // Files changed since the model was learnt, as a share of the corpus, summed over runs.
  const drift = Number((await store.getMeta('embed_drift')) ?? '1') + run.drift;
  const embedder = await embedderFactory(spec.name).forIndexing(spec, {
    store,
    storedId,
    retrain: options.retrain ?? false,
    drift,
    onProgress: (phase, done, total) => progress({ phase: phase === 'train' ? 'train' : 'embed', done, total }),
  });
  if (!embedder) return;
  try {
    if (storedId !== embedder.id) {
      // A new model's vectors go to a table of their own, beside the old model's.
      await store.useEmbedder(embedder.id);
      // Recorded before any vector is written: a killed run resumes under the same model.
      await store.setMeta({ embedder_spec: JSON.stringify(spec), embedder_id: embedder.id, embed_drift: '0', vectors_complete: '0' });
    } else {
      await store.setMeta({ embed_drift: String(drift), vectors_complete: '0' });
    }
    const paths = storedId === embedder.id ? run.onlyPaths : undefined;
    const result = await embedChunks(store, embedder, { paths, onProgress: (done, total) => progress({ phase: 'embed', done, total }) });
    await store.setMeta({ vectors_complete: '1' });
    // A new model's vectors are complete: the old model's tables go (readers move to the new).
    if (storedId !== embedder.id) await store.dropStaleEmbeddings(embedder.id);
    summary.embedded = result.embedded;
    summary.embedder = embedder.id;
  } finally {
    await embedder.close?.();
  }
}

/** Control characters as `\xNN`, so a file name cannot break a line or drive a terminal. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '.' : path.slice(0, i);
}
