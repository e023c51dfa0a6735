// The `http` embedder: any OpenAI-compatible `/v1/embeddings` endpoint (text-embeddings-inference,
// vLLM, Ollama, llama.cpp server), which is how a large monorepo is embedded on GPU machines.
// Requests are batched and spread over every configured endpoint with bounded concurrency;
// failures are retried with exponential backoff, and what cannot be fixed by retrying (a server
// that is down, a wrong dimension) is reported in one line.
import { createHash } from 'node:crypto';
import { EmbedderError, EmbedderUnavailableError, embeddingText, registerEmbedder, type Embedder, type EmbedderSpec, type EmbedInput } from './embedder.js';

const DEFAULTS = { batchSize: 32, concurrencyPerEndpoint: 4, retries: 3, backoffMs: 200, timeoutMs: 60_000 };
const QUERY_PATIENCE = { retries: 1, timeoutMs: 5_000 };
/** The environment variable holding the servers' API key: a secret stays out of the index's meta. */
export const API_KEY_VARIABLE = 'CODESEARCH_EMBEDDER_API_KEY';
/** An endpoint that failed a request's every retry is passed over this long while others answer. */
const ENDPOINT_REST_MS = 30_000;

export interface HttpEmbedderOptions {
  urls: string[];
  model?: string;
  batchSize?: number;
  concurrencyPerEndpoint?: number;
  retries?: number;
  backoffMs?: number;
  timeoutMs?: number;
  queryPrefix?: string;
  documentPrefix?: string;
  /** Sent as `Authorization: Bearer KEY`; from the environment, never stored in the index. */
  apiKey?: string;
}

export class HttpEmbedder implements Embedder {
  readonly readsText = true;
  private readonly options: Required<Omit<HttpEmbedderOptions, 'model' | 'apiKey'>> & { model?: string; apiKey?: string };
  private next = 0;
  private readonly active: number[];
  /** Until when each endpoint is passed over, having failed a request's every retry. */
  private readonly restingUntil: number[];
  private readonly waiting: (() => void)[] = [];
  /** Learnt from the first answer; 0 until then. */
  private learntDims = 0;

  private constructor(options: HttpEmbedderOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as HttpEmbedderOptions;
    this.options = { ...DEFAULTS, queryPrefix: '', documentPrefix: '', ...given };
    this.active = options.urls.map(() => 0);
    this.restingUntil = options.urls.map(() => 0);
  }

  /** Connects by embedding one probe text: that learns the dimension and proves an endpoint works. */
  static async connect(options: HttpEmbedderOptions): Promise<HttpEmbedder> {
    if (options.urls.length === 0) throw new EmbedderError('the http embedder needs at least one --embedder-url');
    for (const url of options.urls) {
      if (!/^https?:\/\//.test(url)) throw new EmbedderError(`--embedder-url must be an http(s) URL, got '${url}'`);
    }
    const embedder = new HttpEmbedder(options);
    const [vector] = await embedder.schedule(['codesearch']);
    embedder.learntDims = vector!.length;
    return embedder;
  }

  get dims(): number {
    return this.learntDims;
  }

  /** The server does not read the index: a newer version keeps this connection. */
  forNewerVersion(): this {
    return this;
  }

  /** The served model and, when there is one, the document prefix: another one makes other vectors. */
  get id(): string {
    const prefix = this.options.documentPrefix ? `-${createHash('sha256').update(this.options.documentPrefix).digest('hex').slice(0, 8)}` : '';
    return `http-${this.options.model ?? 'default'}-${this.dims}d${prefix}`;
  }

  async embedDocuments(inputs: readonly EmbedInput[]): Promise<Float32Array[]> {
    const texts = inputs.map((i) => this.options.documentPrefix + embeddingText(i));
    const batches: string[][] = [];
    for (let i = 0; i < texts.length; i += this.options.batchSize) batches.push(texts.slice(i, i + this.options.batchSize));
    const results = await Promise.all(batches.map((b) => this.schedule(b)));
    return results.flat();
  }

  async embedQuery(query: string): Promise<Float32Array> {
    const [vector] = await this.schedule([this.options.queryPrefix + query]);
    return vector!;
  }

  /**
   * Runs a batch on the next endpoint with room, waiting while every endpoint is at its limit. A
   * batch whose endpoint stays out of reach moves to another one (which rests that endpoint for a
   * while): one server of a fleet going down slows a run, only all of them stop it.
   */
  private async schedule(texts: string[]): Promise<Float32Array[]> {
    const failed = new Set<number>();
    for (;;) {
      const free = this.freeEndpoint(failed);
      if (free === undefined) {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        continue;
      }
      this.active[free]!++;
      try {
        return await this.request(free, texts);
      } catch (err) {
        if (!(err instanceof EmbedderUnavailableError) || failed.size + 1 === this.options.urls.length) throw err;
        failed.add(free);
        this.restingUntil[free] = Date.now() + ENDPOINT_REST_MS;
      } finally {
        this.active[free]!--;
        this.waiting.shift()?.();
      }
    }
  }

  /**
   * The next endpoint, in turn, that has room and has not failed this batch: resting ones only
   * when every other one has failed it or rests too. Undefined while those are all busy.
   */
  private freeEndpoint(failed: ReadonlySet<number>): number | undefined {
    const n = this.options.urls.length;
    const now = Date.now();
    const candidates = [...Array(n).keys()].map((k) => (this.next + k) % n).filter((i) => !failed.has(i));
    const awake = candidates.filter((i) => this.restingUntil[i]! <= now);
    const free = (awake.length > 0 ? awake : candidates).find((i) => this.active[i]! < this.options.concurrencyPerEndpoint);
    if (free !== undefined) this.next = (free + 1) % n;
    return free;
  }

  private async request(endpoint: number, texts: string[]): Promise<Float32Array[]> {
    const url = `${this.options.urls[endpoint]!.replace(/\/+$/, '')}/embeddings`;
    let lastError = '';
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.options.backoffMs * 2 ** (attempt - 1)));
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}) },
          body: JSON.stringify({ input: texts, ...(this.options.model ? { model: this.options.model } : {}) }),
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (err) {
        lastError = describeFetchError(err);
        continue;
      }
      if (response.status >= 500 || response.status === 429) {
        lastError = `HTTP ${response.status}`;
        continue;
      }
      const body = await response.text();
      if (response.status === 401 || response.status === 403) {
        const key = this.options.apiKey ? `the API key in ${API_KEY_VARIABLE}` : `no API key (set ${API_KEY_VARIABLE})`;
        throw new EmbedderError(`embeddings server ${url} refused ${key}: HTTP ${response.status}`);
      }
      if (!response.ok) throw new EmbedderError(`embeddings server ${url} refused the request: HTTP ${response.status} ${body.slice(0, 200)}`);
      return this.parse(url, body, texts.length);
    }
    throw new EmbedderUnavailableError(`embeddings server ${url} failed after ${this.options.retries + 1} attempts: ${lastError}`);
  }

  private parse(url: string, body: string, expected: number): Float32Array[] {
    let data: { index?: number; embedding?: unknown }[];
    try {
      data = (JSON.parse(body) as { data: typeof data }).data;
      if (!Array.isArray(data)) throw new Error('no "data" array');
    } catch (err) {
      throw new EmbedderError(`embeddings server ${url} answered something that is not an OpenAI embeddings response (${(err as Error).message})`);
    }
    if (data.length !== expected) throw new EmbedderError(`embeddings server ${url} returned ${data.length} vectors for ${expected} inputs`);
    const out: Float32Array[] = new Array(expected);
    data.forEach((item, i) => {
      const embedding = item.embedding;
      if (!Array.isArray(embedding) || !embedding.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new EmbedderError(`embeddings server ${url} returned a vector that is not a list of numbers`);
      }
      if (this.dims > 0 && embedding.length !== this.dims) {
        throw new EmbedderError(`embeddings server ${url} returned ${embedding.length}-dimensional vectors, but this index holds ${this.dims}-dimensional ones (another model?)`);
      }
      out[item.index ?? i] = Float32Array.from(embedding as number[]);
    });
    return out;
  }
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the server running?)';
  if (code === 'ENOTFOUND') return 'host not found';
  return e.cause?.message ?? e.message;
}

function optionsOf(spec: EmbedderSpec): HttpEmbedderOptions {
  return {
    urls: spec.urls ?? [],
    model: spec.remoteModel,
    batchSize: spec.batchSize,
    queryPrefix: spec.queryPrefix,
    documentPrefix: spec.documentPrefix,
    apiKey: process.env[API_KEY_VARIABLE] || undefined,
  };
}

registerEmbedder({
  name: 'http',
  forIndexing: (spec) => HttpEmbedder.connect(optionsOf(spec)),
  async forQuerying(spec, _store, storedId) {
    // A search waits on its query's vector: one quick retry, not an indexing batch's patience.
    const embedder = await HttpEmbedder.connect({ ...optionsOf(spec), ...QUERY_PATIENCE });
    if (embedder.id !== storedId) {
      throw new EmbedderError(`the embeddings server now serves '${embedder.id}', but the index was embedded with '${storedId}'; re-index to use the new model`);
    }
    return embedder;
  },
});
