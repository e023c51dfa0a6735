// walk → parse → chunk → store, incrementally: only files whose size, mtime and then content
// hash changed are parsed again, and each changed file is replaced in one commit.
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { walkRepo } from './walk.js';
import { createModuleResolver } from './modules.js';
import { runJobs } from './pool.js';
import { acquireIndexLock } from './lock.js';
import { hashContent, type FileJob, type FileOutcome } from './process-file.js';
import { IndexStore, type FileState, type StoredChunk } from './store.js';
import { grammarHash } from './grammar.js';

/** Bump when the chunk layout or token format changes: older indexes are rebuilt. */
const INDEX_FORMAT = 1;
const FLUSH_CHUNKS = 25_000;

export interface IndexProgress {
  phase: 'walk' | 'parse' | 'write' | 'finalize';
  done: number;
  total: number;
}

export interface IndexOptions {
  root: string;
  db: string;
  threads?: number;
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
  seconds: number;
}

export function fingerprint(): string {
  return JSON.stringify({ format: INDEX_FORMAT, grammar: grammarHash() });
}

export async function indexRepo(options: IndexOptions): Promise<IndexSummary> {
  const started = performance.now();
  const root = resolve(options.root);
  const db = resolve(options.db);
  const warn = options.onWarning ?? (() => {});
  const progress = options.onProgress ?? (() => {});
  const release = acquireIndexLock(db);
  try {
    const store = await IndexStore.open(db);
    try {
      return await update(store, root, db, options, warn, progress, started);
    } finally {
      store.close();
    }
  } finally {
    release();
  }
}

async function update(
  store: IndexStore,
  root: string,
  db: string,
  options: IndexOptions,
  warn: (m: string) => void,
  progress: (p: IndexProgress) => void,
  started: number,
): Promise<IndexSummary> {
  progress({ phase: 'walk', done: 0, total: 0 });
  const dbInsideRoot = !relative(root, db).startsWith('..') && !isAbsolute(relative(root, db));
  const walked = await walkRepo({ root, excludePaths: dbInsideRoot ? [db] : [], onWarning: warn });

  const rebuild = (await store.getMeta('fingerprint')) !== fingerprint();
  const previous = rebuild ? new Map<string, FileState>() : await store.fileStates();
  if (rebuild && (await store.countChunks()) > 0) {
    // Written by another format: start over rather than mix layouts.
    await store.deleteChunksOf([...(await store.chunkPaths())]);
    await store.deleteFiles([...(await store.fileStates()).keys()]);
  } else if ((await store.getMeta('writing')) === '1') {
    // An interrupted run may have written chunks of files it never recorded: drop them.
    const orphans = [...(await store.chunkPaths())].filter((p) => !previous.has(p));
    await store.deleteChunksOf(orphans);
  }

  const duneFiles = walked.files.filter((f) => f.kind === 'dune');
  const sources = walked.files.filter((f) => f.kind !== 'dune');
  const duneTexts = new Map<string, string>();
  const duneStates: FileState[] = [];
  for (const f of duneFiles) {
    const bytes = await readFile(f.absPath).catch(() => undefined);
    if (!bytes) continue;
    duneTexts.set(f.path, bytes.toString('utf8'));
    const hash = hashContent(bytes);
    if (previous.get(f.path)?.hash !== hash) {
      duneStates.push({ path: f.path, hash, size: f.size, mtimeMs: f.mtimeMs, lines: 0, chunks: 0, relations: [], skipped: '' });
    }
  }
  // A changed dune file can rename the library of every module beside it.
  const dirsWithNewLibraries = new Set(duneStates.map((d) => dirOf(d.path)));
  const resolver = createModuleResolver(
    sources.map((f) => f.path),
    duneTexts,
  );

  const jobs: FileJob[] = [];
  let unchanged = 0;
  for (const f of sources) {
    const before = previous.get(f.path);
    const qualifierMayChange = dirsWithNewLibraries.has(dirOf(f.path)) && !!before;
    if (before && before.size === f.size && before.mtimeMs === f.mtimeMs && !qualifierMayChange) {
      unchanged++;
      continue;
    }
    jobs.push({
      path: f.path,
      absPath: f.absPath,
      size: f.size,
      mtimeMs: f.mtimeMs,
      qualifier: resolver.qualifierOf(f.path),
      knownHash: qualifierMayChange ? undefined : before?.hash,
    });
  }
  const seen = new Set(walked.files.map((f) => f.path));
  const removed = [...previous.keys()].filter((p) => !seen.has(p));

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
    seconds: 0,
  };
  const hasWork = jobs.length > 0 || removed.length > 0 || duneStates.length > 0;
  if (hasWork) await store.setMeta({ writing: '1' });

  // Buffered writes: appends for files never indexed, atomic replaces for changed ones.
  let fresh: StoredChunk[] = [];
  let replaced: { paths: string[]; chunks: StoredChunk[] } = { paths: [], chunks: [] };
  let states: FileState[] = [];
  const flush = async () => {
    await store.appendChunks(fresh);
    await store.replaceChunks(replaced.paths, replaced.chunks);
    await store.upsertFiles(states);
    fresh = [];
    replaced = { paths: [], chunks: [] };
    states = [];
  };

  let done = 0;
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
        if (o.skipped) {
          summary.skipped++;
          warn(`skipped ${o.path}: ${o.skipped}`);
        }
        if (o.hasErrors) summary.filesWithErrors++;
        if (before) {
          summary.changed++;
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
        });
      }
      progress({ phase: 'parse', done, total: jobs.length });
      if (fresh.length + replaced.chunks.length >= FLUSH_CHUNKS) await flush();
    },
    options.threads,
  );
  await flush();
  await store.upsertFiles(duneStates);
  if (removed.length > 0) {
    await store.deleteChunksOf(removed);
    await store.deleteFiles(removed);
  }

  if (hasWork || (await store.getMeta('finalized')) !== '1') {
    progress({ phase: 'finalize', done: 0, total: 1 });
    await store.finalize();
  }
  const finalStates = await store.fileStates();
  for (const s of finalStates.values()) {
    summary.chunks += s.chunks;
    summary.lines += s.lines;
  }
  summary.skipped = walked.skipped.length + [...finalStates.values()].filter((s) => s.skipped).length;
  if (hasWork || rebuild) {
    await store.setMeta({ writing: '0', finalized: '1', fingerprint: fingerprint(), indexedAt: new Date().toISOString(), root });
  }
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '.' : path.slice(0, i);
}
