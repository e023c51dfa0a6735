// `npm run trials -- s3 [--corpus DIR] [--shards 1,2,3] [--seconds 30] [--seed N]`: one index of
// the corpus shared through a real S3 gateway (Ceph radosgw on 127.0.0.1, bench/s3/radosgw.sh):
//  1. sharded builds with 1, 2, 3 concurrent indexer processes + --finalize, each compared chunk
//     by chunk with a one-process local index (0 lost, 0 extra, 0 different);
//  2. a shard killed with SIGKILL mid-run, re-run, finalized: again equal to the local index;
//  3. query latency from S3 against local disk, one replica each, same load;
//  4. two replicas answering while a fourth process applies incremental updates: 0 errors, each
//     update visible on both replicas, RSS reported.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { IndexStore } from '../../indexer/store.js';
import { seededUniform } from '../../indexer/embed/linalg.js';
import { percentile } from '../../server/percentile.js';
import { rssOf, runTimed, startServer, type RunningServer, type Timed } from '../measure.js';
import { CLI_MAIN, copyTree, devQueries } from './cli.js';
import { startGateway, stopGateway } from '../s3/gateway.js';
import type { Trial } from './trial.js';

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const cli = (args: string[], opts: { rss?: boolean; onSpawn?: (pid: number) => void } = {}) => runTimed(process.execPath, [CLI_MAIN, ...args], opts);

function ok(run: Timed, what: string): Timed {
  if (run.code !== 0) throw new Error(`${what} failed (${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return run;
}

/** Every chunk's content hash by id, and the ids with a vector. */
async function contents(db: string): Promise<{ chunks: Map<string, string>; vectors: Set<string> }> {
  const store = await IndexStore.openForSearch(db);
  try {
    return { chunks: await store.chunkContentHashes(), vectors: new Set((await store.vectorHashes()).keys()) };
  } finally {
    store.close();
  }
}

interface Comparison {
  lost: number;
  extra: number;
  different: number;
  missingVectors: number;
}

function compare(got: Awaited<ReturnType<typeof contents>>, want: Awaited<ReturnType<typeof contents>>): Comparison {
  let lost = 0;
  let different = 0;
  for (const [id, hash] of want.chunks) {
    const h = got.chunks.get(id);
    if (h === undefined) lost++;
    else if (h !== hash) different++;
  }
  const extra = [...got.chunks.keys()].filter((id) => !want.chunks.has(id)).length;
  const missingVectors = [...got.chunks.keys()].filter((id) => !got.vectors.has(id)).length;
  return { lost, extra, different, missingVectors };
}

const clean = (c: Comparison) => c.lost + c.extra + c.different + c.missingVectors === 0;
const fmt = (c: Comparison) => `${c.lost} lost, ${c.extra} extra, ${c.different} different, ${c.missingVectors} without a vector`;
const secondsOf = (summary: string) => Number(/, ([\d.]+)s\s*$/.exec(summary.trim())?.[1] ?? NaN);
const filesOf = (summary: string) => Number(/^indexed (\d+) files/.exec(summary)?.[1] ?? NaN);

interface ShardRound {
  processes: number;
  wallSeconds: number;
  finalizeSeconds: number;
  /** Per shard: files, its own seconds, peak RSS. */
  shards: { files: number; seconds: number; peakRss: number }[];
  finalizePeakRss: number;
  comparison: Comparison;
}

async function shardRound(root: string, db: string, processes: number, reference: Awaited<ReturnType<typeof contents>>): Promise<ShardRound> {
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: processes }, (_, i) => cli(['index', root, '--db', db, '--shard', `${i + 1}/${processes}`, '-q'], { rss: true })));
  const wallSeconds = (performance.now() - t0) / 1000;
  runs.forEach((r, i) => ok(r, `shard ${i + 1}/${processes}`));
  const fin = ok(await cli(['index', '--finalize', '--db', db, '-q'], { rss: true }), 'finalize');
  return {
    processes,
    wallSeconds,
    finalizeSeconds: fin.ms / 1000,
    shards: runs.map((r) => ({ files: filesOf(r.stdout), seconds: secondsOf(r.stdout), peakRss: r.peakRss ?? NaN })),
    finalizePeakRss: fin.peakRss ?? NaN,
    comparison: compare(await contents(db), reference),
  };
}

/** `clients` clients sending `/v1/search` for `seconds` to the replicas, round-robin. */
async function queryLoad(urls: string[], queries: string[], clients: number, seconds: number) {
  const samples: number[] = [];
  const errors: string[] = [];
  const deadline = performance.now() + seconds * 1000;
  let n = 0;
  const client = async () => {
    while (performance.now() < deadline) {
      const i = n++;
      const t0 = performance.now();
      try {
        const r = await fetch(`${urls[i % urls.length]}/v1/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: queries[i % queries.length], k: 10 }) });
        await r.text();
        if (r.status === 200) samples.push(performance.now() - t0);
        else errors.push(`HTTP ${r.status}`);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { requests: samples.length + errors.length, errors, p50: percentile(samples, 50), p95: percentile(samples, 95), perSecond: samples.length / seconds };
}

/** Appends a new definition to a file, re-indexes (a whole-index run, as a developer's machine would) and times until every replica finds it. */
async function applyUpdates(root: string, db: string, replicas: RunningServer[], files: string[], until: number) {
  const visible: number[] = [];
  const indexMs: number[] = [];
  let lost = 0;
  for (let i = 0; performance.now() < until; i++) {
    const name = `s3_trial_update_${i}`;
    const abs = join(root, files[i % files.length]!);
    writeFileSync(abs, `${readFileSync(abs, 'utf8')}\nlet ${name} = ${i}\n`);
    const run = ok(await cli(['index', root, '--db', db, '-q']), 'incremental update');
    indexMs.push(run.ms);
    const t0 = performance.now();
    const pending = new Set(replicas.map((r) => r.url));
    while (pending.size > 0 && performance.now() - t0 < 30_000) {
      for (const url of [...pending]) {
        const found = ((await (await fetch(`${url}/v1/symbols?q=${name}`)).json()) as { results?: { name: string }[] }).results?.some((x) => x.name === name);
        if (found) pending.delete(url);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 100));
    }
    if (pending.size > 0) lost++;
    visible.push(performance.now() - t0);
  }
  return { updates: visible.length, lost, indexMs, visibleMs: visible };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const ms = (x: number) => `${x.toFixed(0)} ms`;

const s3: Trial = {
  description: 'sharded indexers, a killed shard, and serving replicas on one index in a real S3 gateway (radosgw)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { corpus: { type: 'string' }, shards: { type: 'string', default: '1,2,3' }, seconds: { type: 'string', default: '30' }, seed: { type: 'string', default: '1' } },
    });
    const source = resolve(values.corpus ?? process.env.CODESEARCH_CORPUS ?? '../corpus');
    const seconds = Number(values.seconds);
    const work = join(tmpdir(), `codesearch-s3-${process.pid}`);
    const root = join(work, 'tree');
    const gateway = join(work, 'rgw');
    mkdirSync(work, { recursive: true });
    let passed = true;
    const check = (good: boolean, line: string) => {
      passed &&= good;
      log(`${good ? 'ok  ' : 'FAIL'} ${line}`);
    };
    try {
      copyTree(source, root);
      const bucket = await startGateway(gateway);
      log(`s3: radosgw at ${process.env.AWS_ENDPOINT}, bucket ${bucket}; corpus ${source}`);

      // The reference: one process, local disk.
      const localDb = join(work, 'local');
      const local = ok(await cli(['index', root, '--db', localDb, '-q'], { rss: true }), 'local index');
      const reference = await contents(localDb);
      log(`local index, one process: ${(local.ms / 1000).toFixed(1)} s, ${reference.chunks.size} chunks, peak RSS ${mb(local.peakRss ?? NaN)}`);

      // 1. Sharded builds.
      const rounds: ShardRound[] = [];
      for (const n of values.shards!.split(',').map(Number)) {
        const round = await shardRound(root, `s3://${bucket}/shards-${n}`, n, reference);
        rounds.push(round);
        check(
          clean(round.comparison),
          `${n} shard process(es) → s3: shards ${round.wallSeconds.toFixed(1)} s + finalize ${round.finalizeSeconds.toFixed(1)} s; ` +
            `files per shard ${round.shards.map((s) => s.files).join('/')}, shard times ${round.shards.map((s) => `${s.seconds}s`).join('/')}, ` +
            `peak RSS ${round.shards.map((s) => mb(s.peakRss)).join('/')} (finalize ${mb(round.finalizePeakRss)}); ${fmt(round.comparison)}`,
        );
      }
      const one = rounds.find((r) => r.processes === 1);
      if (one) {
        const filesPerSecond = one.shards[0]!.files / one.shards[0]!.seconds;
        log(
          `scaling: one shard process indexes ${filesPerSecond.toFixed(0)} files/s (${one.shards[0]!.seconds} s for ${one.shards[0]!.files} files); on N machines a build takes ` +
            `about ${one.shards[0]!.seconds.toFixed(1)}/N s of shards + ${one.finalizeSeconds.toFixed(1)} s of finalize (embedding and index building, one process)`,
        );
      }

      // 2. A shard killed mid-run, then run again.
      const rand = seededUniform(Number(values.seed));
      const killAfterMs = 2000 + rand() * 6000;
      const killedDb = `s3://${bucket}/killed`;
      let victim = 0;
      const started = [1, 2, 3].map((i) => cli(['index', root, '--db', killedDb, '--shard', `${i}/3`, '-q'], i === 2 ? { onSpawn: (pid) => (victim = pid) } : {}));
      await new Promise((r) => setTimeout(r, killAfterMs));
      if (victim) process.kill(victim, 'SIGKILL');
      const killedRuns = await Promise.all(started);
      const killed = killedRuns[1]!.code !== 0;
      ok(killedRuns[0]!, 'shard 1/3');
      ok(killedRuns[2]!, 'shard 3/3');
      ok(await cli(['index', root, '--db', killedDb, '--shard', '2/3', '-q']), 'shard 2/3 re-run');
      ok(await cli(['index', '--finalize', '--db', killedDb, '-q']), 'finalize after the kill');
      const afterKill = compare(await contents(killedDb), reference);
      check(clean(afterKill), `shard 2/3 ${killed ? `killed (SIGKILL) after ${(killAfterMs / 1000).toFixed(1)} s` : 'finished before the kill'}, re-run, finalized: ${fmt(afterKill)}`);

      // 3. Query latency: S3 against local disk, one replica each under the same load.
      const queries = devQueries();
      const servedDb = `s3://${bucket}/shards-${rounds[rounds.length - 1]?.processes ?? 1}`;
      const latency: Record<string, Awaited<ReturnType<typeof queryLoad>> & { rss: number }> = {};
      for (const [label, db] of [['local disk', localDb], ['s3', servedDb]] as const) {
        const server = await startServer(['--db', db]);
        try {
          await queryLoad([server.url], queries, 4, 3); // warm-up
          latency[label] = { ...(await queryLoad([server.url], queries, 4, seconds / 2)), rss: rssOf(server.pid).rss };
        } finally {
          await server.stop();
        }
        const l = latency[label]!;
        check(l.errors.length === 0, `queries from ${label}, 1 replica, 4 clients: ${l.requests} requests, ${l.errors.length} errors, p50 ${ms(l.p50)}, p95 ${ms(l.p95)}, ${l.perSecond.toFixed(1)}/s, RSS ${mb(l.rss)}`);
      }

      // 4. Two replicas answering while a fourth process updates the index.
      const replicas = [await startServer(['--db', servedDb, '--refresh', '1000']), await startServer(['--db', servedDb, '--refresh', '1000'])];
      try {
        const rssStart = replicas.map((r) => rssOf(r.pid).rss);
        const until = performance.now() + seconds * 1000;
        const editFiles = ['ocaml/stdlib/list.ml', 'base/string.ml', 'lwt/lwt_list.ml'].filter((f) => existsSync(join(root, f)));
        const [answers, updates] = await Promise.all([queryLoad(replicas.map((r) => r.url), queries, 4, seconds), applyUpdates(root, servedDb, replicas, editFiles.length ? editFiles : ['ocaml/stdlib/list.ml'], until)]);
        const rssEnd = replicas.map((r) => rssOf(r.pid).rss);
        check(answers.errors.length === 0, `2 s3 replicas, 4 clients, ${seconds} s, while updating: ${answers.requests} requests, ${answers.errors.length} errors${answers.errors.length ? ` (${[...new Set(answers.errors)].slice(0, 3).join('; ')})` : ''}, p50 ${ms(answers.p50)}, p95 ${ms(answers.p95)}`);
        check(
          updates.updates > 0 && updates.lost === 0,
          `${updates.updates} incremental updates from a fourth process (index run p50 ${ms(percentile(updates.indexMs, 50))}): visible on both replicas p50 ${ms(percentile(updates.visibleMs, 50))}, max ${ms(Math.max(0, ...updates.visibleMs))}, ${updates.lost} never seen`,
        );
        log(`replica RSS: ${rssStart.map(mb).join(', ')} at start → ${rssEnd.map(mb).join(', ')} at end`);
      } finally {
        await Promise.all(replicas.map((r) => r.stop()));
      }
      log(`s3: ${passed ? 'passed' : 'FAILED'}`);
      return passed;
    } finally {
      stopGateway(gateway);
      rmSync(work, { recursive: true, force: true });
    }
  },
};

export default s3;
