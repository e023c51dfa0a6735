// `npm run trials -- scale [--corpus DIR] [--copies N] [--work DIR] [--edits N]`: a monorepo N
// times the corpus (default 10: 11M lines from the full corpus), measured rather than
// extrapolated. The copies sit side by side as hard links (no disk for sources); a file the trial
// edits is first replaced by a copy of its own, so the corpus itself is never written. Steps: a
// cold index with the default embedder (time, peak RSS, size), a no-change and a one-file
// `index` run, in-process search latency (one-shot reader and resident), then `serve --watch`:
// time to listen, RSS, save → searchable and `/v1/search` latency. Passes when every step
// succeeds and every edit is found; the figures are the point.
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { walkRepo, type WalkedFile } from '../../indexer/walk.js';
import { percentile } from '../../server/percentile.js';
import { SEARCH_MODES } from '../../server/search.js';
import { diskUsage, rssOf, runTimed, searchInProcess, startServer } from '../measure.js';
import { CLI_MAIN, devQueries } from './cli.js';
import type { Trial } from './trial.js';

/** An edit not searchable after this long fails the trial. */
const EDIT_LIMIT_MS = 30_000;

/** `copies` hard-linked copies of `source` under `root` (`c0/`, `c1/`, ...); the index inside it is left out. */
function linkCopies(source: string, root: string, copies: number): void {
  const linkTree = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    for (const e of readdirSync(from, { withFileTypes: true })) {
      if (e.name === '.codesearch') continue;
      if (e.isDirectory()) linkTree(join(from, e.name), join(to, e.name));
      else if (e.isFile()) linkSync(join(from, e.name), join(to, e.name));
    }
  };
  for (let i = 0; i < copies; i++) linkTree(source, join(root, `c${i}`));
}

/** Gives a hard-linked file an inode of its own, so writing it leaves the corpus alone. */
function detach(path: string): void {
  copyFileSync(path, `${path}.detached`);
  renameSync(`${path}.detached`, path);
}

function ms(samples: number[]): string {
  return `p50 ${percentile(samples, 50).toFixed(1)} ms, p95 ${percentile(samples, 95).toFixed(1)} ms`;
}

const scale: Trial = {
  description: 'a monorepo N times the corpus (hard-linked copies): index, search and live-update figures',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { corpus: { type: 'string' }, copies: { type: 'string', default: '10' }, work: { type: 'string' }, edits: { type: 'string', default: '10' } } });
    const source = resolve(values.corpus ?? process.env.CODESEARCH_CORPUS ?? '../corpus');
    const copies = Number(values.copies);
    const work = resolve(values.work ?? join(tmpdir(), `codesearch-scale-${process.pid}`));
    const root = join(work, 'tree');
    const db = join(work, 'db');
    const log = (line: string) => process.stdout.write(`scale: ${line}\n`);
    if (existsSync(work) && readdirSync(work).length > 0) {
      log(`${work} is not empty: the trial builds its tree and index in a directory of its own`);
      return false;
    }
    try {
      linkCopies(source, root, copies);
      const cli = (args: string[], rss = false) => runTimed(CLI_MAIN, args, { rss, keepStdout: true });
      const cold = await cli(['index', root, '--db', db, '--quiet'], true);
      if (cold.code !== 0) throw new Error(`cold index failed: ${cold.stderr.trim()}`);
      log(`${copies} copies of ${source}: ${cold.stdout.trim()}`);
      log(`cold index ${(cold.ms / 1000).toFixed(1)} s, peak RSS ${((cold.peakRss ?? NaN) / 1e9).toFixed(2)} GB, index ${(diskUsage(db).allocated / 1e9).toFixed(2)} GB`);
      const again = await cli(['index', root, '--db', db, '--quiet']);
      log(`no-change index ${(again.ms / 1000).toFixed(2)} s`);

      const sources = (await walkRepo({ root })).files.filter((f) => f.kind === 'ml' && f.size > 0);
      const edits = Number(values.edits);
      // Mid-sized implementation files spread over the copies.
      const bySize = [...sources].sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
      const editFiles: WalkedFile[] = Array.from({ length: edits + 1 }, (_, i) => bySize[Math.floor(bySize.length * (0.3 + (0.4 * i) / (edits + 1)))]!);
      editFiles.forEach((f) => detach(f.absPath));
      const append = (f: WalkedFile, line: string) => writeFileSync(f.absPath, `${readFileSync(f.absPath, 'utf8').replace(/\n?$/, '\n')}${line}\n`);
      append(editFiles[0]!, 'let cs_scale_probe = 0');
      const oneFile = await cli(['index', root, '--db', db, '--quiet']);
      if (oneFile.code !== 0) throw new Error(`one-file index failed: ${oneFile.stderr.trim()}`);
      log(`one-file change, index (with compaction) ${(oneFile.ms / 1000).toFixed(2)} s`);

      const queries = devQueries();
      for (const mode of SEARCH_MODES) log(`in-process ${mode}, one-shot reader: ${ms(await searchInProcess(db, queries, mode))}`);
      const loadStarted = performance.now();
      log(`in-process hybrid, resident: ${ms(await searchInProcess(db, queries, 'hybrid', { resident: true }))} (load and passes ${((performance.now() - loadStarted) / 1000).toFixed(1)} s)`);

      const started = performance.now();
      const server = await startServer(['--db', db, '--watch']);
      try {
        log(`serve --watch listening after ${((performance.now() - started) / 1000).toFixed(1)} s, RSS ${(rssOf(server.pid).rss / 1e9).toFixed(2)} GB`);
        const search = async (query: string) => {
          const res = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, k: 10 }) });
          if (!res.ok) throw new Error(`/v1/search ${JSON.stringify(query)}: ${res.status}`);
          return (await res.json()) as { results: { symbol?: string }[] };
        };
        const http: number[] = [];
        for (const q of queries) await search(q);
        for (const q of queries) {
          const t0 = performance.now();
          await search(q);
          http.push(performance.now() - t0);
        }
        log(`/v1/search, one client: ${ms(http)}`);
        const fresh: number[] = [];
        for (const [i, f] of editFiles.slice(1).entries()) {
          const name = `cs_scale_edit_${i}`;
          const t0 = performance.now();
          append(f, `let ${name} = ${i}`);
          while (!(await search(name)).results.some((r) => r.symbol?.endsWith(`.${name}`))) {
            if (performance.now() - t0 > EDIT_LIMIT_MS) throw new Error(`${name} (appended to ${f.path}) was not searchable after ${EDIT_LIMIT_MS / 1000} s`);
            await new Promise((r) => setTimeout(r, 25));
          }
          fresh.push(performance.now() - t0);
          // A pause as between two saves, so each edit is a run of its own.
          await new Promise((r) => setTimeout(r, 1000));
        }
        log(`save → searchable over ${fresh.length} edits: ${ms(fresh)}, max ${(Math.max(...fresh) / 1000).toFixed(2)} s; server RSS ${(rssOf(server.pid).rss / 1e9).toFixed(2)} GB`);
      } finally {
        await server.stop();
      }
      return true;
    } catch (err) {
      log(`failed: ${(err as Error).message}`);
      return false;
    } finally {
      if (!values.work) rmSync(work, { recursive: true, force: true });
    }
  },
};
export default scale;
