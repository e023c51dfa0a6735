// walk → parse → chunk → store, incrementally: only files whose size, mtime and then content
// hash changed are parsed again, and each changed file is replaced in one commit.
import { resolve } from 'node:path';
import { isWithin, walkRepo } from './walk.js';
import { createModuleResolver } from './modules.js';
import { runJobs } from './pool.js';
import { acquireIndexLock, IndexLockedError } from './lock.js';
import { isRemoteIndex, normalizeIndexLocation } from './location.js';
import { hashContent, readSource, type FileOutcome, type UnitJob } from './process-file.js';
import { IndexStore, type FileState, type StoredChunk } from './store.js';
import { fingerprint } from './fingerprint.js';
import { embedderFactory, EmbedderUnavailableError, type Embedder, type EmbedderSpec } from './embed/embedder.js';
import { embedChunks, embedWrittenChunks } from './embed/stage.js';
import './embed/builtin.js';
import { phaseClock } from './timings.js';
const FLUSH_CHUNKS = 10_000;

/**
 * An update of at most this share of the index's files defers the optimize pass: on an object
 * store each such update; on a local disk while the files changed since the last pass add up to
 * no more than this share.
 */
const SMALL_UPDATE = 0.01;

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
   * Default: no on a local disk; on an object store, yes for an update of at most 1% of the files.
   */
  deferOptimize?: boolean;
  /**
   * Index only this share of the files (a stable hash of each compilation unit), as one of
   * several processes building one index together; `finalizeIndex` then embeds what is left
   * and builds the search indexes once. A shard builds no search index, and embeds its chunks
   * only with an embedder that learns nothing from the corpus.
   */
  shard?: Shard;
  onProgress?: (p: IndexProgress) => void;
  onWarning?: (message: string) => void;
}

/** Shard `index` of `count` (0-based). */
export interface Shard {
  index: number;
  count: number;
}

/** `I/N` as typed (1-based, `1/3` is the first of three). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const [i, n] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(n >= 1 && n <= 1024 && i >= 1 && i <= n)) throw new RangeError(`a shard is I/N with 1 <= I <= N <= 1024 (e.g. 2/3), not '${text}'`);
  return { index: i - 1, count: n };
}

/**
 * Whether `path` belongs to `shard`: FNV-1a of its compilation unit (the path without `.ml`/
 * `.mli`), so a unit's two files, which are parsed together, land in the same shard on every machine.
 */
export function inShard(path: string, shard: Shard | undefined): boolean {
  if (!shard || shard.count === 1) return true;
  const unit = path.replace(/\.mli?$/, '');
  let h = 0x811c9dc5;
  for (let i = 0; i < unit.length; i++) h = Math.imul(h ^ unit.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shard.count === shard.index;
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

const NO_WORK: IndexSummary = {
  files: 0,
  parsed: 0,
  added: 0,
  changed: 0,
  removed: 0,
  unchanged: 0,
  skipped: 0,
  chunks: 0,
  lines: 0,
  filesWithErrors: 0,
  embedded: 0,
  embedder: '',
  seconds: 0,
};

/** An index another codesearch version wrote, where this run may not rebuild it. */
export class IndexFormatError extends Error {}

export async function indexRepo(options: IndexOptions): Promise<IndexSummary> {
  const started = performance.now();
  const root = resolve(options.root);
  const db = normalizeIndexLocation(options.db);
  const onWarning = options.onWarning;
  // File names may hold newlines or terminal escape sequences: a warning is one printable line.
  const warn = onWarning ? (m: string) => onWarning(printable(m)) : () => {};
  const progress = options.onProgress ?? (() => {});
  return withLockedStore(db, (store) => update(store, root, db, options, warn, progress, started), options.shard);
}

/** Runs `work` on the index at `db` opened for writing, holding its lock throughout. */
async function withLockedStore<T>(db: string, work: (store: IndexStore & { damaged: boolean }) => Promise<T>, shard?: Shard): Promise<T> {
  // An object store has no lock file: LanceDB's conditional-put commits keep its writers apart.
  const release = isRemoteIndex(db) ? () => {} : acquireIndexLock(db, shard);
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
  const clock = phaseClock('index run');
  const shard = options.shard;
  const mine = (path: string) => inShard(path, shard);

  const storedFingerprint = await store.getMeta('fingerprint');
  if (shard && storedFingerprint !== undefined && storedFingerprint !== fingerprint()) {
    // Dropping the tables under the other shards' feet would lose their work.
    throw new IndexFormatError(`the index at ${db} was built by another codesearch version; rebuild it once without --shard`);
  }
  const rebuild = !shard && (store.damaged || storedFingerprint !== fingerprint());
  progress({ phase: 'walk', done: 0, total: 0 });
  // The walk waits on the file system, the file states on LanceDB: side by side, a one-file
  // update of a live index is visible sooner (each took 0.1–0.3 s of it under load).
  const [walked, previous] = await Promise.all([
    walkRepo({ root, excludePaths: !isRemoteIndex(db) && isWithin(root, db) ? [db] : [], onWarning: warn }),
    rebuild ? new Map<string, FileState>() : store.fileStates(mine),
  ]);
  clock.mark('walk and file states');
  if (shard) {
    // The first shard creates the tables, the others wait for them; each drops only rows of its
    // own files that a killed run of it wrote without recording them.
    await store.ensureTables(shard.index === 0);
    const orphans = [...(await store.chunkPaths())].filter((p) => mine(p) && !previous.has(p));
    await store.deleteChunksOf(orphans);
  } else if (rebuild) {
    // Written by another format (or never finished once): start over rather than mix layouts.
    await store.dropAll();
  } else if ((await store.getMeta('writing')) === '1') {
    // An interrupted run may have written chunks of files it never recorded: drop them.
    const orphans = [...(await store.chunkPaths())].filter((p) => !previous.has(p));
    await store.deleteChunksOf(orphans);
  }

  const runStamp = new Date().toISOString();
  // Every shard reads every dune file (module names depend on them), and records its own.
  const duneFiles = walked.files.filter((f) => f.kind === 'dune');
  const allSources = walked.files.filter((f) => f.kind !== 'dune');
  const sources = allSources.filter((f) => mine(f.path));
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
    if (mine(f.path) && previous.get(f.path)?.hash !== hash) {
      duneStates.push({ path: f.path, hash, size: f.size, mtimeMs: f.mtimeMs, lines: 0, chunks: 0, relations: [], skipped: '', chunkedAt: runStamp });
    }
  }
  const seen = new Set(walked.files.filter((f) => mine(f.path)).map((f) => f.path));
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
    allSources.map((f) => f.path),
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
  // A file new to this run is appended (the fast path of a cold build) unless another writer may
  // be adding it too: on a shared object store two hosts' updates may each find it new, and two
  // appends would leave its chunks twice; a replace by path leaves the last writer's, whole.
  // Shards append: no two shards own a file (a replace costs them 60% more time on radosgw).
  const appendNew = !isRemoteIndex(db) || !!shard || (await store.countChunks()) === 0;
  // An embedder that learns nothing from the corpus embeds each batch as soon as it is written.
  const outage: EmbeddingOutage = { down: false };
  const early = await openEarlyEmbedder(store, options, outage);
  if (shard && early) await store.ensureVectorTable(shard.index === 0, early.dims);
  const overlapped = { embedded: 0, queued: 0, last: Promise.resolve() };
  const appendVectors = !store.hasVectors();
  const embedWritten = async (chunks: StoredChunk[]) => {
    // One batch at a time (the first creates the table), at most two waiting behind it.
    if (overlapped.queued >= 2) await overlapped.last;
    overlapped.queued++;
    overlapped.last = overlapped.last.then(async () => {
      try {
        if (!outage.down) overlapped.embedded += await embedWrittenChunks(store, early!, chunks, appendVectors);
      } catch (err) {
        // The embedder was adopted (its id is stored) before this batch: its outage is tolerated.
        if (!toleratedOutage(err, true, options.onWarning)) throw err;
        outage.down = true;
      }
      overlapped.queued--;
    });
    overlapped.last.catch(() => {}); // awaited after the parse; this only keeps it from counting as unhandled meanwhile
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

  clock.mark('plan');
  const summary: IndexSummary = {
    ...NO_WORK,
    files: sources.length,
    removed: removed.filter((p) => !p.endsWith('dune')).length,
    unchanged,
    skipped: walked.skipped.filter((f) => mine(f.path)).length,
  };
  const hasWork = jobs.length > 0 || removed.length > 0 || duneStates.length > 0;
  // Vectors complete before this run means only the files it rewrites can lack one; a run killed
  // before its vectors were made leaves the flag down, and the next compares everything.
  const vectorsWereComplete = (await store.getMeta('vectors_complete')) === '1';
  // A shard's orphans are found from its own files every run (above): another shard ending
  // must not lower a flag this one still needs.
  if (hasWork) await store.setMeta(shard ? { vectors_complete: '0', finalized: '0' } : { writing: '1', vectors_complete: '0' });
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
    if (early && fresh.length + replaced.chunks.length > 0) await embedWritten([...fresh, ...replaced.chunks]);
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
          if (appendNew) fresh.push(...o.chunks);
          else {
            replaced.paths.push(o.path);
            replaced.chunks.push(...o.chunks);
          }
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

  clock.mark('parse and write');
  try {
    await overlapped.last;
  } catch (err) {
    await early?.close?.();
    throw err;
  }
  summary.embedded = overlapped.embedded;
  if (shard) {
    await early?.close?.();
    if (early) summary.embedder = early.id;
    return shardSummary(store, summary, current, { root, changed: hasWork, started });
  }

  // A new table's indexes are built by LanceDB's threads while embedding keeps this one busy.
  const chunkIndexes = previous.size === 0 ? store.indexChunks({ compactFirst: true }) : Promise.resolve();
  chunkIndexes.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
  const filesChanged = summary.added + summary.changed + summary.removed;
  const drift = previous.size === 0 ? 1 : filesChanged / Math.max(1, current.size);
  const onlyPaths = vectorsWereComplete && previous.size > 0 && rewritten.size <= MAX_PATHS_COMPARED ? [...rewritten] : undefined;
  await updateEmbeddings(store, options, summary, { chunksChanged: hasWork, drift, onlyPaths, outage }, progress, early);
  await chunkIndexes;
  clock.mark('embed');

  // The pass compacts and rewrites the full-text and vector indexes, whose size is the index's:
  // on an object store over the network (38 s for one changed file on a million lines through
  // radosgw, against 2.8 s for the update itself), on a local disk 17 s of a 20 s update of one
  // file on 11M lines. A small update leaves it to a later run (LanceDB searches the rows its
  // indexes do not cover yet directly); a local index takes it once the files rewritten since the
  // last pass exceed 1%, so that its old versions and unindexed rows do not pile up.
  const backlog = Number((await store.getMeta('optimize_backlog')) ?? '0') + rewritten.size;
  const smallUpdate = isRemoteIndex(db)
    ? filesChanged <= Math.max(1, previous.size * SMALL_UPDATE)
    : backlog <= previous.size * SMALL_UPDATE;
  const deferred = (options.deferOptimize ?? smallUpdate) && previous.size > 0;
  if (hasWork || summary.embedded > 0 || (await store.getMeta('finalized')) !== '1') {
    progress({ phase: 'finalize', done: 0, total: 1 });
    await store.finalize({ fresh: previous.size === 0, optimize: !deferred });
  }
  clock.mark('finalize');
  addFileTotals(summary, current);
  summary.skipped = walked.skipped.length + [...current.values()].filter((st) => st.skipped).length;
  if (hasWork || rebuild || summary.embedded > 0) {
    await store.setMeta({
      writing: '0',
      finalized: '1',
      fingerprint: fingerprint(),
      indexedAt: new Date().toISOString(),
      root,
      ...(hasWork || summary.embedded > 0 ? { optimized: deferred ? '0' : '1', optimize_backlog: deferred ? String(backlog) : '0' } : {}),
    });
  }
  clock.mark('commit');
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

function addFileTotals(summary: IndexSummary, files: Map<string, FileState>): void {
  for (const st of files.values()) {
    summary.chunks += st.chunks;
    summary.lines += st.lines;
  }
}

/** The end of a shard's run: its own files' totals; the index is searchable once finalized. */
async function shardSummary(store: IndexStore, summary: IndexSummary, current: Map<string, FileState>, run: { root: string; changed: boolean; started: number }): Promise<IndexSummary> {
  addFileTotals(summary, current);
  summary.skipped += [...current.values()].filter((st) => st.skipped).length;
  if (run.changed) await store.setMeta({ fingerprint: fingerprint(), indexedAt: new Date().toISOString(), root: run.root });
  summary.seconds = (performance.now() - run.started) / 1000;
  return summary;
}

/**
 * After the shards of a sharded build (`indexRepo` with `shard`): makes the vectors of every
 * chunk that lacks one (learning the static model first when the index has none), builds and
 * folds the full-text, scalar and vector indexes, and compacts — once, for all shards.
 */
export async function finalizeIndex(options: Omit<IndexOptions, 'root' | 'shard' | 'deferOptimize'>): Promise<IndexSummary> {
  const started = performance.now();
  const db = normalizeIndexLocation(options.db);
  const progress = options.onProgress ?? (() => {});
  return withLockedStore(db, async (store) => {
    if ((await store.getMeta('fingerprint')) !== fingerprint()) {
      throw new IndexFormatError(`no index of this codesearch version at ${db} to finalize; run 'codesearch index ROOT --shard I/N' first`);
    }
    const files = await store.fileStates();
    const summary: IndexSummary = { ...NO_WORK, files: [...files.keys()].filter((p) => !p.endsWith('dune')).length };
    await updateEmbeddings(store, options, summary, { chunksChanged: true, drift: 0, outage: { down: false } }, progress);
    progress({ phase: 'finalize', done: 0, total: 1 });
    // The first finalize of a sharded build compacts first and builds each index once, over
    // the compacted rows; later ones fold the shards' new rows into the indexes.
    const fresh = !(await store.hasSearchIndexes());
    if (fresh) await store.compact();
    await store.finalize({ fresh, optimize: !fresh });
    addFileTotals(summary, files);
    summary.skipped = [...files.values()].filter((st) => st.skipped).length;
    await store.setMeta({ writing: '0', finalized: '1', optimized: '1', optimize_backlog: '0', indexedAt: new Date().toISOString() });
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  });
}

/**
 * The optimize pass runs with `deferOptimize` left out: compaction, new rows folded into the
 * indexes, superseded versions removed. False when the index needed none, another process
 * holds the lock (it will do it), or `yieldTo` said to stop between tables (a saved file waits
 * for at most one table's pass; the rest is done next time). One pass per table: the second,
 * which removes the index files the first replaced (about 30 MB on a million lines, kept until
 * the next pass), took longest (2.8 s of 4.4 s under load), and a save waited for it.
 */
export async function optimizeIndex(db: string, options: { yieldTo?: () => boolean } = {}): Promise<boolean> {
  try {
    return await withLockedStore(normalizeIndexLocation(db), async (store) => {
      if ((await store.getMeta('optimized')) !== '0') return false;
      if (!(await store.finalize({ fresh: false, optimize: true, yieldTo: options.yieldTo, oncePerTable: true }))) return false;
      await store.setMeta({ optimized: '1', optimize_backlog: '0' });
      return true;
    });
  } catch (err) {
    if (err instanceof IndexLockedError) return false;
    throw err;
  }
}

/** The embedder a run asks for: the options' own, else the index's, else the default (null: none). */
function requestedSpec(options: Pick<IndexOptions, 'embedder'>, storedSpec: string | undefined): EmbedderSpec | null {
  if (options.embedder !== undefined) return options.embedder;
  return storedSpec ? (JSON.parse(storedSpec) as EmbedderSpec | null) : DEFAULT_EMBEDDER;
}

/**
 * The run's embedder, opened before the parse when it learns nothing from the corpus and is
 * the model the index already holds vectors of (or the index holds none yet), so that each
 * batch of chunks is embedded as it is written. Undefined otherwise: the static model learns
 * from every chunk first, and a change of model re-embeds everything in the embed stage.
 */
async function openEarlyEmbedder(store: IndexStore, options: Pick<IndexOptions, 'embedder' | 'onWarning'>, outage: EmbeddingOutage): Promise<Embedder | undefined> {
  const storedSpec = await store.getMeta('embedder_spec');
  const spec = requestedSpec(options, storedSpec);
  if (!spec || embedderFactory(spec.name).learnsFromCorpus) return undefined;
  if (storedSpec !== undefined && storedSpec !== 'null' && storedSpec !== JSON.stringify(spec)) return undefined;
  const storedId = (await store.getMeta('embedder_id')) ?? '';
  let embedder: Embedder | undefined;
  try {
    embedder = await embedderFactory(spec.name).forIndexing(spec, { store, storedId, retrain: false, drift: 0, onWarning: options.onWarning });
  } catch (err) {
    if (!toleratedOutage(err, storedId !== '', options.onWarning)) throw err;
    outage.down = true;
    return undefined;
  }
  if (!embedder) return undefined;
  if (storedId && storedId !== embedder.id) {
    // The server now serves another model: the embed stage re-embeds everything.
    await embedder.close?.();
    return undefined;
  }
  await store.useEmbedder(embedder.id);
  if (!storedId) {
    await store.setMeta({ embedder_spec: JSON.stringify(spec), embedder_id: embedder.id, embed_drift: '0', vectors_complete: '0' });
  }
  return embedder;
}

/** Whether this run found the index's embedder out of reach (its server down). */
interface EmbeddingOutage {
  down: boolean;
}

/**
 * The index's own embedder out of reach (its embeddings server down) does not stop a run: the
 * definitions are indexed and searchable, vectors stay marked incomplete, and the next run embeds
 * what lacks one. An embedder not yet adopted by the index must answer; other failures stop it.
 */
function toleratedOutage(err: unknown, adopted: boolean, onWarning: ((message: string) => void) | undefined): boolean {
  if (!(err instanceof EmbedderUnavailableError) || !adopted) return false;
  onWarning?.(`${err.message}: indexed without new vectors; the next run embeds what lacks one`);
  return true;
}

/**
 * Brings the vectors up to date with the chunks. Another embedder than the stored one makes
 * every vector incomparable, so they are all dropped and made again.
 */
async function updateEmbeddings(
  store: IndexStore,
  options: Pick<IndexOptions, 'embedder' | 'retrain' | 'onWarning'>,
  summary: IndexSummary,
  run: {
    chunksChanged: boolean;
    drift: number;
    /** The only files whose chunks can lack a vector under the stored model, when that is known. */
    onlyPaths?: readonly string[];
    /** Set when the index's own embedder was out of reach this run; this stage may find it so too. */
    outage: EmbeddingOutage;
  },
  progress: (p: IndexProgress) => void,
  /** The embedder `openEarlyEmbedder` opened for this run, which has embedded what it wrote. */
  opened?: Embedder,
): Promise<void> {
  const storedSpec = await store.getMeta('embedder_spec');
  const spec = requestedSpec(options, storedSpec);
  // Nothing changed since a run that embedded everything: no model to load, no hashes to compare.
  const sameSpec = storedSpec !== undefined && JSON.stringify(spec) === storedSpec;
  const storedId = (await store.getMeta('embedder_id')) ?? '';
  const outdated = spec ? embedderFactory(spec.name).outdated?.(storedId) : false;
  if (!run.chunksChanged && sameSpec && !options.retrain && !outdated && (await store.getMeta('vectors_complete')) === '1') {
    summary.embedder = spec ? storedId : '';
    return;
  }
  if (run.outage.down) {
    // Asked already this run, and out of reach: the next run embeds what lacks a vector.
    await opened?.close?.();
    summary.embedder = storedId;
    return;
  }
  // Tables of models a killed run left behind, or that an earlier run made obsolete.
  await store.dropStaleEmbeddings(storedId);
  if (!spec) {
    await store.useEmbedder('');
    await store.setMeta({ embedder_spec: 'null', embedder_id: '', vectors_complete: '1' });
    return;
  }
  // Files changed since the model was learnt, as a share of the corpus, summed over runs.
  const drift = Number((await store.getMeta('embed_drift')) ?? '1') + run.drift;
  // Only the index's own embedder may be out of reach and the run still end well: a new one must answer.
  const tolerated = (err: unknown) => toleratedOutage(err, storedId !== '' && sameSpec, options.onWarning);
  let embedder: Embedder | undefined;
  try {
    embedder = opened ?? await embedderFactory(spec.name).forIndexing(spec, {
      store,
      storedId,
      retrain: options.retrain ?? false,
      drift,
      onProgress: (phase, done, total) => progress({ phase: phase === 'train' ? 'train' : 'embed', done, total }),
      onWarning: options.onWarning,
    });
  } catch (err) {
    if (!tolerated(err)) throw err;
    summary.embedder = storedId;
    return;
  }
  if (!embedder) return;
  try {
    if (storedId !== embedder.id) {
      // A new model's vectors go to a table of their own, beside the old model's.
      await store.useEmbedder(embedder.id);
      // Recorded before any vector is written: a killed run resumes under the same model.
      await store.setMeta({ embedder_spec: JSON.stringify(spec), embedder_id: embedder.id, embed_drift: '0', vectors_complete: '0' });
    } else {
      // The same vectors, but the spec may have changed what queries need (their prefix, a device).
      await store.setMeta({ embedder_spec: JSON.stringify(spec), embed_drift: String(drift), vectors_complete: '0' });
    }
    const paths = storedId === embedder.id ? run.onlyPaths : undefined;
    let result: Awaited<ReturnType<typeof embedChunks>>;
    try {
      result = await embedChunks(store, embedder, { paths, onProgress: (done, total) => progress({ phase: 'embed', done, total }) });
    } catch (err) {
      if (storedId !== embedder.id || !tolerated(err)) throw err;
      summary.embedder = storedId;
      return;
    }
    result.embedded += summary.embedded;
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
