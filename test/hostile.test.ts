// Hostile files (issue 7). The real CLI indexes a repository that mixes good OCaml files with
// hostile ones (bench/trials/hostile-tree.ts; `npm run trials -- hostile` runs it at full size)
// as an unprivileged user, so that unreadable files are unreadable to it; then files change
// between the walk and the read, deterministically; then the limits the defects were fixed with.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { indexRepo } from '../indexer/pipeline.js';
import { createOcamlParser } from '../indexer/parse.js';
import { ChunkBudgetError, chunkTree, MAX_CHUNK_CHARS } from '../indexer/chunk.js';
import { parseType, signatureText } from '../indexer/signature.js';
import { tokenize } from '../indexer/text.js';
import {
  buildHostileTree,
  checkIndex,
  checkWarnings,
  definitionsOnOneLine,
  indexingUser,
  nestedModules,
  runIndexer,
  shareWith,
  snapshot,
  startChurn,
  unlock,
  type HostileTree,
  type IndexRun,
} from '../bench/trials/hostile-tree.js';
import { cleanupTempDirs, makeTempDir, writeFiles } from './helpers.js';

const who = indexingUser();
const user = 'user' in who ? who.user : 'self';
const trees: HostileTree[] = [];

afterAll(() => {
  for (const tree of trees) unlock(tree);
  cleanupTempDirs();
});

describe('codesearch index on a hostile repository', () => {
  let tree: HostileTree;
  let db: string;
  let first: IndexRun;

  beforeAll(async () => {
    const dir = makeTempDir('cs-hostile-');
    tree = buildHostileTree(dir, { scale: 1, unreadable: 'user' in who });
    trees.push(tree);
    db = path.join(dir, 'db');
    shareWith(user, dir, db);
    // Files are rewritten, deleted and swapped for symlinks out of the root while it runs.
    const churn = startChurn(tree);
    first = await runIndexer(tree.root, db, user, [], 90_000);
    await churn.stop();
  }, 120_000);

  it('completes, with exactly one warning per bad file and none about anything else', () => {
    expect(first.otherStderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^indexed \d+ files/);
    expect(checkWarnings(tree, first.warnings, false)).toEqual([]);
  });

  it('indexes every definition of every good file, and nothing of the bad ones or from outside the root', async () => {
    expect(await checkIndex(tree, db)).toEqual([]);
  });

  it('re-indexes consistently: the walk warns again, the index equals a fresh one of the same tree', async () => {
    const second = await runIndexer(tree.root, db, user, [], 60_000);
    expect(second.code).toBe(0);
    expect(checkWarnings(tree, second.warnings, true)).toEqual([]);
    // Only what changed under the first run (at most the volatile files) is parsed again.
    const parsed = Number(/\((\d+) parsed/.exec(second.stdout)?.[1]);
    expect(parsed).toBeLessThanOrEqual(tree.volatile.length);

    const freshDb = path.join(path.dirname(db), 'fresh-db');
    shareWith(user, path.dirname(db), freshDb);
    const fresh = await runIndexer(tree.root, freshDb, user, [], 60_000);
    expect(fresh.code).toBe(0);
    const [updated, rebuilt] = [await snapshot(db), await snapshot(freshDb)];
    expect(updated.chunks.length).toBeGreaterThan(10_000);
    expect(updated).toEqual(rebuilt);
    expect(await checkIndex(tree, db)).toEqual([]);
  }, 90_000);

  if ('reason' in who) it.skip(`unreadable files and directories are left out: ${who.reason}`, () => {});
});

describe('files that change between the walk and the read', () => {
  it('leaves out what became a FIFO, grew, vanished or leads out of the root, once each, and reads the rest as it is now', async () => {
    const dir = makeTempDir('cs-hostile-race-');
    const root = path.join(dir, 'repo');
    const secret = 'outside_secret_race';
    writeFiles(dir, { 'outside/secret.ml': `let ${secret} = 1\n` });
    const victims = ['victim_deleted.ml', 'victim_fifo.ml', 'victim_grown.ml', 'victim_outside.ml', 'victim_rewritten.ml', 'victim_dir/inside.ml'];
    writeFiles(root, { 'stable.ml': 'let stable_value = 1\n', 'later/placeholder.ml': 'let placeholder = 1\n', ...Object.fromEntries(victims.map((v, i) => [v, `let victim_${i} = ${i}\n`])) });
    // Sorted first among the root's entries, it makes the walk's first warning: the moment the
    // root's files have been stat'ed and its subdirectories not yet read.
    fs.symlinkSync('missing.ml', path.join(root, 'aaa_dangling.ml'));
    let swapped = false;
    const swap = () => {
      swapped = true;
      const abs = (rel: string) => path.join(root, rel);
      fs.rmSync(abs('victim_deleted.ml'));
      fs.rmSync(abs('victim_fifo.ml'));
      expect(spawnSync('mkfifo', [abs('victim_fifo.ml')]).status).toBe(0);
      fs.writeFileSync(abs('victim_grown.ml'), `let grown = "${'g'.repeat(2_000_000)}"\n`);
      fs.rmSync(abs('victim_outside.ml'));
      fs.symlinkSync(path.join(dir, 'outside/secret.ml'), abs('victim_outside.ml'));
      fs.writeFileSync(abs('victim_rewritten.ml'), 'let rewritten_value = 2\n');
      fs.renameSync(abs('victim_dir'), path.join(dir, 'moved_away'));
      fs.symlinkSync(path.join(dir, 'outside'), abs('victim_dir'));
      fs.writeFileSync(abs('later/new_file.ml'), 'let created_during_the_walk = 3\n');
    };
    const tree: HostileTree = {
      root,
      good: new Map([
        ['stable.ml', { names: ['stable_value'], probe: 'stable_value' }],
        ['later/placeholder.ml', { names: ['placeholder'], probe: 'placeholder' }],
        ['later/new_file.ml', { names: ['created_during_the_walk'], probe: 'created_during_the_walk' }],
        ['victim_rewritten.ml', { names: ['rewritten_value'], probe: 'rewritten_value' }],
      ]),
      bad: new Map([
        ['aaa_dangling.ml', { reason: 'broken symlink (ENOENT)', stage: 'walk' }],
        ['victim_deleted.ml', { reason: 'unreadable (ENOENT)', stage: 'parse' }],
        ['victim_fifo.ml', { reason: 'not a regular file', stage: 'parse' }],
        ['victim_grown.ml', { reason: 'larger than 1 MB (2 MB)', stage: 'parse' }],
        ['victim_outside.ml', { reason: 'symlink target is outside the repository', stage: 'parse' }],
        ['victim_dir', { reason: 'replaced during the walk', stage: 'walk' }],
      ]),
      volatile: [],
      outsideMarker: secret,
      locked: [],
    };
    const db = path.join(dir, 'db');
    const warnings: string[] = [];
    await indexRepo({ root, db, embedder: null, onWarning: (w) => {
      warnings.push(w);
      if (!swapped) swap();
    } });
    expect(swapped).toBe(true);
    expect(checkWarnings(tree, warnings, false)).toEqual([]);
    expect(await checkIndex(tree, db)).toEqual([]);

    // The next run finds the tree as it is now: the walk leaves out the symlinks out of the root
    // and the large file, the FIFO is no source file, the deleted file is gone.
    const again: string[] = [];
    const summary = await indexRepo({ root, db, embedder: null, onWarning: (w) => again.push(w) });
    expect(again.sort()).toEqual([
      'skipped aaa_dangling.ml: broken symlink (ENOENT)',
      'skipped victim_dir: symlink target is outside the repository',
      'skipped victim_grown.ml: larger than 1 MB (2 MB)',
      'skipped victim_outside.ml: symlink target is outside the repository',
    ]);
    expect(summary).toMatchObject({ parsed: 0, removed: 4 });
    const freshDb = path.join(dir, 'fresh-db');
    await indexRepo({ root, db: freshDb, embedder: null });
    expect(await snapshot(db)).toEqual(await snapshot(freshDb));
  });
});

describe('limits that keep one file from taking the run down', () => {
  const parser = createOcamlParser();
  const chunk = (source: string) => chunkTree(parser.parse(source, 'ml'), source, { path: 'x.ml', lang: 'ml', qualifier: ['X'] });

  it('walks modules nested 2,500 deep (recursion overflowed at about 1,700), and stops 20,000 deep on the chunk budget', () => {
    const deep = chunk(`${'module M = struct\n'.repeat(2500)}let bottom = 1\n${'end\n'.repeat(2500)}`);
    expect(deep.chunks).toHaveLength(2501);
    expect(deep.chunks.at(-1)?.symbol).toBe(`X.${'M.'.repeat(2500)}bottom`);
    expect(() => chunk(nestedModules(20_000, false))).toThrow(ChunkBudgetError);
  });

  it('gives each of many definitions on one long line its own text, not the whole line', () => {
    const { chunks } = chunk(definitionsOnOneLine(5000));
    expect(chunks).toHaveLength(5000);
    expect(chunks[4321]?.text).toBe('let one_line_4321 = 4321');
    const blob = chunk(`let head = 1 let blob = "${'z'.repeat(200_000)}" let tail = 2\n`).chunks;
    expect(blob.map((c) => [c.name, c.text.length])).toEqual([['head', 12], ['blob', MAX_CHUNK_CHARS], ['tail', 12]]);
  });

  it('declines types too long to search by instead of overflowing the stack, and strips unclosed comments in linear time', () => {
    expect(parseType(`${'int -> '.repeat(100_000)}int`)).toBeUndefined();
    expect(parseType(`${'('.repeat(400)}int${')'.repeat(400)} -> int`)).toMatchObject({ t: 'arrow' });
    const started = performance.now();
    expect(signatureText(`val f : int ${'(* '.repeat(50_000)}-> int`)).toBe(`int ${'(* '.repeat(50_000)}-> int`);
    expect(signatureText(`val f : int ${'[@ '.repeat(50_000)}-> int`)).toBe(`int ${'[@ '.repeat(50_000)}-> int`);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('tokenizes a 64 KB word without stemming it (the stemmer is quadratic)', () => {
    const started = performance.now();
    expect(tokenize(`${'a'.repeat(65_536)} splitting`)).toEqual(['a'.repeat(65_536), 'split']);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
