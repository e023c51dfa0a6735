// indexRepo end to end with the real parser and a real LanceDB in a temp dir.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { indexRepo, type IndexSummary } from '../indexer/pipeline.js';
import { IndexLockedError } from '../indexer/lock.js';
import { IndexStore } from '../indexer/store.js';
import { createOcamlParser, langOf } from '../indexer/parse.js';
import { chunkTree } from '../indexer/chunk.js';
import { Searcher } from '../server/search.js';
import { addGeneratedFiles, BINARY_BYTES, cleanupTempDirs, copyFixture, makeTempDir, waitForExit, writeFiles } from './helpers.js';

afterAll(cleanupTempDirs);

/** The source files of the mini fixture (+ generated ones) that must be indexed. */
const INDEXED = ['src/big_table.ml', 'src/broken.ml', 'src/shapes.ml', 'src/strkit_string.ml', 'src/strkit_string.mli'];
const UNREADABLE = ['src/junk.ml', 'src/latin1.ml'];

/** Chunks the chunker itself makes for `files` (the oracle for stored counts). */
function expectedChunkCount(root: string, files: readonly string[]): number {
  const parser = createOcamlParser();
  let n = 0;
  for (const rel of files) {
    const source = fs.readFileSync(path.join(root, rel), 'utf8');
    const lang = langOf(rel)!;
    n += chunkTree(parser.parse(source, lang), source, { path: rel, lang, qualifier: ['X'] }).chunks.length;
  }
  return n;
}

async function storeContents(db: string) {
  const store = await IndexStore.open(db);
  try {
    return { chunkPaths: [...(await store.chunkPaths())].sort(), files: await store.fileStates(), count: await store.countChunks() };
  } finally {
    store.close();
  }
}

async function searchNames(db: string, query: string, k = 10) {
  const searcher = await Searcher.open(db);
  try {
    return await searcher.search(query, { k });
  } finally {
    searcher.close();
  }
}

async function index(root: string, db: string): Promise<{ summary: IndexSummary; warnings: string[] }> {
  const warnings: string[] = [];
  const summary = await indexRepo({ root, db, onWarning: (w) => warnings.push(w) });
  return { summary, warnings };
}

describe('indexRepo on the mini fixture', () => {
  let root: string;
  let db: string;

  beforeAll(() => {
    root = copyFixture('mini');
    addGeneratedFiles(root);
    db = path.join(makeTempDir('cs-db-'), 'index');
  });

  it('indexes every readable source, skips binary and non-UTF-8 files with one warning each', async () => {
    const { summary, warnings } = await index(root, db);
    const expectedChunks = expectedChunkCount(root, INDEXED);
    expect(expectedChunks).toBeGreaterThan(2000);
    expect(summary).toMatchObject({
      files: INDEXED.length + UNREADABLE.length,
      parsed: INDEXED.length + UNREADABLE.length,
      added: INDEXED.length + UNREADABLE.length,
      changed: 0,
      removed: 0,
      unchanged: 0,
      skipped: 2,
      chunks: expectedChunks,
      filesWithErrors: 1,
    });
    expect(warnings).toHaveLength(2);
    expect(warnings.filter((w) => w.startsWith('skipped src/junk.ml: '))).toHaveLength(1);
    expect(warnings.filter((w) => w.startsWith('skipped src/latin1.ml: '))).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/junk\.ml: binary/);
    expect(warnings.join('\n')).toMatch(/latin1\.ml: not valid UTF-8/);

    const { chunkPaths, files, count } = await storeContents(db);
    expect(count).toBe(expectedChunks);
    expect(chunkPaths).toEqual(INDEXED);
    expect(files.get('src/junk.ml')?.skipped).toBe('binary file');
    expect(files.get('src/latin1.ml')?.skipped).toBe('not valid UTF-8');
    expect(files.get('src/big_table.ml')?.chunks).toBe(2000);
    // Ignored files (.hgignore glob, .gitignore dir) and the symlink loop never get in.
    const known = [...files.keys()];
    expect(known).not.toContain('src/ignored_gen.ml');
    expect(known).not.toContain('scratch/tmp.ml');
    expect(known.filter((p) => p.includes('loop'))).toEqual([]);
    expect(await searchNames(db, 'generated_marker_value')).toEqual([]);
    expect(await searchNames(db, 'scratch_only_value')).toEqual([]);
  });

  it('qualifies symbols by the dune library and file module', async () => {
    const hits = await searchNames(db, 'split_on_char');
    expect(hits.slice(0, 2).map((h) => h.symbol)).toEqual(['Strkit.Strkit_string.split_on_char', 'Strkit.Strkit_string.split_on_char']);
    expect((await searchNames(db, 'distance'))[0]?.symbol).toBe('Strkit.Shapes.Geometry.Point.distance');
  });

  it('parses nothing on a second run with no change', async () => {
    const { summary, warnings } = await index(root, db);
    expect(summary).toMatchObject({ files: 7, parsed: 0, added: 0, changed: 0, removed: 0, unchanged: 7, skipped: 2 });
    expect(summary.chunks).toBe(expectedChunkCount(root, INDEXED));
    expect(warnings).toEqual([]);
  });

  it('picks up exactly one edit, one deletion and one rename', async () => {
    // Edit: `is_blank` becomes `is_whitespace_only`.
    const edited = path.join(root, 'src/strkit_string.ml');
    fs.writeFileSync(edited, fs.readFileSync(edited, 'utf8').replace('let is_blank s', 'let is_whitespace_only s'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(edited, later, later);
    fs.rmSync(path.join(root, 'src/broken.ml'));
    fs.renameSync(path.join(root, 'src/shapes.ml'), path.join(root, 'src/figures.ml'));

    const { summary, warnings } = await index(root, db);
    const now = ['src/big_table.ml', 'src/figures.ml', 'src/strkit_string.ml', 'src/strkit_string.mli'];
    expect(summary).toMatchObject({ files: 7 - 1, added: 1, changed: 1, removed: 2, skipped: 2 });
    expect(summary.chunks).toBe(expectedChunkCount(root, now));
    expect(warnings).toEqual([]);

    const { chunkPaths, files } = await storeContents(db);
    expect(chunkPaths).toEqual(now);
    expect(files.has('src/shapes.ml')).toBe(false);
    expect(files.has('src/broken.ml')).toBe(false);
    expect(files.get('src/figures.ml')?.chunks).toBe(19);

    // The edit: new name found, old definition gone from the .ml (the .mli still declares it).
    const renamedValue = await searchNames(db, 'is_whitespace_only');
    expect(renamedValue[0]).toMatchObject({ name: 'is_whitespace_only', path: 'src/strkit_string.ml', startLine: 28 });
    const oldValue = await searchNames(db, 'is_blank');
    expect(oldValue.filter((h) => h.name === 'is_blank').map((h) => h.path)).toEqual(['src/strkit_string.mli']);
    // The deletion.
    expect((await searchNames(db, 'good_before')).filter((h) => h.name === 'good_before')).toEqual([]);
    // The rename: chunks under the new path and module only.
    const distance = await searchNames(db, 'distance');
    expect(distance.filter((h) => h.name === 'distance').map((h) => [h.path, h.symbol])).toEqual([
      ['src/figures.ml', 'Strkit.Figures.Geometry.Point.distance'],
    ]);
    const all = await searchNames(db, 'Geometry', 50);
    expect(all.filter((h) => h.path === 'src/shapes.ml')).toEqual([]);
  });

  it('keeps a new hgignored file out and qualifies a new library', async () => {
    writeFiles(root, { 'src/late_gen.ml': 'let late_generated = 1\n', 'lib2/dune': '(library (name extra))', 'lib2/helper.ml': 'let help_me = 1\n' });
    const { summary } = await index(root, db);
    expect(summary).toMatchObject({ added: 1, changed: 0, removed: 0 });
    expect((await searchNames(db, 'help_me'))[0]).toMatchObject({ symbol: 'Extra.Helper.help_me', path: 'lib2/helper.ml' });
    expect(await searchNames(db, 'late_generated')).toEqual([]);
  });
});

// Regression: `lines` once counted the empty string after the final newline.
describe('indexRepo: an update gives what a clean index gives', () => {
  async function chunkHashes(db: string): Promise<Map<string, string>> {
    const store = await IndexStore.open(db);
    try {
      return await store.chunkContentHashes();
    } finally {
      store.close();
    }
  }

  it('when an .mli goes or comes, and when an alias module (lib__.ml) goes or comes', async () => {
    const root = makeTempDir('cs-partners-');
    writeFiles(root, {
      'a/a.ml': 'let f x = x + 1\nlet g = 2\n',
      'a/a.mli': '(** Adds one. *)\nval f : int -> int\nval g : int\n',
      'b/b.ml': 'let h s = s ^ "!"\n',
      'lib/stdx__.ml': 'module Table = Stdx__Table\n',
      'lib/table.ml': 'let create () = Hashtbl.create 16\n',
      'other/other.ml': 'let keep = ()\n',
    });
    const db = path.join(makeTempDir('cs-partners-db-'), 'db');
    await indexRepo({ root, db, embedder: null });
    const steps: [string, () => void][] = [
      ['an .mli removed', () => fs.rmSync(path.join(root, 'a/a.mli'))],
      ['an .mli added', () => writeFiles(root, { 'b/b.mli': '(** Shouts. *)\nval h : string -> string\n' })],
      ['an alias module removed', () => fs.rmSync(path.join(root, 'lib/stdx__.ml'))],
      ['an alias module added', () => writeFiles(root, { 'other/otherlib__.ml': 'module Other = Otherlib__Other\n' })],
    ];
    for (const [what, change] of steps) {
      change();
      await indexRepo({ root, db, embedder: null });
      const clean = path.join(makeTempDir('cs-partners-clean-'), 'db');
      await indexRepo({ root, db: clean, embedder: null });
      expect(Object.fromEntries(await chunkHashes(db)), what).toEqual(Object.fromEntries(await chunkHashes(clean)));
    }
  });
});

describe('indexRepo warnings', () => {
  it('are one printable line even when a file name holds a newline or an escape sequence', async () => {
    const root = makeTempDir('cs-names-');
    writeFiles(root, { 'src/bad\n\u001b[31mname.ml': BINARY_BYTES, 'src/good.ml': 'let ok = 1\n' });
    const warnings: string[] = [];
    await indexRepo({ root, db: path.join(makeTempDir('cs-names-db-'), 'db'), embedder: null, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual(['skipped src/bad\\x0a\\x1b[31mname.ml: binary file']);
  });
});

describe('indexRepo line counts', () => {
  it('counts the lines of a file that ends with a newline as wc -l does', async () => {
    const root = makeTempDir('cs-lines-');
    writeFiles(root, { 'a.ml': 'let a = 1\nlet b = 2\n', 'b.ml': 'let c = 3' });
    const summary = await indexRepo({ root, db: path.join(root, '.codesearch') });
    expect(summary.lines).toBe(3);
  });
});

describe('indexRepo write lock', () => {
  let root: string;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    root = makeTempDir('cs-lock-');
    writeFiles(root, { 'a.ml': 'let locked_value = 1\n' });
  });
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('fails with IndexLockedError while a live process holds the lock, and leaves its lock alone', async () => {
    const db = path.join(makeTempDir('cs-db-'), 'index');
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(holder);
    expect(holder.pid).toBeTypeOf('number');
    fs.mkdirSync(db, { recursive: true });
    const lock = path.join(db, 'index.lock');
    fs.writeFileSync(lock, String(holder.pid));

    const run = indexRepo({ root, db });
    await expect(run).rejects.toBeInstanceOf(IndexLockedError);
    await expect(run).rejects.toThrow(new RegExp(`pid ${holder.pid}`));
    expect(fs.readFileSync(lock, 'utf8')).toBe(String(holder.pid));
    expect(fs.readdirSync(db)).toEqual(['index.lock']);

    holder.kill('SIGKILL');
    await waitForExit(holder.pid!);
    const summary = await indexRepo({ root, db });
    expect(summary).toMatchObject({ files: 1, added: 1, chunks: 1 });
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('takes over a stale lock left by a dead process', async () => {
    const db = path.join(makeTempDir('cs-db-'), 'index');
    const dead = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => dead.on('exit', r));
    await waitForExit(dead.pid!);
    fs.mkdirSync(db, { recursive: true });
    fs.writeFileSync(path.join(db, 'index.lock'), String(dead.pid));

    const summary = await indexRepo({ root, db });
    expect(summary).toMatchObject({ files: 1, added: 1, chunks: 1 });
    expect(fs.existsSync(path.join(db, 'index.lock'))).toBe(false);
  });

  it('takes over an empty or garbled lock file', async () => {
    const db = path.join(makeTempDir('cs-db-'), 'index');
    fs.mkdirSync(db, { recursive: true });
    fs.writeFileSync(path.join(db, 'index.lock'), 'not a pid');
    await expect(indexRepo({ root, db })).resolves.toMatchObject({ chunks: 1 });
    expect(fs.existsSync(path.join(db, 'index.lock'))).toBe(false);
  });

  // Regression: the lock once treated its own pid as stale, so two indexRepo calls in one
  // process (a server reindexing while another reindex runs) both got the lock and raced.
  it('lets only one of two concurrent indexRepo calls in the same process write', async () => {
    const db = path.join(makeTempDir('cs-db-'), 'index');
    await indexRepo({ root, db });
    writeFiles(root, { 'b.ml': 'let brand_new = 1\nlet other_new = 2\n' });
    try {
      const results = await Promise.allSettled([indexRepo({ root, db }), indexRepo({ root, db })]);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(IndexLockedError);
      expect((await storeContents(db)).count).toBe(3);
    } finally {
      fs.rmSync(path.join(root, 'b.ml'));
    }
  });
});

describe('indexRepo on a local index: the optimize pass', () => {
  it('is put off while the files rewritten since the last pass are at most 1% of the index, and taken once they are more', async () => {
    const root = makeTempDir('cs-backlog-');
    for (let i = 0; i < 200; i++) writeFiles(root, { [`lib/m_${i}.ml`]: `let v_${i} x = x + ${i}\n` });
    const db = path.join(makeTempDir('cs-backlog-db-'), 'db');
    await indexRepo({ root, db, embedder: null });
    const pass = async () => {
      const store = await IndexStore.openForSearch(db);
      try {
        return { optimized: await store.getMeta('optimized'), backlog: await store.getMeta('optimize_backlog') };
      } finally {
        store.close();
      }
    };
    const found = async (name: string) => {
      const searcher = await Searcher.open(db);
      try {
        return (await searcher.search(name, { mode: 'lexical' }))[0]?.symbol;
      } finally {
        searcher.close();
      }
    };
    // 1% of 200 files is 2: the first two one-file updates leave the pass for later, and their
    // definitions are found meanwhile from rows the full-text index does not cover yet.
    for (const [i, name] of ['edited_first', 'edited_second'].entries()) {
      writeFiles(root, { [`lib/m_${i}.ml`]: `let ${name} x = x\n` });
      expect((await indexRepo({ root, db, embedder: null })).changed).toBe(1);
      expect(await pass()).toEqual({ optimized: '0', backlog: String(i + 1) });
      expect(await found(name)).toBe(`M_${i}.${name}`);
    }
    writeFiles(root, { 'lib/m_2.ml': 'let edited_third x = x\n' });
    await indexRepo({ root, db, embedder: null });
    expect(await pass()).toEqual({ optimized: '1', backlog: '0' });
    expect(await found('edited_third')).toBe('M_2.edited_third');
    expect(await found('edited_first')).toBe('M_0.edited_first');
  }, 60_000);
});
