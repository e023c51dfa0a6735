// Sharded builds: N processes each index a stable share of the files into one index, then one
// `--finalize` run embeds and builds the search indexes; the result equals a one-process index.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inShard, parseShard } from '../indexer/pipeline.js';
import { acquireIndexLock, IndexLockedError } from '../indexer/lock.js';
import { cleanupTempDirs, CLI_MAIN, copyFixture, indexContents, makeTempDir, runCli, waitForExit, writeFiles } from './helpers.js';

afterAll(cleanupTempDirs);

describe('shards', () => {
  it('parses I/N and refuses anything else', () => {
    expect(parseShard('2/3')).toEqual({ index: 1, count: 3 });
    for (const bad of ['0/3', '4/3', '3', 'a/b', '1/0', '-1/2']) expect(() => parseShard(bad)).toThrow(/I\/N/);
  });

  it('puts every file in exactly one shard, and both files of a unit in the same one', () => {
    const paths = Array.from({ length: 200 }, (_, i) => `lib${i % 7}/mod_${i}.ml`);
    const counts = paths.map((p) => [0, 1, 2].filter((i) => inShard(p, { index: i, count: 3 })).length);
    expect(counts.every((n) => n === 1)).toBe(true);
    for (const p of paths) {
      for (let i = 0; i < 3; i++) expect(inShard(p.replace(/\.ml$/, '.mli'), { index: i, count: 3 })).toBe(inShard(p, { index: i, count: 3 }));
    }
    // Not all in one shard: the hash spreads them.
    expect(new Set(paths.map((p) => [0, 1, 2].find((i) => inShard(p, { index: i, count: 3 })))).size).toBe(3);
  });

  it('builds with three concurrent shard processes and --finalize the same index as one process', async () => {
    const root = copyFixture('shop');
    writeFiles(root, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`src/extra_${i}.ml`, `(** Helper ${i}. *)\nlet helper_${i} x = x + ${i}\n`])));
    const single = path.join(makeTempDir('cs-single-'), 'index');
    expect((await runCli(['index', root, '--db', single, '-q'], { cwd: root })).code).toBe(0);

    const sharded = path.join(makeTempDir('cs-sharded-'), 'index');
    // Started together: the first creates the tables, the others wait for them.
    const runs = await Promise.all([1, 2, 3].map((i) => runCli(['index', root, '--db', sharded, '--shard', `${i}/3`, '-q'], { cwd: root })));
    for (const r of runs) expect(r.stderr).toBe('');
    const filesPerShard = runs.map((r) => Number(/^indexed (\d+) files/.exec(r.stdout)?.[1]));
    expect(filesPerShard.reduce((a, b) => a + b, 0)).toBe(16);
    expect(filesPerShard.filter((n) => n > 0).length).toBeGreaterThan(1);

    const fin = await runCli(['index', '--finalize', '--db', sharded], { cwd: root });
    expect(fin.code, fin.stderr).toBe(0);
    expect(fin.stdout).toMatch(/^indexed 16 files .* embedded \(static-/);
    expect(await indexContents(sharded)).toEqual(await indexContents(single));
    const hit = await runCli(['search', 'helper_7', '--db', sharded, '--json'], { cwd: root });
    expect(JSON.parse(hit.stdout).results[0].symbol).toMatch(/helper_7$/);
  });

  it('re-runs of one shard update only its own files', async () => {
    const root = copyFixture('shop');
    const db = path.join(makeTempDir('cs-sharded-'), 'index');
    for (const i of [1, 2]) expect((await runCli(['index', root, '--db', db, '--shard', `${i}/2`, '-q'], { cwd: root })).code).toBe(0);
    // A file alone in its compilation unit: only it is parsed again.
    const file = 'src/checkout.ml';
    const own = [1, 2].find((i) => inShard(file, { index: i - 1, count: 2 }))!;
    writeFiles(root, { [file]: '(* rewritten *)\nlet rewritten_value = 1\n' });
    const again = await runCli(['index', root, '--db', db, '--shard', `${own}/2`, '-q'], { cwd: root });
    expect(again.stdout).toMatch(/\(1 parsed, 0 new, 1 changed, 0 removed\)/);
    const other = await runCli(['index', root, '--db', db, '--shard', `${3 - own}/2`, '-q'], { cwd: root });
    expect(other.stdout).toMatch(/\(0 parsed, 0 new, 0 changed, 0 removed\)/);
  });

  it('refuses --shard with --finalize, and a finalize before any shard', async () => {
    const root = copyFixture('mini');
    const db = path.join(makeTempDir('cs-db-'), 'index');
    const both = await runCli(['index', root, '--db', db, '--shard', '1/2', '--finalize'], { cwd: root });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/separate runs/);
    const early = await runCli(['index', '--finalize', '--db', db], { cwd: root });
    expect(early.code).not.toBe(0);
    expect(early.stderr).toMatch(/no index of this codesearch version .* --shard/);
  });

  it('keeps shard writers and a whole-index writer of one directory apart', async () => {
    const db = makeTempDir('cs-lock-');
    // A shard's lock held by another process.
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `import { acquireIndexLock } from ${JSON.stringify(path.resolve(CLI_MAIN, '../../indexer/lock.js'))}; acquireIndexLock(${JSON.stringify(db)}, { index: 0, count: 2 }); console.log('held'); setTimeout(() => {}, 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    try {
      expect(() => acquireIndexLock(db)).toThrow(IndexLockedError);
      expect(() => acquireIndexLock(db)).toThrow(/shard 1\/2/);
      // Another shard may write beside it.
      const release = acquireIndexLock(db, { index: 1, count: 2 });
      release();
    } finally {
      holder.kill('SIGKILL');
      await waitForExit(holder.pid!);
    }
    // Its writer gone, the lock is stale and taken over.
    acquireIndexLock(db)();
  });
});
