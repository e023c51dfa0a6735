// A stand-in for a GPU embedding server: the static model of an index, served over the OpenAI
// embeddings shape (POST /v1/embeddings {input: [texts]} → {data: [{index, embedding}]}) that
// text-embeddings-inference, vLLM and Ollama answer. The bench and the trials point the `http`
// embedder at one or more of these to measure the fleet client without a GPU.
//
//   node dist/bench/embed-server.js --db INDEX [--port N] [--batch-ms MS]   (prints the /v1 base URL)
//
// `batchMs` makes each request take at least that long, one request at a time, as a model on
// one GPU does: with it, what the client gains from several servers shows on a 2-core machine,
// where the real model costs microseconds and the client's own JSON work is the limit.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { IndexStore } from '../indexer/store.js';
import { StaticEmbedder } from '../indexer/embed/static.js';
import { queryTokens } from '../indexer/text.js';
import { HttpEmbedder } from '../indexer/embed/http.js';
import type { EmbedInput } from '../indexer/embed/embedder.js';

export interface EmbeddingServer {
  /** The base URL an `http` embedder takes (`http://127.0.0.1:PORT/v1`). */
  url: string;
  close(): Promise<void>;
}

export async function startEmbeddingServer(options: { db: string; port?: number; batchMs?: number }): Promise<EmbeddingServer> {
  const store = await IndexStore.openForSearch(options.db);
  let embedder: StaticEmbedder;
  try {
    const id = await store.getMeta('embedder_id');
    const model = id ? await store.loadStaticModel(id) : undefined;
    if (!model) throw new Error(`the index at ${options.db} has no static model to serve`);
    embedder = new StaticEmbedder(model, `codesearch-${model.id}`);
  } finally {
    store.close();
  }
  let device = Promise.resolve();
  const occupy = (ms: number) => (device = device.then(() => new Promise<void>((r) => setTimeout(r, ms))));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') return void res.writeHead(404).end();
      let input: unknown;
      try {
        input = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: unknown }).input;
      } catch {
        return void res.writeHead(400).end('{"error":"invalid JSON"}');
      }
      const texts = typeof input === 'string' ? [input] : input;
      if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) return void res.writeHead(400).end('{"error":"input must be a string or a list of strings"}');
      if (options.batchMs) await occupy(options.batchMs);
      const data = texts.map((text, index) => ({ object: 'embedding', index, embedding: Array.from(embedder.model.embedTokens(queryTokens(text))) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', model: embedder.id, data }));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { db: { type: 'string' }, port: { type: 'string', default: '0' }, 'batch-ms': { type: 'string', default: '0' } } });
  if (!values.db) {
    process.stderr.write('usage: node dist/bench/embed-server.js --db INDEX [--port N] [--batch-ms MS]\n');
    process.exit(1);
  }
  const server = await startEmbeddingServer({ db: values.db, port: Number(values.port), batchMs: Number(values['batch-ms']) });
  process.stdout.write(`${server.url}\n`);
}

export interface FleetFigures {
  servers: number;
  batchMs: number;
  chunks: number;
  seconds: number;
  chunksPerSecond: number;
}

/**
 * Embeds the chunks of the index at `db` (the first `limit`) through the `http` embedder spread
 * over `servers` stand-in servers, each in a process of its own: the fleet client's throughput.
 */
export async function measureFleet(db: string, servers: number, batchMs: number, limit = Infinity): Promise<FleetFigures> {
  const children = Array.from({ length: servers }, () => spawn(process.execPath, [fileURLToPath(import.meta.url), '--db', db, '--batch-ms', String(batchMs)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  try {
    const urls = await Promise.all(children.map((c) => new Promise<string>((resolve, reject) => {
      c.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()));
      c.once('exit', (code) => reject(new Error(`embedding server exited with ${code}`)));
    })));
    const store = await IndexStore.openForSearch(db);
    const inputs: EmbedInput[] = [];
    try {
      for await (const batch of store.embedInputs({ text: true })) {
        inputs.push(...batch);
        if (inputs.length >= limit) break;
      }
    } finally {
      store.close();
    }
    inputs.length = Math.min(inputs.length, limit);
    const embedder = await HttpEmbedder.connect({ urls });
    const t0 = performance.now();
    // As the embed stage hands them over: a few thousand chunks at a time.
    for (let i = 0; i < inputs.length; i += 4096) await embedder.embedDocuments(inputs.slice(i, i + 4096));
    const seconds = (performance.now() - t0) / 1000;
    return { servers, batchMs, chunks: inputs.length, seconds, chunksPerSecond: inputs.length / seconds };
  } finally {
    for (const c of children) c.kill();
  }
}
