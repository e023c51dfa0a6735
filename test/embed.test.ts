// Embeddings with the real parts: the static model learnt from a fixture repo, its ONNX export
// loaded by transformers.js, an OpenAI-compatible HTTP server on 127.0.0.1, LanceDB in temp dirs.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as lancedb from '@lancedb/lancedb';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { finalizeIndex, indexRepo } from '../indexer/pipeline.js';
import { watchIndex } from '../indexer/watch.js';
import { IndexStore } from '../indexer/store.js';
import { trainStaticModel } from '../indexer/embed/static-model.js';
import { seededUniform } from '../indexer/embed/linalg.js';
import { StaticEmbedder, StoredStaticEmbedder } from '../indexer/embed/static.js';
import { exportStaticModel } from '../indexer/embed/onnx-export.js';
import { TransformersEmbedder } from '../indexer/embed/transformers.js';
import { HttpEmbedder } from '../indexer/embed/http.js';
import { EmbedderError, EmbedderUnavailableError, type EmbedInput } from '../indexer/embed/embedder.js';
import { Searcher, SearchModeError } from '../server/search.js';
import { ContextBuilder } from '../server/context/build.js';
import { buildApp } from '../server/http/app.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { childEnv, cleanupTempDirs, CLI_MAIN, copyFixture, generatedDefinitions, indexContents, makeTempDir, runCli, writeFiles } from './helpers.js';

afterAll(() => cleanupTempDirs());

const newDb = () => path.join(makeTempDir('cs-db-'), 'index');

async function loadModel(db: string) {
  const store = await IndexStore.openForSearch(db);
  try {
    return (await store.loadStaticModel((await store.getMeta('embedder_id'))!))!;
  } finally {
    store.close();
  }
}

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('static embedder: learnt from the corpus', () => {
  let root: string;
  let db: string;
  beforeAll(async () => {
    root = copyFixture('netkit');
    db = newDb();
    const summary = await indexRepo({ root, db });
    expect(summary.embedder).toMatch(/^static-/);
    expect(summary.embedded).toBe(summary.chunks);
  });

  it('learns identical weights from the same tree (deterministic)', async () => {
    const again = newDb();
    const [a, b] = await Promise.all([indexRepo({ root, db: again }), loadModel(db)]);
    const c = await loadModel(again);
    expect(a.embedder).toBe(b.id);
    expect(c.vocabulary).toEqual(b.vocabulary);
    expect(Array.from(c.vectors)).toEqual(Array.from(b.vectors));
  });

  it('puts words that occur in the same definitions near each other', async () => {
    const model = await loadModel(db);
    expect(model.neighbours('socket', 5)).toEqual(expect.arrayContaining(['connect']));
    const table = model.neighbours('hashtbl', 6);
    expect(table).toContain('tabl');
    expect(table.some((w) => w === 'key' || w === 'kei')).toBe(true);
    expect(model.neighbours('sleep', 6)).toEqual(expect.arrayContaining(['paus']));
    expect(model.neighbours('split', 6)).not.toContain('socket');
  });

  it('finds definitions by meaning in vector mode: "wait a few seconds" → sleep_seconds', async () => {
    const searcher = await Searcher.open(db);
    try {
      const [first] = await searcher.search('wait a few seconds', { mode: 'vector', k: 2 });
      expect(first?.symbol).toBe('Netkit.Conn.sleep_seconds');
      expect(first!.score).toBeGreaterThan(0);
      // Its declaration is folded into the same result.
      expect(first?.counterpart).toEqual({ path: first!.path.endsWith('.ml') ? 'src/conn.mli' : 'src/conn.ml', startLine: expect.any(Number), endLine: expect.any(Number) });
      // No definition says "hashtable"; the question's code terms (`hashtbl`, `tbl`) lead to the table.
      expect((await searcher.search('hashtable', { mode: 'vector', k: 1 }))[0]?.path).toMatch(/^src\/table\.mli?$/);
      // A symbol lookup stays exact in hybrid mode.
      expect((await searcher.search('find_opt', { mode: 'hybrid' }))[0]?.symbol).toBe('Netkit.Table.find_opt');
    } finally {
      searcher.close();
    }
  });

  it('embeds a query or a definition from its own tokens\' rows exactly as from the whole model', async () => {
    const full = new StaticEmbedder(await loadModel(db));
    const store = await IndexStore.openForSearch(db);
    try {
      const partial = new StoredStaticEmbedder(store, full.id);
      expect(partial.dims).toBe(full.dims);
      for (const q of ['open a socket to a host', 'find a key in the table', 'zzqx']) {
        expect(Array.from(await partial.embedQuery(q))).toEqual(Array.from(await full.embedQuery(q)));
      }
      // Definitions too (an incremental run embeds its few changed chunks this way).
      const inputs = [];
      for await (const batch of store.embedInputs({ text: false })) inputs.push(...batch);
      expect(inputs.length).toBeGreaterThan(3);
      const mine = await new StoredStaticEmbedder(store, full.id).embedDocuments(inputs.slice(0, 3));
      expect(mine.map((v) => Array.from(v))).toEqual((await full.embedDocuments(inputs.slice(0, 3))).map((v) => Array.from(v)));
    } finally {
      store.close();
    }
  });

  it("embeds a question's code terms with its words: a word the corpus never uses still points somewhere", async () => {
    const store = await IndexStore.openForSearch(db);
    try {
      const model = await loadModel(db);
      for (const embedder of [new StaticEmbedder(model), new StoredStaticEmbedder(store, model.id)]) {
        expect((await embedder.embedQuery('zzqx')).every((x) => x === 0)).toBe(true);
        const bridged = await embedder.embedQuery('zzqx', ['sleep']);
        expect(Array.from(bridged)).toEqual(Array.from(await embedder.embedQuery('sleep')));
      }
    } finally {
      store.close();
    }
  });

  it('gives a text of unknown words a zero vector, never NaN', async () => {
    const embedder = new StaticEmbedder(await loadModel(db));
    const v = await embedder.embedQuery('zzqx wwvy');
    expect(v.every((x) => x === 0)).toBe(true);
    expect(await trainStaticModel([{ name: '', doc: '', body: '' }])).toBeUndefined();
  });

  it('re-embeds only changed chunks, keeps the model while the corpus has not drifted, and re-learns on --retrain', async () => {
    const big = copyFixture('netkit');
    // Twenty more files: one edited file is then under the 10% drift that re-learns the model.
    writeFiles(big, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`src/gen_${i}.ml`, generatedDefinitions(3, `g${i}`)])));
    const bigDb = newDb();
    const first = await indexRepo({ root: big, db: bigDb });
    expect(await indexRepo({ root: big, db: bigDb })).toMatchObject({ embedded: 0, embedder: first.embedder });

    const file = path.join(big, 'src/text.ml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('Cut a string in two', 'Cut a string in two pieces'));
    expect(await indexRepo({ root: big, db: bigDb })).toMatchObject({ changed: 1, embedded: 1, embedder: first.embedder });

    const retrained = await indexRepo({ root: big, db: bigDb, retrain: true });
    expect(retrained.embedder).not.toBe(first.embedder);
    expect(retrained.embedded).toBe(retrained.chunks);

    // A run compares only the files it rewrote; vectors of a deleted file go, a new file's come.
    fs.rmSync(path.join(big, 'src/gen_0.ml'));
    fs.writeFileSync(path.join(big, 'src/gen_new.ml'), generatedDefinitions(2, 'n'));
    const edited = await indexRepo({ root: big, db: bigDb });
    expect(edited).toMatchObject({ added: 1, removed: 1, embedded: 2, embedder: retrained.embedder });
    const store = await IndexStore.openForSearch(bigDb);
    try {
      expect([...(await store.vectorHashes()).keys()].sort()).toEqual([...(await store.chunkContentHashes()).keys()].sort());
    } finally {
      store.close();
    }
  });

  it('learns the model again, and re-embeds everything, when an older recipe learnt the stored one', async () => {
    const root2 = copyFixture('netkit');
    const db2 = newDb();
    const first = await indexRepo({ root: root2, db: db2 });
    expect(first.embedder).toMatch(/^static-r\d+-96d-/);
    // As an index of the previous recipe names its model (its weights are learnt some other way).
    const store = await IndexStore.open(db2);
    try {
      await store.setMeta({ embedder_id: first.embedder!.replace(/^static-r\d+-/, 'static-') });
    } finally {
      store.close();
    }
    const next = await indexRepo({ root: root2, db: db2 });
    expect(next).toMatchObject({ changed: 0, embedder: first.embedder, embedded: first.chunks });
    // And keeps it from then on.
    expect(await indexRepo({ root: root2, db: db2 })).toMatchObject({ embedded: 0, embedder: first.embedder });
  });

  it('indexes without vectors with embedder null, and vector mode then says why it cannot answer', async () => {
    const plain = newDb();
    const summary = await indexRepo({ root, db: plain, embedder: null });
    expect(summary).toMatchObject({ embedded: 0, embedder: '' });
    const searcher = await Searcher.open(plain);
    try {
      await expect(searcher.search('wait a few seconds', { mode: 'vector' })).rejects.toThrow(SearchModeError);
      // Hybrid quietly means lexical here.
      expect(await searcher.search('sleep_seconds', { mode: 'hybrid' })).toEqual(await searcher.search('sleep_seconds', { mode: 'lexical' }));
    } finally {
      searcher.close();
    }
  });
});

describe('vector index: LanceDB ANN over a large embedding table', () => {
  it('is IVF with 4-bit RaBitQ vectors, replaces an IVF_FLAT index of earlier versions, and finds the nearest', async () => {
    const db = newDb();
    const dims = 16;
    const uniform = seededUniform(7);
    const random = () => uniform() * 2 - 1;
    const rows = Array.from({ length: 20_000 }, (_, i) => {
      const v = Float32Array.from({ length: dims }, random);
      const norm = Math.hypot(...v);
      return { id: `c${i}`, hash: `h${i}`, vector: v.map((x) => x / norm) };
    });
    const written = await IndexStore.open(db);
    await written.useEmbedder('test-16d-ann');
    await written.writeVectors(rows, { append: true });
    written.close();
    // The index an earlier version built.
    const lance = await lancedb.connect(db);
    const tableName = (await lance.tableNames()).find((n) => n.startsWith('vectors-'))!;
    await (await lance.openTable(tableName)).createIndex('vector', { config: lancedb.Index.ivfFlat({ numPartitions: 16, distanceType: 'cosine' }) });
    const store = await IndexStore.open(db);
    try {
      await store.useEmbedder('test-16d-ann');
      await store.finalize({ fresh: true });
      const indices = await (await lance.openTable(tableName)).listIndices();
      expect(indices.map((i) => [i.indexType, i.indexDetails?.compression?.num_bits])).toEqual([['IvfRq', 4]]);
      // 4 bits a dimension: close enough that a vector's nearest is itself and most of the
      // nearest 50 are the exact 50. IVF's k-means starts at random: 39 to 47 of 50 over 61
      // builds (2026-12-03), so the bound leaves room below the worst seen.
      for (const i of [3, 4_321, 19_999]) {
        const hits = await store.nearest(rows[i]!.vector, 50);
        expect(hits[0]).toMatchObject({ id: `c${i}` });
        expect(hits[0]!.similarity).toBeCloseTo(1, 1);
        const cosine = (v: Float32Array) => v.reduce((sum, x, d) => sum + x * rows[i]!.vector[d]!, 0);
        const exact = new Set(rows.map((r) => ({ id: r.id, similarity: cosine(r.vector) })).sort((a, b) => b.similarity - a.similarity).slice(0, 50).map((r) => r.id));
        expect(hits.filter((h) => exact.has(h.id)).length).toBeGreaterThanOrEqual(35);
      }
    } finally {
      store.close();
    }
  });
});

function input(id: string, text: string): EmbedInput {
  return { id, nameTokens: '', docTokens: '', bodyTokens: '', symbol: `M.${id}`, kind: 'value', doc: '', text };
}

describe('transformers embedder: a local ONNX model through transformers.js', () => {
  let modelDir: string;
  let root: string;
  let staticDb: string;
  beforeAll(async () => {
    root = copyFixture('netkit');
    staticDb = newDb();
    await indexRepo({ root, db: staticDb });
    // The model this suite loads is generated here: the fixture's static model, exported.
    modelDir = path.join(makeTempDir('cs-model-'), 'netkit-static');
    exportStaticModel(await loadModel(staticDb), modelDir);
  });

  it('loads offline, and embeds a query as the static model does', async () => {
    const embedder = await TransformersEmbedder.load({ name: 'transformers', model: modelDir });
    try {
      const staticEmbedder = new StaticEmbedder(await loadModel(staticDb));
      expect(embedder.dims).toBe(staticEmbedder.dims);
      expect(embedder.id).toMatch(/^transformers-netkit-static-fp32-\d+d-/);
      const q = 'connect socket host port';
      const a = await embedder.embedQuery(q);
      expect(a).toHaveLength(embedder.dims);
      expect(cosine(a, await staticEmbedder.embedQuery(q))).toBeGreaterThan(0.99);
      expect(Array.from(await embedder.embedQuery(q))).toEqual(Array.from(a));
      // Unknown words pool to zero: zeros come back, not NaN.
      expect((await embedder.embedQuery('%%%')).every((x) => x === 0)).toBe(true);
    } finally {
      await embedder.close();
    }
  });

  it('gives the same vectors whatever the batch size, each for its own text', async () => {
    // Lengths out of order: batches are made of texts of about the same length.
    const texts = Array.from({ length: 11 }, (_, i) => input(`v${i}`, `let f${i} socket = connect socket ${'table '.repeat((i * 7) % 11)}`));
    const small = await TransformersEmbedder.load({ name: 'transformers', model: modelDir, batchSize: 3 });
    const large = await TransformersEmbedder.load({ name: 'transformers', model: modelDir, batchSize: 64 });
    try {
      const [a, b] = [await small.embedDocuments(texts), await large.embedDocuments(texts)];
      expect(a).toHaveLength(11);
      a.forEach((v, i) => expect(cosine(v, b[i]!)).toBeCloseTo(1, 5));
      for (const i of [0, 4, 10]) expect(cosine(a[i]!, (await large.embedDocuments([texts[i]!]))[0]!)).toBeCloseTo(1, 5);
      expect(cosine(a[0]!, a[10]!)).toBeLessThan(0.999);
    } finally {
      await Promise.all([small.close(), large.close()]);
    }
  });

  it('indexes and searches with it end to end', async () => {
    const db = newDb();
    const summary = await indexRepo({ root, db, embedder: { name: 'transformers', model: modelDir } });
    expect(summary.embedder).toMatch(/^transformers-/);
    expect(summary.embedded).toBe(summary.chunks);
    const searcher = await Searcher.open(db);
    try {
      const [first] = await searcher.search('connect a socket to a host', { mode: 'vector' });
      expect(first?.name).toBe('connect');
    } finally {
      searcher.close();
    }
  });

  it('puts the query and document prefixes before the texts it embeds', async () => {
    const plain = await TransformersEmbedder.load({ name: 'transformers', model: modelDir });
    const prefixed = await TransformersEmbedder.load({ name: 'transformers', model: modelDir, queryPrefix: 'socket ', documentPrefix: 'host ' });
    try {
      const q = 'connect port';
      expect(Array.from(await prefixed.embedQuery(q))).toEqual(Array.from(await plain.embedQuery(`socket ${q}`)));
      const doc = input('a', 'let connect fd = ()');
      expect(Array.from((await prefixed.embedDocuments([doc]))[0]!)).not.toEqual(Array.from((await plain.embedDocuments([doc]))[0]!));
      // Another document prefix makes other vectors: another model id, so they are all made again.
      expect(prefixed.id).not.toBe(plain.id);
    } finally {
      await Promise.all([plain.close(), prefixed.close()]);
    }
  });

  it('pools as the model says: the last token (padding on the left, whatever the batch), and refuses a mode it cannot do', async () => {
    const withPooling = (name: string, config: object) => {
      const dir = path.join(makeTempDir('cs-model-'), name);
      fs.cpSync(modelDir, dir, { recursive: true });
      fs.mkdirSync(path.join(dir, '1_Pooling'));
      fs.writeFileSync(path.join(dir, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: 96, ...config }));
      return dir;
    };
    const plain = await TransformersEmbedder.load({ name: 'transformers', model: modelDir });
    const last = await TransformersEmbedder.load({ name: 'transformers', model: withPooling('last-token', { pooling_mode_lasttoken: true }), batchSize: 8 });
    const lastAlone = await TransformersEmbedder.load({ name: 'transformers', model: withPooling('last-token-1', { pooling_mode_lasttoken: true }), batchSize: 1 });
    try {
      // The vector of the last token alone, not the mean of all three.
      const v = await last.embedQuery('connect socket host');
      expect(cosine(v, await plain.embedQuery('host'))).toBeCloseTo(1, 5);
      expect(cosine(v, await plain.embedQuery('connect socket host'))).toBeLessThan(0.99);
      // A short text batched with long ones still pools its own last token, not a padding one.
      const texts = [input('s', 'let f = host'), input('l', `let g socket = connect ${'table '.repeat(12)}port`)];
      const [batched, alone] = [await last.embedDocuments(texts), await lastAlone.embedDocuments(texts)];
      batched.forEach((b, i) => expect(cosine(b, alone[i]!)).toBeCloseTo(1, 5));
      expect(batched[0]!.some((x) => x !== 0)).toBe(true);
      // Pooled otherwise, the same weights are another model: an index of theirs is embedded again.
      const [meanCopy, lastCopy] = await Promise.all([
        TransformersEmbedder.load({ name: 'transformers', model: withPooling('netkit-static', { pooling_mode_mean_tokens: true }) }),
        TransformersEmbedder.load({ name: 'transformers', model: withPooling('netkit-static', { pooling_mode_lasttoken: true }) }),
      ]);
      expect(meanCopy.id).toBe(plain.id);
      expect(lastCopy.id).not.toBe(plain.id);
      await Promise.all([meanCopy.close(), lastCopy.close()]);
    } finally {
      await Promise.all([plain.close(), last.close(), lastAlone.close()]);
    }
    await expect(TransformersEmbedder.load({ name: 'transformers', model: withPooling('max', { pooling_mode_max_tokens: true }) })).rejects.toThrow(/pools with pooling_mode_max_tokens .*mean, CLS or last-token/);
    await expect(TransformersEmbedder.load({ name: 'transformers', model: withPooling('concat', { pooling_mode_mean_tokens: true, pooling_mode_cls_token: true }) })).rejects.toThrow(/pooling_mode_mean_tokens \+ pooling_mode_cls_token/);
  });

  it('uses the GPU only where onnxruntime can: cuda fails saying what to do, auto falls back to the CPU and says so', async () => {
    const warnings: string[] = [];
    const cpu = await TransformersEmbedder.load({ name: 'transformers', model: modelDir });
    const auto = await TransformersEmbedder.load({ name: 'transformers', model: modelDir, device: 'auto' }, { onWarning: (m) => warnings.push(m) });
    try {
      expect(cpu.device).toBe('cpu');
      expect(auto.id).toBe(cpu.id);
      const q = 'connect socket host port';
      if (auto.device === 'cpu') {
        // This machine's onnxruntime cannot use CUDA (its provider is fetched only when asked for).
        expect(warnings).toEqual([expect.stringMatching(/^embedding on the CPU: .*CUDA/)]);
        expect(Array.from(await auto.embedQuery(q))).toEqual(Array.from(await cpu.embedQuery(q)));
        await expect(TransformersEmbedder.load({ name: 'transformers', model: modelDir, device: 'cuda' })).rejects.toThrow(/^cannot use --device cuda: .*ONNXRUNTIME_NODE_INSTALL_CUDA=v12.*--device auto/);
        // A query is one short text: a server without CUDA embeds it on the CPU, whatever the index was embedded on.
        const forQueries = await TransformersEmbedder.load({ name: 'transformers', model: modelDir, device: 'cuda' }, { cpuFallback: true });
        expect(forQueries.device).toBe('cpu');
        await forQueries.close();
      } else {
        expect(warnings).toEqual([]);
        expect(cosine(await auto.embedQuery(q), await cpu.embedQuery(q))).toBeGreaterThan(0.999);
      }
    } finally {
      await Promise.all([cpu.close(), auto.close()]);
    }
  });

  it('takes prefixes, batch size and device from the command line; a new query prefix re-embeds nothing', async () => {
    const db = newDb();
    const index = (queryPrefix: string) =>
      runCli(['index', root, '--db', db, '--embedder-model', modelDir, '--document-prefix', 'host ', '--query-prefix', queryPrefix, '--batch-size', '7', '--device', 'auto'], { cwd: root });
    const storedSpec = async () => {
      const store = await IndexStore.openForSearch(db);
      try {
        return JSON.parse((await store.getMeta('embedder_spec'))!) as Record<string, unknown>;
      } finally {
        store.close();
      }
    };
    const first = await index('socket ');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/ (\d+) embedded \(transformers-/);
    expect(Number(/ (\d+) embedded/.exec(first.stdout)![1])).toBeGreaterThan(0);
    expect(await storedSpec()).toMatchObject({ name: 'transformers', queryPrefix: 'socket ', documentPrefix: 'host ', batchSize: 7, device: 'auto' });
    const again = await index('connect ');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/ 0 embedded \(transformers-/);
    expect(await storedSpec()).toMatchObject({ queryPrefix: 'connect ' });
    const search = await runCli(['search', '--db', db, '--mode', 'vector', '--json', '-k', '3', 'connect a socket to a host'], { cwd: root });
    expect(search.code, search.stderr).toBe(0);
    expect((JSON.parse(search.stdout) as { results: { name: string }[] }).results.map((r) => r.name)).toContain('connect');
  });

  it('keeps its loaded model when a server moves to a newer version of the index, and still answers', async () => {
    const db = newDb();
    const repo = copyFixture('netkit');
    await indexRepo({ root: repo, db, embedder: { name: 'transformers', model: modelDir } });
    const searcher = await Searcher.open(db, { resident: true });
    try {
      const q = 'connect a socket to a host';
      const loaded = await searcher.readFresh((view) => view.queryEmbedder());
      const before = await searcher.search(q, { mode: 'vector' });
      writeFiles(repo, { 'src/added.ml': 'let reconnect host = host\n' });
      await indexRepo({ root: repo, db });
      await searcher.refresh({ now: true });
      expect(await searcher.readFresh(async (view) => (await view.store.countChunks()) > 0 && view.queryEmbedder())).toBe(loaded);
      // The replaced version is closed; the model it handed on is not, and still answers.
      expect((await searcher.search(q, { mode: 'vector' }))[0]).toEqual(before[0]);
      expect((await searcher.search('reconnect', { mode: 'lexical' }))[0]?.name).toBe('reconnect');
    } finally {
      searcher.close();
    }
  });

  it('says what to do when the model an index was embedded with is gone', async () => {
    const moved = path.join(makeTempDir('cs-model-'), 'moving');
    fs.cpSync(modelDir, moved, { recursive: true });
    const db = newDb();
    await indexRepo({ root, db, embedder: { name: 'transformers', model: moved } });
    fs.rmSync(moved, { recursive: true });
    const gone = await runCli(['search', '--db', db, 'connect a socket to a host'], { cwd: root });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`codesearch: the index's vectors were made by the model in ${moved}, which is no longer there; put it back, or re-index with --embedder-model DIR (or --embedder static); --mode lexical searches without it\n`);
    const lexical = await runCli(['search', '--db', db, '--mode', 'lexical', '--json', 'connect a socket to a host'], { cwd: root });
    expect((JSON.parse(lexical.stdout) as { results: { name: string }[] }).results[0]?.name).toBe('connect');
  });

  it('says clearly what is wrong with a bad model directory or device', async () => {
    await expect(TransformersEmbedder.load({ name: 'transformers', model: path.join(modelDir, 'nope') })).rejects.toThrow(/local model directory/);
    await expect(TransformersEmbedder.load({ name: 'transformers', model: modelDir, device: 'tpu' })).rejects.toThrow(EmbedderError);
  });
});

/** An OpenAI-compatible embeddings server: a vector per input from its characters' codes. */
async function embeddingServer(options: { dims?: number; failFirst?: number; delayMs?: number; apiKey?: string } = {}) {
  const requests: number[] = [];
  const texts: string[] = [];
  let failures = options.failFirst ?? 0;
  let failing = false;
  let attempts = 0;
  let answersLeft = Infinity;
  let refusing = false;
  let inFlight = 0;
  let maxInFlight = 0;
  let dims = options.dims ?? 16;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, options.delayMs ?? 5));
      inFlight--;
      if (req.url !== '/v1/embeddings') return res.writeHead(404).end();
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) return res.writeHead(401).end('invalid api key');
      attempts++;
      if (refusing) return res.writeHead(400).end('bad request');
      if (answersLeft-- <= 0) failing = true;
      if (failing) return res.writeHead(503).end('down for maintenance');
      if (failures > 0) {
        failures--;
        return res.writeHead(503).end('busy');
      }
      const { input } = JSON.parse(body) as { input: string[] };
      requests.push(input.length);
      texts.push(...input);
      const data = input.map((text, index) => {
        const v = new Array(dims).fill(0);
        for (let i = 0; i < text.length; i++) v[text.charCodeAt(i) % dims] += 1;
        return { object: 'embedding', index, embedding: v };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return { url, requests, texts, attempts: () => attempts, setFailing: (f: boolean) => ((failing = f), (answersLeft = Infinity)), failAfter: (n: number) => (answersLeft = n), setRefusing: (r: boolean) => (refusing = r), maxInFlight: () => maxInFlight, setDims: (d: number) => (dims = d), close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The netkit fixture indexed through an embeddings server of its own, which the caller closes. */
async function indexedThroughServer() {
  const server = await embeddingServer();
  const root = copyFixture('netkit');
  const db = newDb();
  try {
    return { server, root, db, first: await indexRepo({ root, db, embedder: { name: 'http', urls: [server.url] } }) };
  } catch (err) {
    await server.close();
    throw err;
  }
}

describe('http embedder: an OpenAI-compatible /v1/embeddings server', () => {
  it('embeds each written batch while the parse goes on, in shards too, so finalize has nothing left to embed', async () => {
    const server = await embeddingServer();
    try {
      const root = copyFixture('netkit');
      writeFiles(root, { 'src/generated.ml': generatedDefinitions(300) });
      const spec = { name: 'http', urls: [server.url], batchSize: 8 };
      const single = newDb();
      const whole = await indexRepo({ root, db: single, embedder: spec });
      expect(whole.embedded).toBe(whole.chunks);
      const db = newDb();
      const shards = await Promise.all([0, 1].map((index) => indexRepo({ root, db, embedder: spec, shard: { index, count: 2 } })));
      // Each shard embedded its own chunks as it wrote them.
      for (const s of shards) expect(s).toMatchObject({ embedder: 'http-default-16d', embedded: s.chunks });
      expect(shards[0]!.chunks + shards[1]!.chunks).toBe(whole.chunks);
      const requestsBefore = server.requests.length;
      const fin = await finalizeIndex({ db });
      expect(fin).toMatchObject({ embedded: 0, chunks: whole.chunks, embedder: 'http-default-16d' });
      // Only the probe that connects the embedder: no chunk was sent again.
      expect(server.requests.length - requestsBefore).toBe(1);
      expect(await indexContents(db)).toEqual(await indexContents(single));
    } finally {
      await server.close();
    }
  });

  it('indexes through the server in batches, several in flight', async () => {
    const server = await embeddingServer();
    try {
      const root = copyFixture('netkit');
      const db = newDb();
      const summary = await indexRepo({ root, db, embedder: { name: 'http', urls: [server.url], batchSize: 4 } });
      expect(summary).toMatchObject({ embedder: 'http-default-16d', embedded: summary.chunks });
      // The probe plus ceil(chunks / 4) batches, none over 4 inputs.
      expect(server.requests.slice(1).every((n) => n <= 4)).toBe(true);
      expect(server.requests.slice(1).reduce((a, b) => a + b, 0)).toBe(summary.chunks);
      expect(server.maxInFlight()).toBeGreaterThan(1);
      const searcher = await Searcher.open(db);
      try {
        expect(await searcher.search('connect', { mode: 'vector', k: 3 })).toHaveLength(3);
      } finally {
        searcher.close();
      }
    } finally {
      await server.close();
    }
  });

  it('sends the query and document prefixes; another document prefix is another model id', async () => {
    const server = await embeddingServer();
    try {
      const plain = await HttpEmbedder.connect({ urls: [server.url] });
      const prefixed = await HttpEmbedder.connect({ urls: [server.url], queryPrefix: 'query: ', documentPrefix: 'passage: ' });
      await prefixed.embedQuery('trim a string');
      await prefixed.embedDocuments([input('a', 'let trim s = s')]);
      expect(server.texts.slice(-2)).toEqual(['query: trim a string', expect.stringMatching(/^passage: value M\.a\n/)]);
      expect(plain.id).toBe('http-default-16d');
      expect(prefixed.id).toMatch(/^http-default-16d-[0-9a-f]{8}$/);
    } finally {
      await server.close();
    }
  });

  it('answers hybrid searches lexically while the server is down, says so, leaves it alone a while, and uses it again once back', async () => {
    const { server, root, db } = await indexedThroughServer();
    // Long enough that the checks within the pause cannot outlast it on a loaded machine.
    const RETRY_MS = 2000;
    const connected = await Searcher.open(db, { embedderRetryMs: RETRY_MS });
    const q = 'connect a socket to a host';
    const told = (warnings: string[]) => ({ onWarning: (m: string) => warnings.push(m) });
    const afterRetryPause = () => new Promise((r) => setTimeout(r, RETRY_MS + 100));
    let fresh: Searcher | undefined;
    try {
      const baseline = await Searcher.open(db);
      const online = await baseline.search(q);
      baseline.close();
      // Connected with another question: a question's vector, once made, is kept.
      const quiet: string[] = [];
      await connected.search('open a connection', told(quiet));
      expect(quiet).toEqual([]);
      server.setFailing(true);
      // Down after the searcher connected: its query's vector fails, the lexical retrievers answer.
      const warnings: string[] = [];
      const offline = await connected.search(q, told(warnings));
      expect(offline.map((r) => r.name)).toContain('connect');
      expect(warnings).toEqual([expect.stringMatching(/^lexical results only: embeddings server \S+ failed after 2 attempts: HTTP 503/)]);
      // Within the pause the server is not asked again; vector-only search is an error, not an empty list.
      const attempts = server.attempts();
      await connected.search(q, told([]));
      await expect(connected.search(q, { mode: 'vector' })).rejects.toThrow(EmbedderUnavailableError);
      expect(server.attempts()).toBe(attempts);
      // Down before a searcher ever connected: the same, and the failed connection is not kept.
      fresh = await Searcher.open(db, { embedderRetryMs: RETRY_MS });
      const unconnected: string[] = [];
      expect((await fresh.search(q, told(unconnected))).map((r) => r.name)).toEqual(offline.map((r) => r.name));
      expect(unconnected).toHaveLength(1);
      server.setFailing(false);
      await afterRetryPause();
      for (const searcher of [connected, fresh]) {
        const back: string[] = [];
        expect(await searcher.search(q, told(back))).toEqual(online);
        expect(back).toEqual([]);
      }
      // Asked again, the question's vector is not made again.
      const sent = server.texts.length;
      expect(await connected.search(q)).toEqual(online);
      expect(server.texts.length).toBe(sent);
    } finally {
      connected.close();
      fresh?.close();
      await server.close();
    }
  });

  it('says in HTTP, command-line and MCP answers when a search or context window had no vectors', async () => {
    const { server, root, db } = await indexedThroughServer();
    const searcher = await Searcher.open(db, { resident: true });
    const app = await buildApp({ searcher, builder: await ContextBuilder.create(searcher), root });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const post = async (route: string, body: unknown) =>
      (await (await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()) as { warnings?: string[]; results?: unknown[]; items?: unknown[] };
    try {
      expect((await post('/v1/search', { query: 'connect a socket to a host' })).warnings).toBeUndefined();
      server.setFailing(true);
      const search = await post('/v1/search', { query: 'close the socket' });
      expect(search.results!.length).toBeGreaterThan(0);
      expect(search.warnings).toEqual([expect.stringMatching(/^lexical results only: .*HTTP 503/)]);
      const context = await post('/v1/context', { prompt: 'close the socket after a timeout' });
      expect(context.items!.length).toBeGreaterThan(0);
      expect(context.warnings).toEqual([expect.stringMatching(/^lexical results only: /)]);
      // Counted for an operator to alert on: one search and one window without vectors.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^codesearch_answers_with_warnings_total\{route="\/v1\/search"\} 1$/m);
      expect(metrics).toMatch(/^codesearch_answers_with_warnings_total\{route="\/v1\/context"\} 1$/m);
      // The command line answers too, with the warning on stderr; so does an agent's MCP client.
      const cli = await runCli(['search', '--db', db, '--json', 'close the socket'], { cwd: root });
      expect(cli.code).toBe(0);
      expect((JSON.parse(cli.stdout) as { results: unknown[] }).results.length).toBeGreaterThan(0);
      expect(cli.stderr).toMatch(/^codesearch: warning: lexical results only: .*HTTP 503/);
      const agent = new Client({ name: 'codesearch-test', version: '1.0.0' });
      await agent.connect(new StdioClientTransport({ command: process.execPath, args: [CLI_MAIN, 'mcp', '--db', db], cwd: root, env: childEnv({}) as Record<string, string>, stderr: 'pipe' }));
      try {
        const r = await agent.callTool({ name: 'context', arguments: { prompt: 'close the socket' } });
        expect(r.isError).toBeFalsy();
        expect((r.content as { text: string }[])[0]!.text).toMatch(/\n-- warning: lexical results only: .*HTTP 503/);
        expect((r.structuredContent as { warnings: string[] }).warnings).toHaveLength(1);
      } finally {
        await agent.close();
      }
    } finally {
      await app.close();
      searcher.close();
      await server.close();
    }
  });

  it('moves the batches of a server that stays down to the others, and stops only when every server fails', async () => {
    const down = await embeddingServer();
    const up = await embeddingServer();
    down.setFailing(true);
    try {
      const root = copyFixture('netkit');
      writeFiles(root, { 'src/generated.ml': generatedDefinitions(300) });
      const summary = await indexRepo({ root, db: newDb(), embedder: { name: 'http', urls: [down.url, up.url], batchSize: 8 } });
      expect(summary).toMatchObject({ embedder: 'http-default-16d', embedded: summary.chunks });
      // The first request (the probe) found it down after its 4 attempts; it was left alone after that.
      expect(down.attempts()).toBe(4);
      expect(up.requests.reduce((a, b) => a + b, 0)).toBe(summary.chunks + 1);
      up.setFailing(true);
      await expect(indexRepo({ root, db: newDb(), embedder: { name: 'http', urls: [down.url, up.url] } })).rejects.toThrow(/failed after 4 attempts: HTTP 503/);
    } finally {
      await Promise.all([down.close(), up.close()]);
    }
  });

  it("keeps the index current while the index's embeddings server is down, and embeds what it missed once back", async () => {
    const { server, root, db, first } = await indexedThroughServer();
    try {
      server.setFailing(true);
      writeFiles(root, { 'src/added.ml': 'let reconnect_with_backoff host = host\n' });
      const warnings: string[] = [];
      const during = await indexRepo({ root, db, onWarning: (m) => warnings.push(m) });
      expect(during).toMatchObject({ added: 1, embedded: 0, embedder: first.embedder });
      expect(warnings).toEqual([expect.stringMatching(/HTTP 503: indexed without new vectors; the next run embeds what lacks one$/)]);
      const searcher = await Searcher.open(db);
      try {
        expect((await searcher.search('reconnect_with_backoff', { mode: 'lexical' }))[0]?.name).toBe('reconnect_with_backoff');
        // A health check tells: the new definition has no vector yet.
        expect(searcher.health).toMatchObject({ chunks: first.chunks + 1, embedder: first.embedder, vectors: 'incomplete' });
        server.setFailing(false);
        // Nothing changed since, but the vectors are marked incomplete: this run embeds the new definition.
        expect(await indexRepo({ root, db })).toMatchObject({ changed: 0, added: 0, embedded: 1, embedder: first.embedder });
        await searcher.refresh({ now: true });
        expect(searcher.health).toMatchObject({ chunks: first.chunks + 1, vectors: 'complete' });
      } finally {
        searcher.close();
      }
      const clean = newDb();
      await indexRepo({ root, db: clean, embedder: { name: 'http', urls: [server.url] } });
      expect(await indexContents(db)).toEqual(await indexContents(clean));
      // Down in the middle of a cold run, right after the probe that adopted it: the same.
      server.failAfter(1);
      const cold = newDb();
      const coldWarnings: string[] = [];
      expect(await indexRepo({ root, db: cold, embedder: { name: 'http', urls: [server.url] }, onWarning: (m) => coldWarnings.push(m) })).toMatchObject({ embedded: 0, embedder: first.embedder });
      expect(coldWarnings).toEqual([expect.stringMatching(/indexed without new vectors/)]);
      server.setFailing(false);
      expect((await indexRepo({ root, db: cold })).embedded).toBe((await indexContents(clean)).vectors.length);
      expect(await indexContents(cold)).toEqual(await indexContents(clean));
      // An embedder the index has not adopted yet must answer: a run switching to it stops.
      server.setFailing(true);
      await expect(indexRepo({ root, db: newDb(), embedder: { name: 'http', urls: [server.url] } })).rejects.toThrow(/failed after 4 attempts: HTTP 503/);
    } finally {
      await server.close();
    }
  });

  it('sends the API key from CODESEARCH_EMBEDDER_API_KEY, never stores it, and says when the server refuses it', async () => {
    const server = await embeddingServer({ apiKey: 'sekrit' });
    try {
      await expect(HttpEmbedder.connect({ urls: [server.url] })).rejects.toThrow(/refused no API key \(set CODESEARCH_EMBEDDER_API_KEY\): HTTP 401$/);
      await expect(HttpEmbedder.connect({ urls: [server.url], apiKey: 'wrong' })).rejects.toThrow(/refused the API key in CODESEARCH_EMBEDDER_API_KEY: HTTP 401$/);
      expect((await HttpEmbedder.connect({ urls: [server.url], apiKey: 'sekrit' })).dims).toBe(16);
      const root = copyFixture('netkit');
      const db = newDb();
      const withKey = { CODESEARCH_EMBEDDER_API_KEY: 'sekrit' };
      const indexed = await runCli(['index', root, '--db', db, '--embedder-url', server.url], { cwd: root, env: withKey });
      expect(indexed.code, indexed.stderr).toBe(0);
      const files = fs.readdirSync(db, { recursive: true, encoding: 'utf8' }).filter((f) => fs.statSync(path.join(db, f)).isFile());
      expect(files.length).toBeGreaterThan(10);
      // The scan sees the stored spec (its URL), and no key anywhere.
      expect(files.some((f) => fs.readFileSync(path.join(db, f)).includes(server.url))).toBe(true);
      expect(files.filter((f) => fs.readFileSync(path.join(db, f)).includes('sekrit'))).toEqual([]);
      const found = await runCli(['search', '--db', db, '--json', 'connect a socket to a host'], { cwd: root, env: withKey });
      expect(found.stderr).toBe('');
      expect((JSON.parse(found.stdout) as { results: { name: string }[] }).results[0]?.name).toBe('connect');
      // Without the key a search is refused in one line, not answered as if the server were down.
      const refused = await runCli(['search', '--db', db, 'connect a socket to a host'], { cwd: root, env: { CODESEARCH_EMBEDDER_API_KEY: undefined } });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^codesearch: embeddings server \S+ refused no API key \(set CODESEARCH_EMBEDDER_API_KEY\): HTTP 401\n$/);
    } finally {
      await server.close();
    }
  });

  it('has a live index try a failed update again by itself, with no further change', async () => {
    const { server, root, db } = await indexedThroughServer();
    const errors: string[] = [];
    const runs: string[][] = [];
    const live = await watchIndex({ root, db, settleMs: 50, retryMs: 200, onError: (e) => errors.push(e.message), onRun: (_s, paths) => runs.push([...paths]) });
    const until = async (what: () => boolean) => {
      for (let waited = 0; !what(); waited += 50) {
        if (waited > 10_000) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await live.settled();
      // A server refusing requests (not one out of reach) fails the run.
      server.setRefusing(true);
      writeFiles(root, { 'src/added.ml': 'let reconnect_later host = host\n' });
      await until(() => errors.length >= 2);
      expect(errors[0]).toMatch(/refused the request: HTTP 400/);
      server.setRefusing(false);
      await until(() => runs.some((paths) => paths.includes('src/added.ml')));
      const searcher = await Searcher.open(db);
      try {
        expect((await searcher.search('reconnect_later'))[0]?.name).toBe('reconnect_later');
      } finally {
        searcher.close();
      }
    } finally {
      await live.close();
      await server.close();
    }
  });

  it('retries a busy server with backoff', async () => {
    const server = await embeddingServer({ failFirst: 2 });
    try {
      const embedder = await HttpEmbedder.connect({ urls: [server.url], backoffMs: 10 });
      expect(embedder.dims).toBe(16);
    } finally {
      await server.close();
    }
  });

  it('reports a server that is down, a timeout and a wrong dimension in one line', async () => {
    const down = await embeddingServer();
    await down.close();
    await expect(HttpEmbedder.connect({ urls: [down.url], retries: 1, backoffMs: 5 })).rejects.toThrow(/failed after 2 attempts: connection refused/);

    const slow = await embeddingServer({ delayMs: 500 });
    try {
      await expect(HttpEmbedder.connect({ urls: [slow.url], retries: 0, timeoutMs: 50 })).rejects.toThrow(/timed out/);
    } finally {
      await slow.close();
    }

    const server = await embeddingServer({ dims: 16 });
    try {
      const root = copyFixture('netkit');
      const db = newDb();
      await indexRepo({ root, db, embedder: { name: 'http', urls: [server.url] } });
      const embedder = await HttpEmbedder.connect({ urls: [server.url] });
      // The endpoint starts serving another model.
      server.setDims(8);
      await expect(embedder.embedQuery('connect')).rejects.toThrow(/returned 8-dimensional vectors, but this index holds 16-dimensional ones/);
      const searcher = await Searcher.open(db);
      try {
        await expect(searcher.search('open a connection', { mode: 'vector' })).rejects.toThrow(/now serves 'http-default-8d', but the index was embedded with 'http-default-16d'/);
      } finally {
        searcher.close();
      }
    } finally {
      await server.close();
    }
  });
});
