// A monorepo N times the corpus, measured rather than extrapolated. The copies sit side by side
// as hard links (no disk for sources); a file the trial edits is first given an inode of its own,
// so the source tree is never written. Steps: a cold index with the default embedder (time, peak
// RSS, size), a no-change and a one-file `index` run, in-process search latency (one-shot reader
// and resident), then `serve --watch`: time to listen, RSS, `/v1/search` latency and save →
// searchable. bench/trials/scale.ts runs it on the full corpus, test/scale.test.ts on a small
// generated repo.
import { copyFileSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { walkRepo, type WalkedFile } from '../../indexer/walk.js';
import { percentile } from '../../server/percentile.js';
import { SEARCH_MODES, type SearchMode } from '../../server/search.js';
import { diskUsage, rssOf, runTimed, searchInProcess, startServer, untilSearchable } from '../measure.js';
import { CLI_MAIN } from './cli.js';

export interface ScaleOptions {
  source: string;
  /** An empty or absent directory for the tree of copies and its index. */
  workDir: string;
  copies: number;
  /** Files edited one after another under `serve --watch`. */
  edits: number;
  queries: string[];
  log?: (line: string) => void;
}

export interface ScaleReport {
  /** The cold run's summary line. */
  summary: string;
  chunks: number;
  coldSeconds: number;
  coldPeakRss: number;
  indexBytes: number;
  noChangeSeconds: number;
  oneFileSeconds: number;
  /** In-process latencies (ms): each mode with the one-shot reader, and hybrid resident. */
  oneShot: Record<SearchMode, number[]>;
  resident: number[];
  listenSeconds: number;
  serverRss: { start: number; end: number };
  /** `/v1/search`, one client (ms). */
  http: number[];
  /** Save → searchable through `serve --watch` (ms), one per edit. */
  fresh: number[];
}

/** `copies` hard-linked copies of `source` under `root` (`c0/`, `c1/`, ...); an index inside it is left out. */
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

/** Gives a hard-linked file an inode of its own, so writing it leaves the source tree alone. */
function detach(path: string): void {
  copyFileSync(path, `${path}.detached`);
  renameSync(`${path}.detached`, path);
}

function appendLine(f: WalkedFile, line: string): void {
  writeFileSync(f.absPath, `${readFileSync(f.absPath, 'utf8').replace(/\n?$/, '\n')}${line}\n`);
}

export async function runScaleTrial(options: ScaleOptions): Promise<ScaleReport> {
  const { workDir, copies, queries } = options;
  const log = options.log ?? (() => {});
  const root = join(workDir, 'tree');
  const db = join(workDir, 'db');
  mkdirSync(workDir, { recursive: true });
  if (readdirSync(workDir).length > 0) throw new Error(`${workDir} is not empty: the trial builds its tree and index in a directory of its own`);
  linkCopies(options.source, root, copies);

  const cli = async (what: string, args: string[], rss = false) => {
    const r = await runTimed(CLI_MAIN, args, { rss });
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r;
  };
  const cold = await cli('cold index', ['index', root, '--db', db, '--quiet'], true);
  const summary = cold.stdout.trim();
  const chunks = Number(/(\d+) chunks/.exec(summary)?.[1] ?? NaN);
  const indexBytes = diskUsage(db).allocated;
  log(`${copies} copies of ${options.source}: ${summary}`);
  log(`cold index ${(cold.ms / 1000).toFixed(1)} s, peak RSS ${((cold.peakRss ?? NaN) / 1e9).toFixed(2)} GB, index ${(indexBytes / 1e9).toFixed(2)} GB`);
  const noChange = await cli('no-change index', ['index', root, '--db', db, '--quiet']);
  log(`no-change index ${(noChange.ms / 1000).toFixed(2)} s`);

  // Mid-sized implementation files spread over the copies: one for the CLI, the rest for the watcher.
  const ml = (await walkRepo({ root })).files.filter((f) => f.kind === 'ml' && f.size > 0).sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
  const picks = options.edits + 1;
  const editFiles = Array.from({ length: picks }, (_, i) => ml[Math.floor(ml.length * (0.3 + (0.4 * i) / picks))]!);
  if (new Set(editFiles.map((f) => f.path)).size < picks) throw new Error(`the tree has too few .ml files for ${options.edits} edits`);
  editFiles.forEach((f) => detach(f.absPath));
  appendLine(editFiles[0]!, 'let cs_scale_probe = 0');
  const oneFile = await cli('one-file index', ['index', root, '--db', db, '--quiet']);
  log(`one-file change, index ${(oneFile.ms / 1000).toFixed(2)} s`);

  const oneShot = {} as Record<SearchMode, number[]>;
  for (const mode of SEARCH_MODES) {
    oneShot[mode] = await searchInProcess(db, queries, mode);
    log(`in-process ${mode}, one-shot reader: ${latency(oneShot[mode])}`);
  }
  const resident = await searchInProcess(db, queries, 'hybrid', { resident: true });
  log(`in-process hybrid, resident: ${latency(resident)}`);

  const started = performance.now();
  const server = await startServer(['--db', db, '--watch']);
  try {
    const listenSeconds = (performance.now() - started) / 1000;
    const rssStart = rssOf(server.pid).rss;
    log(`serve --watch listening after ${listenSeconds.toFixed(1)} s, RSS ${(rssStart / 1e9).toFixed(2)} GB`);
    const search = async (query: string) => {
      const res = await fetch(`${server.url}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, k: 10 }) });
      if (!res.ok) throw new Error(`/v1/search ${JSON.stringify(query)}: ${res.status} ${await res.text()}`);
      await res.json();
    };
    for (const q of queries) await search(q); // warm-up pass
    const http: number[] = [];
    for (const q of queries) {
      const t0 = performance.now();
      await search(q);
      http.push(performance.now() - t0);
    }
    log(`/v1/search, one client: ${latency(http)}`);
    const fresh: number[] = [];
    for (const [i, f] of editFiles.slice(1).entries()) {
      const name = `cs_scale_edit_${i}`;
      const t0 = performance.now();
      appendLine(f, `let ${name} = ${i}`);
      fresh.push(await untilSearchable(server.url, name, f.path, t0));
      // A pause as between two saves, so that each edit is a run of its own.
      await new Promise((r) => setTimeout(r, 1000));
    }
    const rssEnd = rssOf(server.pid).rss;
    log(`save → searchable over ${fresh.length} edits: ${latency(fresh)}, max ${(Math.max(...fresh) / 1000).toFixed(2)} s; server RSS ${(rssEnd / 1e9).toFixed(2)} GB`);
    return {
      summary,
      chunks,
      coldSeconds: cold.ms / 1000,
      coldPeakRss: cold.peakRss ?? NaN,
      indexBytes,
      noChangeSeconds: noChange.ms / 1000,
      oneFileSeconds: oneFile.ms / 1000,
      oneShot,
      resident,
      listenSeconds,
      serverRss: { start: rssStart, end: rssEnd },
      http,
      fresh,
    };
  } finally {
    await server.stop();
  }
}

function latency(samples: number[]): string {
  return `p50 ${percentile(samples, 50).toFixed(1)} ms, p95 ${percentile(samples, 95).toFixed(1)} ms`;
}
