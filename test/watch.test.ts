// The live index with the real watcher: edits, deletes, renames and bursts reach the index, in
// process, through `codesearch watch`, and through `codesearch serve --watch`.
import { describe, it, expect, afterAll } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { watchIndex } from '../indexer/watch.js';
import { indexRepo, optimizeIndex, type IndexSummary } from '../indexer/pipeline.js';
import { IndexStore } from '../indexer/store.js';
import { Searcher } from '../server/search.js';
import { SERVING, cleanupTempDirs, copyFixture, indexedFixture, makeTempDir, runCli, startCli } from './helpers.js';

afterAll(() => cleanupTempDirs());

/** Polls `probe` until it returns true or `ms` pass; true when it did. */
async function eventually(probe: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** The first symbol a fresh searcher finds for `name`, if any. */
async function firstSymbol(db: string, name: string): Promise<string | undefined> {
  const searcher = await Searcher.open(db);
  try {
    return (await searcher.lookupSymbol(name, 1))[0]?.path;
  } finally {
    searcher.close();
  }
}

describe('watchIndex', () => {
  it('follows edits, deletes, renames and a burst of new files, a burst in few runs', async () => {
    const root = copyFixture('shop');
    const db = path.join(makeTempDir('cs-db-'), 'index');
    const runs: IndexSummary[] = [];
    const live = await watchIndex({ root, db, embedder: null, onRun: (s) => runs.push(s) });
    try {
      await live.settled();
      expect(await firstSymbol(db, 'total')).toMatch(/^src\/cart\.mli?$/);

      fs.appendFileSync(path.join(root, 'src/cart.ml'), '\nlet watched_discount x = x / 2\n');
      expect(await eventually(async () => (await firstSymbol(db, 'watched_discount')) === 'src/cart.ml')).toBe(true);

      fs.renameSync(path.join(root, 'src/checkout.ml'), path.join(root, 'src/payment.ml'));
      expect(await eventually(async () => (await firstSymbol(db, 'charge')) === 'src/payment.ml')).toBe(true);

      fs.rmSync(path.join(root, 'src/payment.ml'));
      expect(await eventually(async () => (await firstSymbol(db, 'charge')) === undefined)).toBe(true);

      const before = runs.length;
      for (let i = 0; i < 60; i++) fs.writeFileSync(path.join(root, 'src', `gen_${i}.ml`), `let generated_${i} x = x + ${i}\n`);
      expect(await eventually(async () => (await firstSymbol(db, 'generated_59')) === 'src/gen_59.ml')).toBe(true);
      await live.settled();
      expect(await firstSymbol(db, 'generated_0')).toBe('src/gen_0.ml');
      // Sixty files written at once are a handful of runs, not sixty.
      expect(runs.length - before).toBeLessThanOrEqual(3);
    } finally {
      await live.close();
    }
  }, 60_000);

  it('says when each run starts and ends, around its summary, so a server beside it can give way', async () => {
    const root = copyFixture('shop');
    const db = path.join(makeTempDir('cs-db-'), 'index');
    const told: string[] = [];
    const live = await watchIndex({ root, db, embedder: null, onRunStart: () => told.push('start'), onRun: () => told.push('run'), onRunEnd: () => told.push('end') });
    try {
      await live.settled();
      expect(told).toEqual(['start', 'run', 'end']);
      fs.writeFileSync(path.join(root, 'src/announced.ml'), 'let announced x = x\n');
      expect(await eventually(async () => told.length === 6)).toBe(true);
      expect(told).toEqual(['start', 'run', 'end', 'start', 'run', 'end']);
    } finally {
      await live.close();
    }
  }, 60_000);
});

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('optimizeIndex, the pass a live index puts off', () => {
  it('stops between tables when told to, stays due, and completes when let run', async () => {
    const { root, db } = await indexedFixture('mini');
    fs.writeFileSync(path.join(root, 'src', 'later.ml'), 'let saved_later x = x\n');
    await indexRepo({ root, db, deferOptimize: true });
    const optimized = async () => {
      const store = await IndexStore.openForSearch(db);
      try {
        return await store.getMeta('optimized');
      } finally {
        store.close();
      }
    };
    expect(await optimized()).toBe('0');
    // A file saved after the first table's pass: the pass stops there.
    let asked = 0;
    expect(await optimizeIndex(db, { yieldTo: () => ++asked > 1 })).toBe(false);
    expect(asked).toBe(2);
    expect(await optimized()).toBe('0');
    expect(await optimizeIndex(db)).toBe(true);
    expect(await optimized()).toBe('1');
    const searcher = await Searcher.open(db);
    try {
      expect((await searcher.search('saved_later'))[0]?.symbol).toMatch(/saved_later$/);
    } finally {
      searcher.close();
    }
  });
});

describe('codesearch watch and serve --watch', () => {
  it('codesearch watch keeps the index searchable by the CLI as files change, and stops on SIGTERM', async () => {
    const root = copyFixture('shop');
    const { child } = await startCli(['watch', root, '-q'], /watching/);
    try {
      fs.appendFileSync(path.join(root, 'src/checkout.ml'), '\nlet watched_refund amount = -amount\n');
      const found = await eventually(async () => {
        const r = await runCli(['search', 'watched_refund', '--json', '-k', '1', '--db', path.join(root, '.codesearch')], { cwd: root });
        return r.code === 0 && (JSON.parse(r.stdout) as { results: { name: string }[] }).results[0]?.name === 'watched_refund';
      });
      expect(found).toBe(true);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  }, 60_000);

  it('codesearch serve --watch answers for a file saved after it started', async () => {
    const root = copyFixture('shop');
    expect((await runCli(['index', root, '-q'], { cwd: root })).code).toBe(0);
    const { child, match } = await startCli(['serve', '--db', path.join(root, '.codesearch'), '--port', '0', '-q', '--watch'], SERVING);
    try {
      fs.appendFileSync(path.join(root, 'src/cart.ml'), '\nlet served_while_watching x = x\n');
      const found = await eventually(async () => {
        const r = (await (await fetch(`${match[1]}/v1/symbols?q=served_while_watching`)).json()) as { results: { name: string }[] };
        return r.results[0]?.name === 'served_while_watching';
      });
      expect(found).toBe(true);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  }, 60_000);

  it('serve --watch leaves no watcher behind when it is killed', async () => {
    const root = copyFixture('shop');
    const db = path.join(root, '.codesearch');
    expect((await runCli(['index', root, '-q'], { cwd: root })).code).toBe(0);
    const { child } = await startCli(['serve', '--db', db, '--port', '0', '-q', '--watch'], SERVING);
    const watchers = () => fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && readCmdline(pid).includes(`watch\0${root}\0`));
    expect(watchers()).toHaveLength(1);
    child.kill('SIGKILL');
    const gone = await eventually(async () => watchers().length === 0);
    expect(gone).toBe(true);
  }, 30_000);

  it('serve --watch says in one line when the indexed root is gone', async () => {
    const root = copyFixture('shop');
    const db = path.join(makeTempDir('cs-db-'), 'index');
    expect((await runCli(['index', root, '--db', db, '-q'], { cwd: root })).code).toBe(0);
    fs.renameSync(root, `${root}-moved`);
    const r = await runCli(['serve', '--db', db, '--port', '0', '-q', '--watch'], { cwd: path.dirname(db) });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--watch: cannot watch .*: not a directory/);
  }, 30_000);
});


function readCmdline(pid: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}
