// query → retrieve → fuse: ranked definitions for a query string.
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import { IndexMissingError, IndexStore, type ChunkReader, type VectorHit } from '../indexer/store.js';
import { ResidentChunks } from './resident.js';
import { fingerprint } from '../indexer/fingerprint.js';
import { parseQuery, qualifiedName, spacedQualifiedName, type ParsedQuery } from './query.js';
import { fuse, type FuseContext, type RankedHit } from './fuse.js';
import { capPerFile, collapsePairs, foldCopies, implementationFirst, type DiversifiedHit } from './diversify.js';
import { getRetriever } from './retrieve/registry.js';
import type { Candidate, RetrievalSources } from './retrieve/types.js';
import { neighboursOf, type QueryEmbedding } from './retrieve/vector.js';
import { EmbedderError, embedderFactory, EmbedderUnavailableError, ModelMissingError, type Embedder, type EmbedderSpec } from '../indexer/embed/embedder.js';
import '../indexer/embed/builtin.js';
import { phaseClock } from '../indexer/timings.js';

export const SEARCH_MODES = ['lexical', 'vector', 'hybrid'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
/** A definition and its `.mli` declaration: one result naming the other (`fold`), or two results. */
export const PAIRINGS = ['fold', 'separate'] as const;
export type Pairing = (typeof PAIRINGS)[number];

/** Which retrievers each mode runs, by registry name. */
const RETRIEVERS: Record<SearchMode, string[]> = {
  lexical: ['symbol', 'fulltext', 'every-word', 'type', 'literal'],
  vector: ['vector'],
  hybrid: ['symbol', 'fulltext', 'every-word', 'type', 'literal', 'vector'],
};

/** A query's fused candidates, best first, before `presentHits` shapes them into the answer. */
export interface FusedList {
  parsed: ParsedQuery;
  mode: SearchMode;
  ranked: RankedHit[];
}

export interface SearchOptions {
  k?: number;
  /** Default `hybrid`, which is `lexical` on an index without vectors. */
  mode?: SearchMode;
  /** Keep each hit's trace of what it scored for (`RankedHit.trace`), to explain a ranking. */
  explain?: boolean;
  /** Told what the answer lacks: a hybrid search whose embedder is out of reach answers lexically. */
  onWarning?: (message: string) => void;
  /** Default `fold`: a definition and its declaration are one answer, the other its `counterpart`. */
  pairs?: Pairing;
  /** Hits from one file beyond this many wait until every other file has had its turn (default `MAX_HITS_PER_FILE`). */
  perFile?: number;
}

/**
 * The warnings of one answer, each once, for `SearchOptions.onWarning`; `onNew` hears each the
 * first time (a log line, stderr).
 */
export function warningCollector(onNew?: (message: string) => void): { warnings: string[]; onWarning: (message: string) => void } {
  const warnings: string[] = [];
  return {
    warnings,
    onWarning: (message) => {
      if (warnings.includes(message)) return;
      warnings.push(message);
      onNew?.(message);
    },
  };
}

/** A request the index cannot answer as asked (e.g. vector search on an index without vectors). */
export class SearchModeError extends Error {}

/** A search hit as the contract shapes it. */
export interface SearchResult {
  path: string;
  startLine: number;
  endLine: number;
  name: string;
  symbol: string;
  kind: string;
  score: number;
  doc: string;
  /** The first lines of the definition, for display. */
  snippet: string;
  /** The `.mli` declaration of this definition (or the reverse), folded into this one result. */
  counterpart?: { path: string; startLine: number; endLine: number };
  /** With `explain`: what the score is made of, in the order fusion added it (`score` is their sum). */
  explain?: ScorePart[];
}

/** One part of a result's score: the retriever or ranking signal, and its points. */
export interface ScorePart {
  signal: string;
  points: number;
}

export const DEFAULT_K = 10;
export const MAX_K = 1000;
const CANDIDATES_PER_RETRIEVER = 200;
const SNIPPET_LINES = 3;

/**
 * One version of the index as readers see it; a newer run's version replaces it whole. Each
 * open version holds tens of megabytes of LanceDB's (its indexes, its fragments), so a replaced
 * one closes as soon as the last request reading it is done.
 */
export class IndexView {
  private embedder: Promise<Embedder> | undefined;
  /** Why the query embedder failed last, and until when it is not asked again. */
  private embedderDown: { error: Error; until: number } | undefined;
  /** Questions' vectors, least recently used first: agents ask again (a search, then its window). */
  private queryVectors = new Map<string, Float32Array>();
  private readers = 0;
  private retired = false;
  private closed = false;

  private constructor(
    readonly store: IndexStore,
    /** Where chunks are read: the store itself, or their copy in memory. */
    readonly reader: ChunkReader,
    readonly context: FuseContext,
    /** The embedder that made the index's vectors; undefined when it has none. */
    readonly embedding: { spec: EmbedderSpec; id: string } | undefined,
    /** What this version holds, for a health check. */
    readonly health: IndexHealth,
  ) {}

  /** When the run that made this version ended. */
  get indexedAt(): string {
    return this.health.indexedAt;
  }

  /** `earlier`: the view this one replaces, whose chunks in memory are reused where unchanged. */
  static async open(db: string, resident: boolean, earlier?: IndexView): Promise<IndexView> {
    const store = await IndexStore.openForSearch(db);
    try {
      if ((await store.getMeta('fingerprint')) !== fingerprint()) {
        throw new IndexMissingError(`the index at ${db} is incomplete or was built by another codesearch version`);
      }
      const [spec, id, indexedAt, vectorsComplete, chunks] = await Promise.all([
        store.getMeta('embedder_spec'),
        store.getMeta('embedder_id'),
        store.getMeta('indexedAt'),
        store.getMeta('vectors_complete'),
        store.countChunks(),
      ]);
      const embedding = spec && spec !== 'null' && id && store.hasVectors() ? { spec: JSON.parse(spec) as EmbedderSpec, id } : undefined;
      const reader = resident ? await ResidentChunks.load(store, earlier?.reader instanceof ResidentChunks ? earlier.reader : undefined) : store;
      // Incomplete vectors: a run did without its embeddings server (the next run embeds the rest).
      const health: IndexHealth = { chunks, embedder: embedding?.id ?? null, vectors: !embedding ? 'none' : vectorsComplete === '1' ? 'complete' : 'incomplete', indexedAt: indexedAt ?? '' };
      const { all: directories, top: libraries, units } = await store.directoryNames();
      const view = new IndexView(store, reader, { directories, libraries, units }, embedding, health);
      if (earlier) await view.inheritEmbedder(earlier);
      return view;
    } catch (err) {
      store.close();
      throw err;
    }
  }

  queryEmbedder(): Promise<Embedder> {
    const { spec, id } = this.embedding!;
    // A failed connection is not kept: the next try connects anew (a server back up is used again).
    this.embedder ??= embedderFactory(spec.name)
      .forQuerying(spec, this.store, id)
      .catch((err: unknown) => {
        this.embedder = undefined;
        throw err;
      });
    return this.embedder;
  }

  /**
   * Takes over the query embedder of the version this one replaces when the model is the same:
   * a loaded model (seconds for a neural one) and the rows read so far are not loaded again
   * after every update. An embedder that is one instance moves here, to be closed by this view.
   */
  private async inheritEmbedder(earlier: IndexView): Promise<void> {
    const same = earlier.embedding && this.embedding && earlier.embedding.id === this.embedding.id && JSON.stringify(earlier.embedding.spec) === JSON.stringify(this.embedding.spec);
    const held = same && earlier.embedder ? await earlier.embedder.catch(() => undefined) : undefined;
    const next = held?.forNewerVersion?.(this.store);
    if (!held || !next) return;
    if (next === held) earlier.embedder = undefined;
    this.embedder = Promise.resolve(next);
    this.queryVectors = earlier.queryVectors;
  }

  /**
   * The query's vector under the model of the index's vectors. After a failure the embedder is
   * not asked again for `retryMs`: every search would otherwise wait on a server that is down.
   */
  async embedQuery(query: string, codeTerms: readonly string[], retryMs: number): Promise<Float32Array> {
    const key = `${query}\u0000${codeTerms.join(' ')}`;
    const kept = this.queryVectors.get(key);
    if (kept) {
      this.queryVectors.delete(key);
      this.queryVectors.set(key, kept);
      return kept;
    }
    if (this.embedderDown && Date.now() < this.embedderDown.until) throw this.embedderDown.error;
    try {
      const vector = await (await this.queryEmbedder()).embedQuery(query, codeTerms);
      this.queryVectors.set(key, vector);
      if (this.queryVectors.size > QUERY_VECTORS_KEPT) this.queryVectors.delete(this.queryVectors.keys().next().value!);
      return vector;
    } catch (err) {
      // A vanished model is this version's end, not the embedder's: the request moves on.
      if (err instanceof EmbedderError && !(err instanceof ModelMissingError)) this.embedderDown = { error: err, until: Date.now() + retryMs };
      throw err;
    }
  }

  /** Holds this version open for one request, until `release`. */
  acquire(): void {
    this.readers++;
  }

  release(): void {
    if (--this.readers === 0 && this.retired) this.close();
  }

  /** Closes this version once the requests still reading it are done: a newer one took its place. */
  retire(): void {
    this.retired = true;
    if (this.readers === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.embedder?.then((e) => e.close?.()).catch(() => {});
    if (this.reader instanceof ResidentChunks) this.reader.release();
    this.store.close();
  }
}

/** What a version of the index holds, as a health check reports it. */
export interface IndexHealth {
  chunks: number;
  /** The model of the index's vectors; null without vectors. */
  embedder: string | null;
  /** `incomplete`: some definitions lack a vector (a run did without its embeddings server). */
  vectors: 'complete' | 'incomplete' | 'none';
  /** When the run that made this version ended. */
  indexedAt: string;
}

/** Tries of a read (or an open) whose version an update removed meanwhile. */
const VANISHED_ATTEMPTS = 4;
/** How often a long-lived searcher looks for a newer index version, at most, by default. */
export const REFRESH_INTERVAL_MS = 1000;
/**
 * Requests read the index this many at a time; the rest wait their turn, in order. Unbounded,
 * 32 clients on 2 cores queued so much work inside LanceDB that opening a new version (a dozen
 * reads, each behind the queue) took 3–4 s; at one per core it takes 0.3–0.5 s, and the
 * requests are answered as fast (load trial, 32 clients, 30 s: 22.0/s unbounded, 23.0/s at 2).
 */
const READERS_AT_ONCE = availableParallelism();
/**
 * Resident chunks rank full text in memory: a request asks LanceDB for its nearest vectors only,
 * and waits on it while others run here. 8 HTTP clients on 2 cores, 2 / 4 / 8 at once answered
 * 70 / 79 / 105 searches a second (with LanceDB's full-text index: 75 / 78 / 70). Measured again
 * once a search cost a quarter of that (seven alternating rounds of 800–1,200 searches): 4 / 8 at
 * once gave p95 40–68 / 50–63 ms at 240–308 / 245–275 a second, no consistent difference.
 */
const READERS_AT_ONCE_RESIDENT = 4 * availableParallelism();

/** Questions whose vectors a version keeps (96 to 1,024 floats each) and hands on to the next. */
const QUERY_VECTORS_KEPT = 512;

/** How long a query embedder that failed is left alone before it is tried again, by default. */
export const EMBEDDER_RETRY_MS = 10_000;

export interface SearcherOptions {
  /**
   * Keep the chunks in memory (a server, a sidecar): each query then reads only ids and scores
   * from LanceDB. Loading costs about a second and 150 MB on a million lines, so a one-shot CLI
   * run reads its few rows from LanceDB instead.
   */
  resident?: boolean;
  /**
   * Look for a newer version at most this often (milliseconds). On an object store each look
   * is a few requests, so replicas of a busy shared index may look less often.
   */
  refreshIntervalMs?: number;
  /** After the query embedder fails, search without it for this long (ms) before trying it again. */
  embedderRetryMs?: number;
}

export class Searcher {
  private checkedAt = Date.now();
  private refreshing: Promise<void> | undefined;
  private reopening: Promise<void> | undefined;
  private readonly turns: ReturnType<typeof pLimit>;
  private readonly readersAtOnce: number;

  private constructor(
    private readonly db: string,
    private readonly resident: boolean,
    private view: IndexView,
    private readonly refreshIntervalMs: number,
    private readonly embedderRetryMs: number,
  ) {
    this.readersAtOnce = resident ? READERS_AT_ONCE_RESIDENT : READERS_AT_ONCE;
    this.turns = pLimit(this.readersAtOnce);
  }

  static async open(db: string, options: SearcherOptions = {}): Promise<Searcher> {
    const resident = options.resident ?? false;
    return new Searcher(db, resident, await IndexView.open(db, resident), options.refreshIntervalMs ?? REFRESH_INTERVAL_MS, options.embedderRetryMs ?? EMBEDDER_RETRY_MS);
  }

  get store(): IndexStore {
    return this.view.store;
  }

  /** The chunks of the version queries are answered from. */
  get reader(): ChunkReader {
    return this.view.reader;
  }

  /** What the version queries are answered from holds (no I/O: a health check never waits). */
  get health(): IndexHealth {
    return this.view.health;
  }

  /** The model behind the index's vectors ('' without vectors). */
  get embedderId(): string {
    return this.view.embedding?.id ?? '';
  }

  /**
   * Looks for a newer index version when an index run may have finished since the last look (at
   * most once a second) and switches to it once it is open, so a server answers from the last
   * committed version without a restart. Queries meanwhile keep the current version: a resident
   * one takes a second to load. A failure to open the new version keeps the current one.
   */
  refresh(options: { now?: boolean } = {}): Promise<void> {
    // `now`: a run just ended (a live index in this process), no need to wait for the interval.
    if (!options.now && Date.now() - this.checkedAt < this.refreshIntervalMs) return this.refreshing ?? Promise.resolve();
    // A look under way may have read the index just before that run committed: look once more
    // after it (joined, the new version waited for the next interval: edits took 2.1 s, not 1).
    if (options.now && this.refreshing) return this.refreshing.then(() => this.refresh({ now: true }));
    this.refreshing ??= (async () => {
      try {
        this.checkedAt = Date.now();
        if ((await this.view.store.latestMeta('indexedAt')) === this.view.indexedAt) return;
        await this.reopen(this.view);
      } catch {
        // Mid-rebuild or unreadable for a moment: keep answering from the current version.
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  /**
   * Runs `read` on the current version, held open until it is done, and, if a writer has cleaned
   * that version up meanwhile (an update keeps only the newest), once more on the newest.
   */
  readFresh<T>(read: (view: IndexView) => Promise<T>): Promise<T> {
    return this.turns(() => this.readNewest(read));
  }

  private async readNewest<T>(read: (view: IndexView) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const began = this.view;
      began.acquire();
      try {
        return await read(began);
      } catch (err) {
        if (!isVanishedVersion(err) || attempt === VANISHED_ATTEMPTS) throw err;
        // Every request that was on the vanished version lands here: they share one reopening,
        // and one that fails after another request replaced the version just asks again.
        if (this.view === began) await this.reopen(began);
      } finally {
        began.release();
      }
    }
  }

  /**
   * Opens the newest version in place of `stale`, one opening at a time whoever asks (a refresh,
   * requests whose version vanished); an update still cleaning up may take a moment.
   */
  private reopen(stale: IndexView): Promise<void> {
    this.reopening ??= (async () => {
      const clock = phaseClock('searcher');
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            this.replaceView(await IndexView.open(this.db, this.resident, stale));
            return clock.mark('opened the newest version');
          } catch (err) {
            if (!isVanishedVersion(err) || attempt === VANISHED_ATTEMPTS) throw err;
            await new Promise((r) => setTimeout(r, 50 * attempt));
          }
        }
      } finally {
        this.reopening = undefined;
      }
    })();
    return this.reopening;
  }

  private replaceView(next: IndexView): void {
    const old = this.view;
    this.view = next;
    old.retire();
  }

  /**
   * While an update of this index runs beside the server (`serve --watch`), requests read one
   * fewer at a time: with every core busy answering, the update's process got so little CPU that
   * a saved file took up to 5 s to be searchable.
   */
  yieldToWriter(writing: boolean): void {
    this.turns.concurrency = writing ? Math.max(1, READERS_AT_ONCE - 1) : this.readersAtOnce;
  }

  searchRanked(query: string, options: SearchOptions = {}): Promise<DiversifiedHit[]> {
    void this.refresh();
    return this.readFresh((view) => this.searchView(view, query, options));
  }

  /** One query's fused list before it is shown: what `presentHits` folds, caps and cuts. */
  searchFused(query: string, options: SearchOptions = {}): Promise<FusedList> {
    void this.refresh();
    return this.readFresh((view) => this.fuseView(view, query, options));
  }

  /** Searches one version: a request that reads more than a search stays on the version it began on. */
  async searchView(view: IndexView, query: string, options: SearchOptions = {}): Promise<DiversifiedHit[]> {
    return presentHits(await this.fuseView(view, query, options), options);
  }

  private async fuseView(view: IndexView, query: string, options: SearchOptions): Promise<FusedList> {
    const parsed = await readingOf(query, view.reader);
    const k = options.k ?? DEFAULT_K;
    const mode = options.mode ?? 'hybrid';
    if (mode === 'vector' && !view.embedding) {
      throw new SearchModeError("this index has no vectors (it was built with '--embedder none'); re-index with an embedder or search with --mode lexical");
    }
    // A named symbol or a type is looked up, not interpreted: hybrid skips the vectors for it.
    const wantsVectors = mode === 'vector' || (!parsed.isSymbol && !parsed.type);
    const names = RETRIEVERS[mode].filter((n) => n !== 'vector' || (view.embedding && wantsVectors));
    const limit = Math.max(CANDIDATES_PER_RETRIEVER, k);
    const embedQuery: QueryEmbedding = (q, codeTerms) => view.embedQuery(q, codeTerms, this.embedderRetryMs);
    let nearest: Promise<VectorHit[]> | undefined;
    const sources: RetrievalSources = {
      store: view.reader,
      shown: k,
      rerankOnly: mode === 'hybrid',
      directories: view.context.directories,
      neighbours: names.includes('vector') ? () => (nearest ??= neighboursOf(parsed, view.reader, embedQuery, limit)) : undefined,
    };
    const lists = await Promise.all(
      names.map((n) => {
        const listed = getRetriever(n).retrieve(parsed, sources, limit);
        return n === 'vector' && mode === 'hybrid' ? listed.catch((err: unknown) => withoutVectors(err, options.onWarning)) : listed;
      }),
    );
    const byRetriever = new Map<string, Candidate[]>(names.map((n, i) => [n, lists[i]!]));
    // Vector-only ranks by similarity alone, so the dense signal can be compared with the others.
    const ranked = mode === 'vector' ? byRetriever.get('vector')!.flatMap(({ chunk }) => (chunk ? [{ chunk, score: chunk.rawScore, trace: [['similarity', chunk.rawScore] as const] }] : [])) : fuse(parsed, byRetriever, { ...view.context, explain: options.explain });
    return { parsed, mode, ranked };
  }

  async search(query: string, options: SearchOptions = {}): Promise<SearchResult[]> {
    const hits = await this.searchRanked(query, options);
    return hits.map((hit) => toResult(hit, options.explain));
  }

  /**
   * Definitions of one identifier or qualified name (`Hashtbl.find_opt`), best first, declarations
   * beside definitions. A lookup is a few map reads (at most a few fuzzy ones in LanceDB), so it
   * does not queue behind searches and context windows: go-to-definition stays instant under load.
   */
  async lookupSymbol(name: string, k = DEFAULT_K): Promise<SearchResult[]> {
    void this.refresh();
    const parsed = parseQuery(name);
    if (!parsed.isSymbol) throw new SearchModeError(`'${name}' is not an identifier or a qualified name`);
    const candidates = await this.readNewest((view) => getRetriever('symbol').retrieve(parsed, { store: view.reader, shown: k }, Math.max(CANDIDATES_PER_RETRIEVER, k)));
    const ranked = candidates.flatMap(({ chunk, score }) => (chunk ? [{ chunk, score, trace: [['symbol', score] as const] }] : [])).sort((a, b) => b.score - a.score);
    return withCounterpartSecond(ranked).slice(0, k).map((hit) => toResult(hit));
  }

  close(): void {
    this.view.close();
  }
}

/**
 * LanceDB's error for a file of the version being read that is gone: a data, deletion, index or
 * manifest file (`lance error: Not found: …/data/….lance`, `…/_deletions/….arrow`).
 */
function isVanishedVersion(err: unknown): boolean {
  // A newer run that learnt a new static model dropped the old one's table with its version.
  if (err instanceof ModelMissingError) return true;
  if (!(err instanceof Error)) return false;
  // A data, deletion, index or manifest file of a version cleaned up, or a table dropped.
  return /\bNot found: \S+\.(lance|arrow|manifest|txn|idx)\b|Object at location \S+ not found|Table '[^']+' was not found/s.test(err.message);
}

/**
 * A hybrid search whose embedder is out of reach (its server down) answers from the lexical
 * retrievers and says so; any other embedder failure (another model now) is an error.
 */
function withoutVectors(err: unknown, onWarning: ((message: string) => void) | undefined): Candidate[] {
  if (!(err instanceof EmbedderUnavailableError)) throw err;
  onWarning?.(`lexical results only: ${err.message}`);
  return [];
}

/**
 * The list a fused one shows: a symbol lookup its definition and declaration together, a question
 * more answers (pairs folded, vendored copies left out, one file not filling the list).
 */
export function presentHits(fused: FusedList, options: Pick<SearchOptions, 'k' | 'pairs' | 'perFile'> = {}): DiversifiedHit[] {
  const { parsed, mode, ranked } = fused;
  const k = options.k ?? DEFAULT_K;
  if (parsed.isSymbol && mode !== 'vector') return withCounterpartSecond(ranked).slice(0, k);
  const shown = capPerFile(foldCopies(options.pairs === 'separate' ? ranked : collapsePairs(ranked)), options.perFile).slice(0, k);
  return parsed.asksWhere ? implementationFirst(shown) : shown;
}

/** A symbol lookup shows the best definition and its declaration (.ml ↔ .mli) together. */
function withCounterpartSecond(ranked: RankedHit[]): RankedHit[] {
  const top = ranked[0];
  if (!top?.chunk.counterpart) return ranked;
  const i = ranked.findIndex((h) => h.chunk.id === top.chunk.counterpart);
  if (i <= 1) return ranked;
  const pair = ranked[i]!;
  // It jumps the hits between, so it takes the score of the first it jumps: still descending.
  const promoted = { ...pair, score: ranked[1]!.score, trace: [...pair.trace, ['paired-with-top', ranked[1]!.score - pair.score] as const] };
  return [top, promoted, ...ranked.slice(1, i), ...ranked.slice(i + 1)];
}

/**
 * The query as read, or as the qualified name it spells with spaces for dots when the index
 * defines that name: "In_channel fold_lines" ranked `input_lines` and `iter_lines` first as prose.
 */
async function readingOf(query: string, store: ChunkReader): Promise<ParsedQuery> {
  const spaced = spacedQualifiedName(query);
  if (!spaced) return parseQuery(query);
  const dotted = qualifiedName(spaced);
  const defined = await store.byName([spaced.name], 1, { withText: false, symbolSuffix: dotted });
  return parseQuery(defined.length > 0 ? dotted : query);
}

function toResult(hit: DiversifiedHit, explain = false): SearchResult {
  const c = hit.chunk;
  const p = hit.partner?.chunk;
  return {
    path: c.path,
    startLine: c.startLine,
    endLine: c.endLine,
    name: c.name,
    symbol: c.symbol,
    kind: c.kind,
    score: Number(hit.score.toFixed(4)),
    doc: c.doc || p?.doc || '',
    snippet: c.text.split('\n').slice(0, SNIPPET_LINES).join('\n'),
    ...(p ? { counterpart: { path: p.path, startLine: p.startLine, endLine: p.endLine } } : {}),
    ...(explain ? { explain: hit.trace.map(([signal, points]) => ({ signal, points: Number(points.toFixed(4)) })) } : {}),
  };
}
