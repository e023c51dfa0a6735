// `npm run bench -- CORPUS [--db DIR] [--queries FILE] [--json]`: one run, one machine, every
// figure next to its target: single-thread parse-only floor, cold index lexical-only and with the
// default embeddings, no-change / one-file index times through the real CLI, the static model's
// training time and embedding throughput, search latency per mode (in-process and through the
// CLI), the same words through ripgrep, peak RSS and index size. Progress goes to stderr; the report to stdout (with
// --json stdout gets one JSON object and the readable report goes to stderr).
// The corpus is only read, except one file that gets a comment line for the one-file-change run
// and is restored (content and times) in a finally block. The index goes to a fresh temp dir
// (or --db, which must be empty or absent so the cold index is really cold).
import { diskUsage, haveGnuTime, rssOf, runTimed, SEARCH_PASSES, searchInProcess, startServer, untilSearchable } from './measure.js';
import { measureFleet, type FleetFigures } from './embed-server.js';
import { percentile } from '../server/percentile.js';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { walkRepo, type WalkedFile } from '../indexer/walk.js';
import { createOcamlParser, langOf } from '../indexer/parse.js';
import { SEARCH_MODES, type SearchMode } from '../server/search.js';
import { IndexStore } from '../indexer/store.js';
import { trainStaticModel, type TokenBag } from '../indexer/embed/static-model.js';
import { StaticEmbedder } from '../indexer/embed/static.js';
import type { EmbedInput } from '../indexer/embed/embedder.js';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
// The CLI of this build, not whatever `dist/` holds: a copy of a build measures itself.
const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const TOUCH_LINE = '(* bench touch *)';
const HTTP_CLIENTS = 8;
const HTTP_SEARCHES = 400;
const HTTP_CONTEXTS = 160;
const CLI_QUERIES = 20;
const STOP_WORDS = new Set(
  ('how the and for with that does where what when which who why are can get use using into from this than then ' +
    'not but all any its was were will would should could have has had been being there their them they you your ' +
    'one way ways instead give gives given find returns return make makes some each other more most such only also').split(' '),
);

const TARGETS = {
  coldRatio: 1.5,
  /** Cold index with the default embeddings over the lexical-only cold index. */
  embeddingsRatio: 2,
  hybridP95Ms: 50,
  httpSearchP95Ms: 50,
  httpContextP95Ms: 150,
  serverRssBytes: 500 * 1024 ** 2,
  noChangeSeconds: 2,
  searchP50Ms: 20,
  searchP95Ms: 50,
  peakRssBytes: 1024 ** 3,
  /** A saved edit is searchable through `serve --watch` this soon. */
  watchFreshnessP95Ms: 2000,
};
const WATCH_EDITS = 20;
/** How long a stand-in embedding server holds each batch of 32 in the fleet step: a GPU's pace. */
const FLEET_BATCH_MS = 20;
/** Chunks embedded at that pace: enough for a steady rate, 15 s with one server. */
const FLEET_HELD_CHUNKS = 20_000;

// ---------------------------------------------------------------------------
// Small helpers

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function mean(samples: readonly number[]): number {
  return samples.length === 0 ? NaN : samples.reduce((a, b) => a + b, 0) / samples.length;
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
}

function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Undone on Ctrl-C too: the touched corpus file, and the temporary index. */
let pendingRestore: (() => void) | undefined;
let tempDir: string | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (pendingRestore) {
      pendingRestore();
      log('interrupted; the touched corpus file was restored');
    }
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    process.exit(130);
  });
}

const tick = () => new Promise<void>((r) => setImmediate(r));

// ---------------------------------------------------------------------------
// Arguments

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string' },
    queries: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: npm run bench -- CORPUS_DIR [--db DIR] [--queries FILE.jsonl] [--json]\n');
  process.exit(0);
}
const corpus = resolve(positionals[0] ?? process.env.CODESEARCH_CORPUS ?? join(repo, '../corpus'));
const queriesFile = resolve(values.queries ?? join(repo, '../shared/eval/dev.jsonl'));

// ---------------------------------------------------------------------------
// The steps

interface IndexRun {
  seconds: number;
  peakRssBytes?: number;
  summary: string;
}

async function runIndex(db: string, what: string, rss = false, extra: string[] = []): Promise<IndexRun> {
  log(`${what}: dist/cli/main.js index ${corpus} --db ${db} --quiet ${extra.join(' ')}`);
  // The executable, as users run it: its #! line sets the environment (malloc arenas).
  const r = await runTimed(cli, ['index', corpus, '--db', db, '--quiet', ...extra], { rss });
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  const summary = r.stdout.trim().split('\n').pop() ?? '';
  log(`${what}: ${(r.ms / 1000).toFixed(2)} s — ${summary}`);
  return { seconds: r.ms / 1000, peakRssBytes: r.peakRss, summary };
}

function loadQueries(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const q = (JSON.parse(line) as { query?: unknown }).query;
    if (typeof q === 'string' && q.trim()) out.push(q.trim());
  }
  if (out.length === 0) throw new Error(`no queries in ${file}`);
  return out;
}

function rgWords(query: string): string[] {
  const words = (query.match(/[A-Za-z0-9_]+/g) ?? []).filter((w) => w.length >= 3 && !STOP_WORDS.has(w.toLowerCase()));
  return [...new Set(words.map((w) => w.toLowerCase()))];
}

/** Single-thread floor of the parse stage: read + tree-sitter parse of every kept source. */
async function parseOnly(sources: WalkedFile[]) {
  const parser = createOcamlParser();
  let readMs = 0;
  let parseMs = 0;
  let lines = 0;
  let bytes = 0;
  const started = performance.now();
  for (const [i, f] of sources.entries()) {
    const t0 = performance.now();
    const buf = await readFile(f.absPath);
    const t1 = performance.now();
    const source = buf.toString('utf8');
    parser.parse(source, langOf(f.path)!);
    const t2 = performance.now();
    readMs += t1 - t0;
    parseMs += t2 - t1;
    bytes += buf.length;
    lines += source.split('\n').length;
    if ((i + 1) % 5000 === 0) log(`parse-only: ${i + 1}/${sources.length} files`);
    await tick(); // let the previous tree be collected
  }
  return { seconds: (performance.now() - started) / 1000, readSeconds: readMs / 1000, parseSeconds: parseMs / 1000, lines, bytes };
}

/**
 * Puts back a file's access and modification times to the nanosecond (GNU touch), so that
 * other indexes of the corpus see it unchanged; utimes (microsecond-ish) is the fallback.
 */
function restoreTimes(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  const stamp = (ns: bigint) => `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
  const a = spawnSync('touch', ['-a', '-d', stamp(atimeNs), '--', path]);
  const m = spawnSync('touch', ['-m', '-d', stamp(mtimeNs), '--', path]);
  if (a.status === 0 && m.status === 0 && statSync(path, { bigint: true }).mtimeNs === mtimeNs) return;
  utimesSync(path, Number(atimeNs) / 1e9, Number(mtimeNs) / 1e9);
}

/** The .ml file of median size: a typical edit. */
function pickTouchFile(sources: WalkedFile[]): WalkedFile {
  const ml = sources.filter((f) => f.kind === 'ml' && f.size > 0).sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
  const pick = ml[Math.floor(ml.length / 2)];
  if (!pick) throw new Error('the corpus has no .ml file to touch');
  return pick;
}

async function oneFileChange(db: string, file: WalkedFile) {
  const original = readFileSync(file.absPath);
  const st = statSync(file.absPath, { bigint: true });
  const restore = () => {
    writeFileSync(file.absPath, original);
    restoreTimes(file.absPath, st.atimeNs, st.mtimeNs);
  };
  let touched: IndexRun;
  pendingRestore = restore;
  try {
    const sep = original.length > 0 && original[original.length - 1] !== 10 ? '\n' : '';
    writeFileSync(file.absPath, Buffer.concat([original, Buffer.from(`${sep}${TOUCH_LINE}\n`)]));
    touched = await runIndex(db, `one-file change (${file.path}, ${fmtInt(file.size)} bytes)`);
  } finally {
    restore();
    pendingRestore = undefined;
    log(`restored ${file.path}`);
  }
  const back = await runIndex(db, 'restore re-index');
  return { touched, back };
}

/** The static model alone, in this process: training time and embedding throughput. */
async function staticEmbedding(db: string) {
  const store = await IndexStore.openForSearch(db);
  try {
    const inputs: EmbedInput[] = [];
    for await (const batch of store.embedInputs({ text: false })) inputs.push(...batch);
    const bags: TokenBag[] = inputs.map((i) => ({ name: i.nameTokens, doc: i.docTokens, body: i.bodyTokens }));
    const t0 = performance.now();
    const model = await trainStaticModel(bags);
    const trainSeconds = (performance.now() - t0) / 1000;
    if (!model) throw new Error('the corpus has nothing to learn a static model from');
    const embedder = new StaticEmbedder(model);
    const t1 = performance.now();
    for (let i = 0; i < inputs.length; i += 1024) await embedder.embedDocuments(inputs.slice(i, i + 1024));
    const embedSeconds = (performance.now() - t1) / 1000;
    return { chunks: inputs.length, vocabulary: model.vocabulary.length, dims: model.dims, trainSeconds, embedSeconds, chunksPerSecond: inputs.length / embedSeconds };
  } finally {
    store.close();
  }
}

async function searchViaCli(db: string, queries: string[]) {
  const samples: number[] = [];
  for (const q of queries) {
    const r = await runTimed(cli, ['search', '--json', '--db', db, '--', q]);
    if (r.code !== 0) throw new Error(`codesearch search ${JSON.stringify(q)} failed (exit ${r.code}): ${r.stderr.trim()}`);
    samples.push(r.ms);
  }
  return samples;
}

/**
 * Save → searchable through `codesearch serve --watch`: one new definition appended to each of
 * WATCH_EDITS different files in turn, the server polled every 25 ms until it finds it. Every
 * file is put back as it was (content and times) afterwards.
 */
async function watchFreshness(db: string, sources: WalkedFile[]) {
  const ml = sources.filter((f) => f.kind === 'ml' && f.size > 0).sort((a, b) => a.size - b.size || (a.path < b.path ? -1 : 1));
  const middle = Math.max(0, Math.floor(ml.length / 2) - WATCH_EDITS / 2);
  const files = ml.slice(middle, middle + WATCH_EDITS).map((f) => ({ f, original: readFileSync(f.absPath), st: statSync(f.absPath, { bigint: true }) }));
  const restore = () => {
    for (const { f, original, st } of files) {
      writeFileSync(f.absPath, original);
      restoreTimes(f.absPath, st.atimeNs, st.mtimeNs);
    }
  };
  const server = await startServer(['--db', db, '--watch']);
  const samples: number[] = [];
  pendingRestore = restore;
  try {
    // The watcher's first run (nothing changed) and the resident load.
    await new Promise((r) => setTimeout(r, 3000));
    for (const [i, { f, original }] of files.entries()) {
      const name = `cs_watch_probe_${i}`;
      const sep = original.length > 0 && original[original.length - 1] !== 10 ? '\n' : '';
      const t0 = performance.now();
      writeFileSync(f.absPath, Buffer.concat([original, Buffer.from(`${sep}let ${name} = ${i}\n`)]));
      samples.push(await untilSearchable(server.url, name, f.path, t0));
    }
  } finally {
    restore();
    pendingRestore = undefined;
    await server.stop();
  }
  return samples;
}

/**
 * `clients` concurrent loops over the bodies until `total` requests are answered; latency of each.
 * node:http over kept-alive sockets, not fetch: on 2 cores the client shares the CPU with the
 * server it measures, and fetch took 1.05 ms of it per request against 0.35 ms (30 s of 8
 * clients: /v1/search 323–335 vs 358–419 answers a second).
 */
async function load(url: string, bodies: unknown[], clients: number, total: number) {
  const samples: number[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const target = new URL(url);
  const post = (body: string) =>
    new Promise<number>((resolvePromise, reject) => {
      const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      const request = http.request({ hostname: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers }, (response) => {
        response.resume();
        response.on('end', () => resolvePromise(response.statusCode ?? 0));
      });
      request.on('error', reject);
      request.end(body);
    });
  const texts = bodies.map((b) => JSON.stringify(b));
  let next = 0;
  let failures = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < total) {
          const body = texts[next++ % texts.length]!;
          const t0 = performance.now();
          const status = await post(body);
          samples.push(performance.now() - t0);
          if (status !== 200) failures++;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  return { samples, failures, perSecond: samples.length / seconds };
}

function haveRipgrep(): boolean {
  const r = spawnSync('rg', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

async function ripgrep(queries: string[]) {
  const runs: { query: string; words: string[]; ms: number; lines: number }[] = [];
  const argsOf = (words: string[]) => ['-n', '-i', ...words.flatMap((w) => ['-e', w]), corpus, '--type-add', 'ocaml:*.{ml,mli}', '-t', 'ocaml'];
  const withWords = queries.map((q) => ({ query: q, words: rgWords(q) })).filter((x) => x.words.length > 0);
  if (withWords[0]) await runTimed('rg', argsOf(withWords[0].words), { keepStdout: false }); // warm-up
  for (const { query, words } of withWords) {
    const r = await runTimed('rg', argsOf(words), { keepStdout: false });
    if (r.code !== 0 && r.code !== 1) throw new Error(`rg failed (exit ${r.code}): ${r.stderr.trim()}`);
    runs.push({ query, words, ms: r.ms, lines: r.stdoutLines });
  }
  return runs;
}

// ---------------------------------------------------------------------------
// Report

type Row = [label: string, value: string, target?: string, pass?: boolean];

/** Label, value (right-aligned, or left for text), target and PASS/FAIL columns. */
function table(title: string, rows: Row[], align: 'left' | 'right' = 'right'): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const w2 = Math.max(0, ...rows.map((r) => (r[2] ?? '').length));
  const body = rows.map(([label, value, target, pass]) => {
    let line = `  ${label.padEnd(w0)}  ${align === 'right' ? value.padStart(w1) : value.padEnd(w1)}`;
    if (target !== undefined) line += `  ${target.padEnd(w2)}  ${pass === undefined ? '' : pass ? 'PASS' : 'FAIL'}`;
    return line.trimEnd();
  });
  const width = Math.max(title.length, ...body.map((l) => l.length));
  return [title, '-'.repeat(width), ...body].join('\n') + '\n';
}

async function main(): Promise<void> {
  if (!existsSync(cli)) throw new Error(`${cli} is missing; run npx tsc -p tsconfig.json first`);
  if (!existsSync(corpus) || !statSync(corpus).isDirectory()) throw new Error(`corpus ${corpus} is not a directory`);
  const queries = loadQueries(queriesFile);

  let db: string;
  if (values.db) {
    db = resolve(values.db);
    if (existsSync(db) && (!statSync(db).isDirectory() || readdirSync(db).length > 0)) {
      throw new Error(`--db ${db} must be an empty or absent directory (a cold index needs a fresh one)`);
    }
    mkdirSync(db, { recursive: true });
  } else {
    tempDir = mkdtempSync(join(tmpdir(), 'codesearch-bench-'));
    db = join(tempDir, 'db');
  }

  const cpu = cpus();
  const machine = {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryBytes: totalmem(),
    os: `${platform()} ${release()}`,
    node: process.version,
    date: new Date().toISOString(),
    /** Other work on the machine skews every figure: shown so a noisy run can be spotted. */
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
  };
  log(`corpus ${corpus}, index ${db}, ${queries.length} queries from ${queriesFile}`);

  try {
    // 0. The corpus, as the indexer sees it.
    const walkStart = performance.now();
    const walked = await walkRepo({ root: corpus });
    const walkSeconds = (performance.now() - walkStart) / 1000;
    const sources = walked.files.filter((f) => langOf(f.path) !== undefined);
    log(`walk: ${sources.length} sources, ${walked.skipped.length} skipped by the walker, ${walkSeconds.toFixed(2)} s`);
    // Warm the page cache so the parse floor and the cold index both read from memory.
    for (const f of sources) await readFile(f.absPath).catch(() => undefined);

    // 1. Parse-only floor.
    log('parse-only: one thread, read + tree-sitter parse of every source');
    const parse = await parseOnly(sources);
    log(`parse-only: ${parse.seconds.toFixed(2)} s (read ${parse.readSeconds.toFixed(2)} s, parse ${parse.parseSeconds.toFixed(2)} s)`);

    // 2-4. Index runs through the real CLI: lexical-only first, then with the default embeddings.
    const lexicalDb = `${db}-lexical`;
    const coldLexical = await runIndex(lexicalDb, 'cold index, lexical only', true, ['--embedder', 'none']);
    rmSync(lexicalDb, { recursive: true, force: true });
    const cold = await runIndex(db, 'cold index, default embeddings', true);
    const noChange = await runIndex(db, 'no-change re-index');
    const touchFile = pickTouchFile(sources);
    const change = await oneFileChange(db, touchFile);

    log('static model: training and embedding every chunk in this process');
    const embedding = await staticEmbedding(db);
    log(`static model: trained in ${embedding.trainSeconds.toFixed(2)} s, ${Math.round(embedding.chunksPerSecond)} chunks/s`);

    // The http embedder's fleet client against 1 and 2 stand-in servers: as fast as they go, and
    // with each request held FLEET_BATCH_MS, one at a time per server, as a GPU model's batch is.
    const fleet: FleetFigures[] = [];
    for (const batchMs of [0, FLEET_BATCH_MS]) {
      for (const servers of [1, 2]) {
        log(`embedding fleet: ${batchMs ? `${FLEET_HELD_CHUNKS} chunks` : 'every chunk'} through ${servers} embedding server(s)${batchMs ? `, ${batchMs} ms a batch` : ''}`);
        fleet.push(await measureFleet(db, servers, batchMs, batchMs ? FLEET_HELD_CHUNKS : Infinity));
        log(`embedding fleet: ${Math.round(fleet[fleet.length - 1]!.chunksPerSecond)} chunks/s`);
      }
    }

    // 5. Search latency, per mode (hybrid is the default).
    const byMode = {} as Record<SearchMode, number[]>;
    for (const mode of SEARCH_MODES) {
      log(`search (in-process, ${mode}): warm-up + ${SEARCH_PASSES} passes over ${queries.length} queries`);
      byMode[mode] = await searchInProcess(db, queries, mode);
      log(`search (in-process, ${mode}): p50 ${fmtMs(percentile(byMode[mode], 50))}, p95 ${fmtMs(percentile(byMode[mode], 95))}`);
    }
    // The searcher long-lived processes hold (serve, mcp, a sidecar's provider): chunks and term index in memory.
    log(`search (in-process, hybrid, resident): warm-up + ${SEARCH_PASSES} passes over ${queries.length} queries`);
    const residentHybrid = await searchInProcess(db, queries, 'hybrid', { resident: true });
    log(`search (in-process, hybrid, resident): p50 ${fmtMs(percentile(residentHybrid, 50))}, p95 ${fmtMs(percentile(residentHybrid, 95))}`);
    const inProc = byMode.lexical;
    const cliQueries = queries.slice(0, CLI_QUERIES);
    log(`search (CLI): one process per query, ${cliQueries.length} queries`);
    const viaCli = await searchViaCli(db, cliQueries);
    log(`search (CLI): p50 ${fmtMs(percentile(viaCli, 50))}, p95 ${fmtMs(percentile(viaCli, 95))}`);

    // 6. The HTTP server under 8 concurrent clients.
    log(`http: codesearch serve, ${HTTP_CLIENTS} concurrent clients`);
    const server = await startServer(['--db', db]);
    let http: { search: Awaited<ReturnType<typeof load>>; context: Awaited<ReturnType<typeof load>>; rss: { rss: number; peak: number } };
    try {
      const searchBodies = queries.map((query) => ({ query }));
      const contextBodies = queries.map((prompt) => ({ prompt }));
      // Warm: as many requests again first. After one pass over the queries V8 has not yet
      // optimised the hot paths (three 800-search runs in a row: 291 / 296 / 330 answers a second).
      await load(`${server.url}/v1/search`, searchBodies, HTTP_CLIENTS, HTTP_SEARCHES);
      await load(`${server.url}/v1/context`, contextBodies, HTTP_CLIENTS, HTTP_CONTEXTS);
      const search = await load(`${server.url}/v1/search`, searchBodies, HTTP_CLIENTS, HTTP_SEARCHES);
      const context = await load(`${server.url}/v1/context`, contextBodies, HTTP_CLIENTS, HTTP_CONTEXTS);
      http = { search, context, rss: rssOf(server.pid) };
    } finally {
      await server.stop();
    }
    log(`http: /v1/search p95 ${fmtMs(percentile(http.search.samples, 95))}, /v1/context p95 ${fmtMs(percentile(http.context.samples, 95))}, server RSS ${fmtBytes(http.rss.peak)}`);

    // 6b. The live index: save → searchable.
    log(`watch: serve --watch, ${WATCH_EDITS} edits of different files, each polled until searchable`);
    const freshness = await watchFreshness(db, sources);
    log(`watch: save → searchable p50 ${fmtMs(percentile(freshness, 50))}, p95 ${fmtMs(percentile(freshness, 95))}`);

    // 7. ripgrep over the same words.
    const rgAvailable = haveRipgrep();
    let rg: Awaited<ReturnType<typeof ripgrep>> | undefined;
    if (rgAvailable) {
      log(`ripgrep: the words of each query, ${queries.length} queries`);
      rg = await ripgrep(queries);
      log(`ripgrep: p50 ${fmtMs(percentile(rg.map((r) => r.ms), 50))}`);
    } else {
      log('ripgrep: rg is not installed (apt-get install ripgrep); skipping the comparison');
    }

    // 8. Memory and size.
    const usage = diskUsage(db);
    const benchRss = process.resourceUsage().maxRSS * 1024;

    // -----------------------------------------------------------------------
    const coldRatio = coldLexical.seconds / parse.seconds;
    const embeddingsRatio = cold.seconds / coldLexical.seconds;
    const hybridP95 = percentile(byMode.hybrid, 95);
    const p50 = percentile(inProc, 50);
    const p95 = percentile(inProc, 95);
    const rgMs = rg?.map((r) => r.ms) ?? [];
    const rgP50 = percentile(rgMs, 50);
    const mlFiles = sources.filter((f) => f.kind === 'ml').length;
    const rssMethod = haveGnuTime ? '/usr/bin/time -f %M' : '/proc/PID/status VmHWM, sampled every 50 ms';

    const targets = [
      { name: 'cold index / parse-only', value: round(coldRatio), limit: TARGETS.coldRatio, pass: coldRatio <= TARGETS.coldRatio },
      { name: 'cold with embeddings / lexical-only', value: round(embeddingsRatio), limit: TARGETS.embeddingsRatio, pass: embeddingsRatio <= TARGETS.embeddingsRatio },
      { name: 'in-process hybrid search p95 ms', value: round(hybridP95), limit: TARGETS.hybridP95Ms, pass: hybridP95 <= TARGETS.hybridP95Ms },
      { name: 'no-change re-index seconds', value: round(noChange.seconds), limit: TARGETS.noChangeSeconds, pass: noChange.seconds <= TARGETS.noChangeSeconds },
      { name: 'in-process search p50 ms', value: round(p50), limit: TARGETS.searchP50Ms, pass: p50 <= TARGETS.searchP50Ms },
      { name: 'in-process search p95 ms', value: round(p95), limit: TARGETS.searchP95Ms, pass: p95 <= TARGETS.searchP95Ms },
      ...(cold.peakRssBytes === undefined
        ? []
        : [{ name: 'cold index peak RSS bytes', value: cold.peakRssBytes, limit: TARGETS.peakRssBytes, pass: cold.peakRssBytes <= TARGETS.peakRssBytes }]),
    ];
    const httpSearchP95 = percentile(http.search.samples, 95);
    const httpContextP95 = percentile(http.context.samples, 95);
    targets.push(
      { name: 'http /v1/search p95 ms, 8 clients', value: round(httpSearchP95), limit: TARGETS.httpSearchP95Ms, pass: httpSearchP95 <= TARGETS.httpSearchP95Ms },
      { name: 'http /v1/context p95 ms, 8 clients', value: round(httpContextP95), limit: TARGETS.httpContextP95Ms, pass: httpContextP95 <= TARGETS.httpContextP95Ms },
      { name: 'server peak RSS bytes', value: http.rss.peak, limit: TARGETS.serverRssBytes, pass: http.rss.peak <= TARGETS.serverRssBytes },
    );
    const freshnessP95 = percentile(freshness, 95);
    targets.push({ name: 'watch save → searchable p95 ms', value: round(freshnessP95), limit: TARGETS.watchFreshnessP95Ms, pass: freshnessP95 <= TARGETS.watchFreshnessP95Ms });
    const passOf = (name: string) => targets.find((t) => t.name === name)?.pass;

    let report = '';
    report += table('codesearch bench', [
      ['machine', `${machine.cpu}, ${machine.cores} cores, ${fmtBytes(machine.memoryBytes)}`],
      ['os / node', `${machine.os} / node ${machine.node}`],
      ['date', `${machine.date} (load average ${machine.loadAverage1m} at start)`],
      ['corpus', corpus],
      ['sources', `${fmtInt(sources.length)} (${fmtInt(mlFiles)} .ml, ${fmtInt(sources.length - mlFiles)} .mli), ${walked.skipped.length} skipped by the walker`],
      ['lines / bytes', `${fmtInt(parse.lines)} lines, ${fmtBytes(parse.bytes)}`],
    ], 'left');
    report += '\n';
    report += table('indexing', [
      ['walk', fmtMs(walkSeconds * 1000)],
      ['parse-only, 1 thread (read + parse)', fmtMs(parse.seconds * 1000)],
      ['  of which tree-sitter parse', fmtMs(parse.parseSeconds * 1000)],
      ['cold index, lexical only (CLI)', fmtMs(coldLexical.seconds * 1000)],
      ['lexical cold / parse-only', `${coldRatio.toFixed(2)}x`, `<= ${TARGETS.coldRatio}x`, passOf('cold index / parse-only')],
      ['cold index, default embeddings (CLI)', fmtMs(cold.seconds * 1000)],
      ['with embeddings / lexical only', `${embeddingsRatio.toFixed(2)}x`, `<= ${TARGETS.embeddingsRatio}x`, passOf('cold with embeddings / lexical-only')],
      [`static model: train (${fmtInt(embedding.vocabulary)} tokens, ${embedding.dims} dims)`, fmtMs(embedding.trainSeconds * 1000)],
      ['static model: embed every chunk', `${fmtMs(embedding.embedSeconds * 1000)}, ${fmtInt(Math.round(embedding.chunksPerSecond))} chunks/s`],
      ...fleet.map((f): Row => [`http embedder, ${f.servers} server${f.servers > 1 ? 's' : ''}${f.batchMs ? `, ${f.batchMs} ms/batch, ${fmtInt(f.chunks)} chunks` : ''}`, `${fmtMs(f.seconds * 1000)}, ${fmtInt(Math.round(f.chunksPerSecond))} chunks/s`]),
      ['no-change re-index', fmtMs(noChange.seconds * 1000), `<= ${TARGETS.noChangeSeconds} s`, passOf('no-change re-index seconds')],
      ['one-file change re-index', fmtMs(change.touched.seconds * 1000)],
      ['re-index after restore', fmtMs(change.back.seconds * 1000)],
    ]);
    report += `  (one-file change: ${TOUCH_LINE} appended to ${touchFile.path}, ${fmtInt(touchFile.size)} bytes, then restored)\n`;
    report += '\n';
    const searchRows: Row[] = [
      [`in-process lexical p50 (${inProc.length} runs)`, fmtMs(p50), `<= ${TARGETS.searchP50Ms} ms`, passOf('in-process search p50 ms')],
      ['in-process lexical p95', fmtMs(p95), `<= ${TARGETS.searchP95Ms} ms`, passOf('in-process search p95 ms')],
      ['in-process vector p50 / p95', `${fmtMs(percentile(byMode.vector, 50))} / ${fmtMs(percentile(byMode.vector, 95))}`],
      ['in-process hybrid p50', fmtMs(percentile(byMode.hybrid, 50))],
      ['in-process hybrid p95', fmtMs(hybridP95), `<= ${TARGETS.hybridP95Ms} ms`, passOf('in-process hybrid search p95 ms')],
      ['in-process hybrid, resident (serve, mcp) p50 / p95', `${fmtMs(percentile(residentHybrid, 50))} / ${fmtMs(percentile(residentHybrid, 95))}`],
      [`CLI p50 (${viaCli.length} processes)`, fmtMs(percentile(viaCli, 50))],
      ['CLI p95', fmtMs(percentile(viaCli, 95))],
    ];
    if (rg) {
      searchRows.push(
        [`ripgrep p50 (${rg.length} queries)`, fmtMs(rgP50)],
        ['ripgrep p95', fmtMs(percentile(rgMs, 95))],
        ['ripgrep lines printed, median', fmtInt(percentile(rg.map((r) => r.lines), 50))],
        ['in-process p50 / ripgrep p50', `${(p50 / rgP50).toFixed(3)}x`],
      );
    } else {
      searchRows.push(['ripgrep', 'not installed: apt-get install ripgrep']);
    }
    report += table('search', searchRows);
    report += '\n';
    const httpRow = (route: string, run: typeof http.search, name: string, limit: number): Row[] => [
      [`${route} p50 / p99 (${run.samples.length} requests, ${HTTP_CLIENTS} clients)`, `${fmtMs(percentile(run.samples, 50))} / ${fmtMs(percentile(run.samples, 99))}`],
      [`${route} p95`, fmtMs(percentile(run.samples, 95)), `<= ${limit} ms`, passOf(name)],
      [`${route} throughput`, `${run.perSecond.toFixed(1)} req/s${run.failures ? `, ${run.failures} non-200` : ''}`],
    ];
    report += table('http (codesearch serve)', [
      ...httpRow('/v1/search', http.search, 'http /v1/search p95 ms, 8 clients', TARGETS.httpSearchP95Ms),
      ...httpRow('/v1/context', http.context, 'http /v1/context p95 ms, 8 clients', TARGETS.httpContextP95Ms),
      ['server RSS now / peak', `${fmtBytes(http.rss.rss)} / ${fmtBytes(http.rss.peak)}`, `<= ${fmtBytes(TARGETS.serverRssBytes)}`, passOf('server peak RSS bytes')],
    ]);
    report += '\n';
    report += table('live index (codesearch serve --watch)', [
      [`save → searchable p50 (${freshness.length} edits)`, fmtMs(percentile(freshness, 50))],
      ['save → searchable p95', fmtMs(freshnessP95), `<= ${TARGETS.watchFreshnessP95Ms} ms`, passOf('watch save → searchable p95 ms')],
      ['save → searchable max', fmtMs(Math.max(...freshness))],
    ]);
    report += '\n';
    report += table('memory and size', [
      ['cold index peak RSS (with embeddings)', cold.peakRssBytes === undefined ? 'n/a' : fmtBytes(cold.peakRssBytes), `<= ${fmtBytes(TARGETS.peakRssBytes)}`, passOf('cold index peak RSS bytes')],
      ['cold index peak RSS (lexical only)', coldLexical.peakRssBytes === undefined ? 'n/a' : fmtBytes(coldLexical.peakRssBytes)],
      ['bench process peak RSS', fmtBytes(benchRss)],
      ['index on disk (du)', fmtBytes(usage.allocated)],
      ['corpus .ml/.mli bytes', fmtBytes(parse.bytes)],
      ['index / corpus', `${(usage.allocated / parse.bytes).toFixed(2)}x`],
    ]);
    report += `\nRSS measured with ${rssMethod}; index ${db}${tempDir ? ' (temporary, deleted)' : ''}.\n`;
    const failed = targets.filter((t) => !t.pass).map((t) => t.name);
    report += failed.length === 0 ? 'all targets met\n' : `targets missed: ${failed.join('; ')}\n`;

    if (values.json) {
      process.stderr.write('\n' + report);
      const json = {
        machine,
        corpus: { dir: corpus, files: sources.length, mlFiles, mliFiles: sources.length - mlFiles, skippedByWalker: walked.skipped.length, lines: parse.lines, bytes: parse.bytes },
        walkSeconds: round(walkSeconds),
        parseOnly: { threads: 1, seconds: round(parse.seconds), readSeconds: round(parse.readSeconds), parseSeconds: round(parse.parseSeconds) },
        coldIndexLexical: { seconds: round(coldLexical.seconds), ratioToParseOnly: round(coldRatio), peakRssBytes: coldLexical.peakRssBytes ?? null, summary: coldLexical.summary },
        coldIndex: { seconds: round(cold.seconds), ratioToLexical: round(embeddingsRatio), peakRssBytes: cold.peakRssBytes ?? null, summary: cold.summary },
        staticModel: { ...embedding, trainSeconds: round(embedding.trainSeconds), embedSeconds: round(embedding.embedSeconds), chunksPerSecond: Math.round(embedding.chunksPerSecond) },
        embeddingFleet: fleet.map((f) => ({ ...f, seconds: round(f.seconds), chunksPerSecond: Math.round(f.chunksPerSecond) })),
        noChangeReindex: { seconds: round(noChange.seconds), summary: noChange.summary },
        oneFileChange: { file: touchFile.path, fileBytes: touchFile.size, seconds: round(change.touched.seconds), summary: change.touched.summary, restoreSeconds: round(change.back.seconds) },
        search: {
          inProcess: Object.fromEntries(SEARCH_MODES.map((m) => [m, { queries: queries.length, passes: SEARCH_PASSES, runs: byMode[m].length, p50Ms: round(percentile(byMode[m], 50)), p95Ms: round(percentile(byMode[m], 95)), meanMs: round(mean(byMode[m])) }])),
          inProcessResidentHybrid: { queries: queries.length, passes: SEARCH_PASSES, runs: residentHybrid.length, p50Ms: round(percentile(residentHybrid, 50)), p95Ms: round(percentile(residentHybrid, 95)), meanMs: round(mean(residentHybrid)) },
          cli: { queries: viaCli.length, p50Ms: round(percentile(viaCli, 50)), p95Ms: round(percentile(viaCli, 95)), meanMs: round(mean(viaCli)) },
        },
        ripgrep: rg
          ? { available: true, queries: rg.length, p50Ms: round(rgP50), p95Ms: round(percentile(rgMs, 95)), inProcessP50OverRgP50: round(p50 / rgP50), runs: rg.map((r) => ({ query: r.query, words: r.words, ms: round(r.ms), lines: r.lines })) }
          : { available: false, note: 'rg not installed: apt-get install ripgrep' },
        http: Object.fromEntries(
          (['search', 'context'] as const).map((k) => [k, { clients: HTTP_CLIENTS, requests: http[k].samples.length, failures: http[k].failures, perSecond: round(http[k].perSecond), p50Ms: round(percentile(http[k].samples, 50)), p95Ms: round(percentile(http[k].samples, 95)), p99Ms: round(percentile(http[k].samples, 99)) }]),
        ),
        serverRssBytes: http.rss,
        watch: { edits: freshness.length, p50Ms: round(percentile(freshness, 50)), p95Ms: round(freshnessP95), maxMs: round(Math.max(...freshness)) },
        memory: { coldIndexPeakRssBytes: cold.peakRssBytes ?? null, benchPeakRssBytes: benchRss, method: rssMethod },
        index: { db, kept: !tempDir, diskBytes: usage.allocated, apparentBytes: usage.apparent, ratioToCorpus: round(usage.allocated / parse.bytes) },
        targets,
      };
      process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    } else {
      process.stdout.write(report);
    }
  } finally {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
