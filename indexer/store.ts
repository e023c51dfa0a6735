// The only module that imports LanceDB. Tables in one database directory:
//   chunks  — one row per chunk, with identifier-aware token columns under full-text indexes
//   files   — one row per indexed file: content hash, mtime, size (what incremental runs compare)
//   meta    — key/value: fingerprint, whether a write was interrupted, the embedder
//   vectors-<embedder id> — one row per embedded chunk: chunk id, the content hash it was embedded from, vector
//   model-<model id> — the corpus-trained static embedding model: token, idf, vector
import { readdirSync, rmdirSync, type Dirent } from 'node:fs';
import { isRemoteIndex } from './location.js';
import { camelFamily, unitOfFile } from './modules.js';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, FixedSizeList, Float32, Float64, Int32, Schema, Table as ArrowTable, Utf8, makeData, makeVector, vectorFromArray } from 'apache-arrow';
import type { Chunk, ChunkKind, FileRelation, SourceLang } from './types.js';
import type { EmbedInput } from './embed/embedder.js';
import { StaticModel } from './embed/static-model.js';
import { phaseClock } from './timings.js';
import { hasPart, wholeWordTokens } from './text.js';

export const CHUNKS = 'chunks';
export const FILES = 'files';
export const META = 'meta';
/**
 * Embedding tables are named after the model that made them (`vectors-static-96d-5458fe3f7ba9`),
 * so a new model's tables are written beside the old ones: a reader keeps answering from the
 * old until it switches, and stale ones are dropped by a later run.
 */
const VECTORS_PREFIX = 'vectors-';
const MODEL_PREFIX = 'model-';
const tableSafe = (id: string) => id.replace(/[^A-Za-z0-9_.-]/g, '_');
export const vectorsTable = (embedderId: string) => `${VECTORS_PREFIX}${tableSafe(embedderId)}`;
export const modelTable = (modelId: string) => `${MODEL_PREFIX}${tableSafe(modelId)}`;

const QUERY_INDEX_CACHE_BYTES = BigInt(256 * 1024 ** 2);
const QUERY_METADATA_CACHE_BYTES = BigInt(64 * 1024 ** 2);
/**
 * One cache for every reader in the process: a server opens each new index version as it comes
 * (every second or so under `serve --watch`), and a session per version made the caches, and
 * the RSS, grow with each (614 MB → 1.8 GB over 30 saved files).
 */
let querySession: lancedb.Session | undefined;

/** Bytes in the caches that every index version opened for search shares (0 before the first). */
export function searchCacheBytes(): number {
  return Number(querySession?.sizeBytes() ?? 0n);
}

/** Lance's full-text tokenizer drops longer tokens: they are neither indexed nor searched. */
export const FTS_MAX_TOKEN_LENGTH = 40;
/** Past this many definitions holding a quoted message's words, its text is scanned in full. */
const LITERAL_CANDIDATES = 1000;

/** How many name terms a fuzzy match expands to (the resident reader's term index does the same). */
export const FUZZY_EXPANSIONS = 20;

/** Below this many vectors, exact search is fast enough and needs no index. */
const ANN_MIN_ROWS = 20_000;
/**
 * The vector signal is membership of the nearest 200, and IVF's k-means and RaBitQ's rotation are
 * random, so two builds of the same code and model differ a little. Dev questions, full corpus,
 * two builds (`scratch`): at 4 bits a dimension 94–95% of the exact 200, the builds agreeing on
 * 92.8% and ranking 10 of 40 cases differently; at 8 bits 97–98%, 96.8%, 3–5 of 40, but the
 * index took 2.6 s to build instead of 1.1 s (cold index with embeddings 1.92× the lexical one,
 * against 1.69×) and a server answered 3% fewer searches a second. Re-ranking twice the
 * candidates by their full vectors (refine factor 2, 60 probes): 99.5%, 0 of 40, but a quarter
 * fewer searches a second (8 clients: 247–293 against 330–385).
 */
const VECTOR_BITS = 4;
const NPROBES = 20;
const VECTOR_INDEX_TYPE = 'IvfRq';

/** Columns holding `tokenize` output; the FTS indexes are built over them. */
export const NAME_TOKENS = 'name_tokens';
export const BODY_TOKENS = 'body_tokens';
export const TYPE_TOKENS = 'type_tokens';
export const REFS = 'refs';

export interface FileState {
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  lines: number;
  chunks: number;
  relations: FileRelation[];
  skipped: string;
  /**
   * When a run last wrote this file's chunks (ISO time). A file can be re-chunked unchanged (a
   * new library name in its dune file): readers that keep chunks in memory compare this.
   */
  chunkedAt: string;
}

/** A chunk as stored, plus the tokens the indexer derived from it. */
export interface StoredChunk extends Chunk {
  nameTokens: string;
  /** Tokens of the doc comment (the declaration's when the definition has none). */
  docTokens: string;
  bodyTokens: string;
  /** Type-search tokens of a `val`/`external` signature (signature.ts); '' otherwise. */
  typeTokens: string;
  /** Value names the code uses, as identifier compounds: the symbol graph's edges. */
  refs: string;
  /** Hash of everything an embedder reads: vectors are re-made only when it changes. */
  contentHash: string;
}

/** A vector search hit: the chunk id and its cosine similarity to the query. */
export interface VectorHit {
  id: string;
  similarity: number;
}

export interface ChunkHit extends Chunk {
  /** Retriever-specific raw score (BM25 for full text). */
  rawScore: number;
  /** The indexed tokens of name and body (full-text hits only), for query-coverage scoring. */
  tokens?: TokenSet;
}

/** What ranking asks of a definition's indexed tokens: whether one is there. */
export interface TokenSet {
  has(token: string): boolean;
}

/**
 * Distinct tokens, space-separated (`distinctTokens`), searched in place: splitting every
 * candidate's tokens into a set cost more than the rest of fusion.
 */
export class TokenString implements TokenSet {
  constructor(private readonly tokens: string) {}

  has(token: string): boolean {
    return hasPart(this.tokens, token, ' ');
  }
}

/**
 * Everything the query side reads from the chunks (and vectors) of one index version. The store
 * answers each call from LanceDB (a one-shot CLI run); a long-lived reader answers from memory
 * what it can (server/resident.ts).
 */
export interface ChunkReader {
  fullText(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<ChunkHit[]>;
  /** `fullText`'s ranking as ids and BM25 scores alone, best first: no definition is read. */
  fullTextRanks(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<RankedId[]>;
  /** The definitions of some of a ranking (`fullTextRanks`), as `chunksByIds` reads them. */
  readRanked(ranked: readonly RankedId[]): Promise<ChunkHit[]>;
  nearest(vector: Float32Array, limit: number): Promise<VectorHit[]>;
  chunksByIds(ids: readonly string[]): Promise<ChunkHit[]>;
  typeCandidates(tokens: readonly string[], limit: number): Promise<ChunkHit[]>;
  chunksOfFile(path: string): Promise<ChunkHit[]>;
  referencesOf(ids: readonly string[]): Promise<Map<string, string[]>>;
  usersOf(nameCompound: string, limit: number, options?: { pathContains?: string }): Promise<ChunkHit[]>;
  typesNamed(name: string, limit: number, options?: { symbolSuffix?: string; paths?: readonly string[] }): Promise<ChunkHit[]>;
  /**
   * The definitions whose name or body holds every one of `tokens`, in no particular order; none
   * when more than `limit` do (a combination that common singles nothing out).
   */
  holdingEvery(tokens: readonly string[], limit: number): Promise<ChunkHit[]>;
  /** `words`: whole words the matching text holds (a hint that a reader may use to look at fewer definitions). */
  chunksContaining(fragments: readonly string[], limit: number, words?: readonly string[]): Promise<ChunkHit[]>;
  siblings(module: string, namePrefix: string, limit: number): Promise<ChunkHit[]>;
  byName(names: readonly string[], limit: number, options?: ByNameOptions): Promise<ChunkHit[]>;
  fuzzyName(token: string, limit: number, fuzziness: number): Promise<ChunkHit[]>;
  /** The modules a file `include`s (`List1`, `Sequential_composition`), as written; none for a file not indexed. */
  includedModules(path: string): Promise<string[]>;
}

/** A definition's id and its retriever's score, unread. */
export interface RankedId {
  id: string;
  score: number;
  /** Its row in the index version ranked, where the reader has row addresses: `readRanked` reads by it. */
  rowId?: bigint;
}

/**
 * What `byName` reads: rows without `doc` and `text`, under a path prefix, of some kinds or one
 * language, or whose symbol is or ends with a qualified name (`Or_error.t`).
 */
export interface ByNameOptions {
  withText?: boolean;
  pathPrefix?: string;
  kinds?: readonly string[];
  lang?: string;
  symbolSuffix?: string;
}

/** Whether `symbol` is the qualified name `qualified` or ends with it (`Base.Or_error.t` for `Or_error.t`). */
export function symbolEndsWith(symbol: string, qualified: string): boolean {
  return symbol === qualified || symbol.endsWith(`.${qualified}`);
}

/** A full-text match over one of the token columns, as `matchIds` and the hit readers run it. */
export type TextMatch =
  | { column: 'fulltext'; tokens: readonly string[]; boosts: { name: number; body: number } }
  | { column: 'type'; tokens: readonly string[] }
  | { column: 'refs'; compound: string; pathContains?: string }
  | { column: 'name'; token: string; fuzziness: number };

/** One chunk row as a resident reader reads it: the chunk, its full-text columns and its references. */
export interface ChunkRecord {
  chunk: Chunk;
  /** The full-text columns as stored: name and body tokens, space-separated. */
  nameTokens: string;
  bodyTokens: string;
  /** The value names its code uses, as identifier compounds. */
  refs: string[];
}

const chunkSchema = new Schema([
  new Field('id', new Utf8(), false),
  new Field('path', new Utf8(), false),
  new Field('lang', new Utf8(), false),
  new Field('start_line', new Int32(), false),
  new Field('end_line', new Int32(), false),
  new Field('name', new Utf8(), false),
  new Field('name_lc', new Utf8(), false),
  new Field('symbol', new Utf8(), false),
  new Field('kind', new Utf8(), false),
  new Field('doc', new Utf8(), false),
  new Field('text', new Utf8(), false),
  new Field('part', new Int32(), false),
  new Field('parts', new Int32(), false),
  new Field('depth', new Int32(), false),
  new Field('counterpart', new Utf8(), false),
  new Field(NAME_TOKENS, new Utf8(), false),
  new Field('doc_tokens', new Utf8(), false),
  new Field(BODY_TOKENS, new Utf8(), false),
  new Field(TYPE_TOKENS, new Utf8(), false),
  new Field(REFS, new Utf8(), false),
  new Field('content_hash', new Utf8(), false),
]);

/** A FixedSizeList<Float32> column straight from one flat array: no per-row JS arrays. */
function vectorColumn(flat: Float32Array, dims: number) {
  const type = new FixedSizeList(dims, new Field('item', new Float32(), true));
  const child = makeData({ type: new Float32(), length: flat.length, data: flat });
  return makeVector(makeData({ type, length: flat.length / dims, nullCount: 0, child }));
}

function flatten(vectors: readonly Float32Array[], dims: number): Float32Array {
  const flat = new Float32Array(vectors.length * dims);
  vectors.forEach((v, i) => flat.set(v, i * dims));
  return flat;
}

const fileSchema = new Schema([
  new Field('path', new Utf8(), false),
  new Field('hash', new Utf8(), false),
  new Field('size', new Float64(), false),
  new Field('mtime_ms', new Float64(), false),
  new Field('lines', new Int32(), false),
  new Field('chunks', new Int32(), false),
  new Field('relations', new Utf8(), false),
  new Field('skipped', new Utf8(), false),
  new Field('chunked_at', new Utf8(), false),
]);

const metaSchema = new Schema([new Field('key', new Utf8(), false), new Field('value', new Utf8(), false)]);

const READ_COLUMNS = ['id', 'path', 'lang', 'start_line', 'end_line', 'name', 'symbol', 'kind', 'doc', 'text', 'part', 'parts', 'depth', 'counterpart'];
/** Where a definition is and what it is, without its text: for choosing among many. */
const LOCATION_COLUMNS = READ_COLUMNS.filter((c) => c !== 'doc' && c !== 'text');

/**
 * A Utf8 column written straight into one buffer: Arrow's generic builder took 3 of the 3.5 s the
 * main thread spent converting the full corpus's chunks.
 */
function utf8Column(values: readonly string[]) {
  let bytes = 0;
  for (const v of values) bytes += Buffer.byteLength(v);
  const data = Buffer.allocUnsafe(bytes);
  const valueOffsets = new Int32Array(values.length + 1);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    at += data.write(values[i]!, at);
    valueOffsets[i + 1] = at;
  }
  return makeVector(makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets, data }));
}

function column(values: unknown[], type: Schema['fields'][number]['type']) {
  if (type instanceof Utf8) return utf8Column(values as string[]);
  if (type instanceof Int32) return makeVector(Int32Array.from(values as number[]));
  if (type instanceof Float64) return makeVector(Float64Array.from(values as number[]));
  return vectorFromArray(values, type);
}

function columns(schema: Schema, data: Record<string, unknown[]>): ArrowTable {
  const vectors: Record<string, ReturnType<typeof column>> = {};
  for (const field of schema.fields) vectors[field.name] = column(data[field.name]!, field.type);
  return new ArrowTable(vectors);
}

function chunkBatch(chunks: StoredChunk[]): ArrowTable {
  return columns(chunkSchema, {
    id: chunks.map((c) => c.id),
    path: chunks.map((c) => c.path),
    lang: chunks.map((c) => c.lang),
    start_line: chunks.map((c) => c.startLine),
    end_line: chunks.map((c) => c.endLine),
    name: chunks.map((c) => c.name),
    name_lc: chunks.map((c) => c.name.toLowerCase()),
    symbol: chunks.map((c) => c.symbol),
    kind: chunks.map((c) => c.kind),
    doc: chunks.map((c) => c.doc),
    text: chunks.map((c) => c.text),
    part: chunks.map((c) => c.part),
    parts: chunks.map((c) => c.parts),
    depth: chunks.map((c) => c.depth),
    counterpart: chunks.map((c) => c.counterpart),
    [NAME_TOKENS]: chunks.map((c) => c.nameTokens),
    doc_tokens: chunks.map((c) => c.docTokens),
    [BODY_TOKENS]: chunks.map((c) => c.bodyTokens),
    [TYPE_TOKENS]: chunks.map((c) => c.typeTokens),
    [REFS]: chunks.map((c) => c.refs),
    content_hash: chunks.map((c) => c.contentHash),
  });
}

function fileBatch(files: FileState[]): ArrowTable {
  return columns(fileSchema, {
    path: files.map((f) => f.path),
    hash: files.map((f) => f.hash),
    size: files.map((f) => f.size),
    mtime_ms: files.map((f) => f.mtimeMs),
    lines: files.map((f) => f.lines),
    chunks: files.map((f) => f.chunks),
    relations: files.map((f) => JSON.stringify(f.relations)),
    skipped: files.map((f) => f.skipped),
    chunked_at: files.map((f) => f.chunkedAt),
  });
}

/** SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** `s` inside a LIKE pattern as itself: `_` and `%` are wildcards there, `\\` escapes them. */
function likeLiteral(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function chunked<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

function inList(column: string, values: readonly string[]): string {
  return `${column} IN (${values.map(sqlString).join(', ')})`;
}

type Row = Record<string, unknown>;

/** Rows as plain objects, read column by column: Arrow's row proxies cost more than the query. */
function plainRows(table: Pick<ArrowTable, 'schema' | 'numRows' | 'getChild'>): Row[] {
  const names = table.schema.fields.map((f) => f.name);
  const columns = names.map((n) => table.getChild(n)!.toArray() as ArrayLike<unknown>);
  const rows: Row[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    const row: Row = {};
    for (let c = 0; c < names.length; c++) row[names[c]!] = columns[c]![i];
    rows[i] = row;
  }
  return rows;
}

/**
 * LanceDB's cleanup deletes a superseded index's files but leaves its directory (lance#8320):
 * one per index per update, without bound under a live index.
 */
function removeEmptyIndexDirs(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    try {
      rmdirSync(join(dir, entry.name)); // fails, as it should, unless empty
    } catch {
      // not empty: a kept index
    }
  }
}

/**
 * A chunk query's rows as hits: `_score` becomes `rawScore` (0 without one), the token columns
 * become `tokens` when selected, and `doc`/`text` are '' when left out of the selection.
 */
async function readHits(query: { toArrow(): Promise<ArrowTable> }): Promise<ChunkHit[]> {
  return plainRows(await query.toArrow()).map((r) =>
    chunkHit(
      rowToChunk({ doc: '', text: '', ...r }),
      (r._score as number | undefined) ?? 0,
      NAME_TOKENS in r ? new TokenString(distinctTokens(r[NAME_TOKENS] as string, r[BODY_TOKENS] as string)) : undefined,
    ),
  );
}

/**
 * A hit on `c`, field by field: `{ ...c, rawScore }` made objects four times the size and cost
 * 6 µs each (a search makes hundreds), where a literal of one shape costs 0.5 µs.
 */
export function chunkHit(c: Chunk, rawScore: number, tokens?: TokenSet, withText = true): ChunkHit {
  return {
    id: c.id,
    path: c.path,
    lang: c.lang,
    startLine: c.startLine,
    endLine: c.endLine,
    name: c.name,
    symbol: c.symbol,
    kind: c.kind,
    doc: withText ? c.doc : '',
    text: withText ? c.text : '',
    part: c.part,
    parts: c.parts,
    depth: c.depth,
    counterpart: c.counterpart,
    rawScore,
    tokens,
  };
}

/**
 * A definition's name and body tokens, each once: all that ranking asks of them is whether a
 * query token is there (a server asks its term index instead).
 */
export function distinctTokens(name: string, body: string): string {
  const seen = new Set<string>();
  for (const text of [name, body]) for (const t of text.split(' ')) if (t) seen.add(t);
  return [...seen].join(' ');
}

/** The refs column: distinct compounds joined by single spaces. `split` alone sizes the array exactly. */
function splitRefs(refs: string): string[] {
  return refs ? refs.split(' ') : [];
}

function rowToChunk(r: Row): Chunk {
  return {
    id: r.id as string,
    path: r.path as string,
    lang: r.lang as SourceLang,
    startLine: r.start_line as number,
    endLine: r.end_line as number,
    name: r.name as string,
    symbol: r.symbol as string,
    kind: r.kind as ChunkKind,
    doc: r.doc as string,
    text: r.text as string,
    part: r.part as number,
    parts: r.parts as number,
    depth: r.depth as number,
    counterpart: r.counterpart as string,
  };
}

export class IndexMissingError extends Error {}

/** How long superseded versions stay on an object store: longer than any writer's run. */
const REMOTE_VERSIONS_KEPT_MS = 60 * 60_000;

/**
 * Runs `commit` on `table` again (up to 5 times, with backoff) when another writer's commit
 * preempted it, from the newest version: the handle stays on the one it last read, so a plain
 * retry would conflict with the same commit again.
 */
async function againOnConflict<T>(table: lancedb.Table, commit: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await commit();
    } catch (err) {
      if (attempt >= 5 || !/Retryable commit conflict/i.test((err as Error).message ?? '')) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt * (0.5 + Math.random())));
      await table.checkoutLatest();
    }
  }
}

const isNotFound = (err: unknown) => /was not found|not found: /i.test((err as Error).message ?? '');

/**
 * Table `name` if it exists. A local directory is listed; an object store is asked for the
 * table itself, since some S3-compatible servers (s3rver) list none.
 */
async function openExisting(db: lancedb.Connection, uri: string, name: string): Promise<lancedb.Table | undefined> {
  if (!isRemoteIndex(uri) && !(await db.tableNames()).includes(name)) return undefined;
  // Listed a moment ago, dropped since (a newer run replaced that model): gone as well.
  try {
    return await db.openTable(name);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function dropIfExists(db: lancedb.Connection, name: string): Promise<void> {
  try {
    await db.dropTable(name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

function isEmptyMatch(match: TextMatch): boolean {
  return match.column === 'refs' ? !match.compound : match.column === 'name' ? !match.token : match.tokens.length === 0;
}

export class IndexStore implements ChunkReader {
  private constructor(
    readonly uri: string,
    private readonly db: lancedb.Connection,
    private chunks: lancedb.Table | undefined,
    private files: lancedb.Table | undefined,
    private meta: lancedb.Table | undefined,
    private vectors: lancedb.Table | undefined = undefined,
    /** The embedder whose vectors this store reads and writes ('' for none). */
    private embedderId = '',
  ) {}

  /** Reads and writes the vectors of `embedderId` from now on (its table may not exist yet). */
  async useEmbedder(embedderId: string): Promise<void> {
    if (embedderId === this.embedderId) return;
    this.vectors?.close();
    this.vectors = undefined;
    this.embedderId = embedderId;
    if (embedderId) this.vectors = await openExisting(this.db, this.uri, vectorsTable(embedderId));
  }

  /** Drops the embedding tables of every model but `keepId`: earlier runs superseded them. */
  async dropStaleEmbeddings(keepId: string): Promise<void> {
    // On a shared store another host may have just switched the index to a model of its own:
    // its tables are not stale, and this run's are dropped by that host instead.
    if (!this.isLocal && ((await this.latestMeta('embedder_id')) ?? keepId) !== keepId) return;
    const keep = new Set([vectorsTable(keepId), modelTable(keepId)]);
    for (const name of await this.db.tableNames()) {
      if ((name.startsWith(VECTORS_PREFIX) || name.startsWith(MODEL_PREFIX)) && !keep.has(name)) await this.db.dropTable(name);
    }
  }

  /**
   * Opens the index for writing. A table that cannot be loaded (a crash while LanceDB was
   * creating it leaves data files without a version) is dropped, and `damaged` tells the caller
   * to rebuild: the other tables no longer describe the same index.
   */
  static async open(uri: string): Promise<IndexStore & { damaged: boolean }> {
    const db = await lancedb.connect(uri);
    if (isRemoteIndex(uri)) {
      // On a shared store an unreadable table may be another writer's moment, or the network:
      // never dropped from here.
      const [chunks, files, meta] = await Promise.all([CHUNKS, FILES, META].map((n) => openExisting(db, uri, n)));
      const store = new IndexStore(uri, db, chunks, files, meta);
      await store.useEmbedder((await store.getMeta('embedder_id')) ?? '');
      return Object.assign(store, { damaged: false });
    }
    const names = new Set(await db.tableNames());
    let damaged = false;
    const open = async (n: string) => {
      if (!names.has(n)) return undefined;
      try {
        return await db.openTable(n);
      } catch {
        damaged = true;
        await db.dropTable(n);
        return undefined;
      }
    };
    const store = new IndexStore(uri, db, await open(CHUNKS), await open(FILES), await open(META));
    await store.useEmbedder((await store.getMeta('embedder_id')) ?? '');
    return Object.assign(store, { damaged });
  }

  /** Opens for reading; throws IndexMissingError when there is nothing (whole) to search. */
  static async openForSearch(uri: string): Promise<IndexStore> {
    // Bounded caches for a long-lived reader (a sidecar, a server) instead of LanceDB's defaults
    // (6 GB of index, 1 GB of metadata), shared by every version it opens. Passed in the options:
    // @lancedb/lancedb 0.37's `connect(uri, options, session)` drops a session given as its
    // third argument, and each connection then made default caches of its own.
    querySession ??= new lancedb.Session(QUERY_INDEX_CACHE_BYTES, QUERY_METADATA_CACHE_BYTES);
    const db = await lancedb.connect(uri, { session: querySession });
    const remote = isRemoteIndex(uri);
    const names = remote ? undefined : new Set(await db.tableNames());
    if (names && !names.has(CHUNKS)) throw new IndexMissingError(`no codesearch index at ${uri}`);
    try {
      const [chunks, files, meta] = await Promise.all([CHUNKS, FILES, META].map((n) => (names ? (names.has(n) ? db.openTable(n) : undefined) : openExisting(db, uri, n))));
      if (!chunks) throw new IndexMissingError(`no codesearch index at ${uri}`);
      const store = new IndexStore(uri, db, chunks, files, meta);
      await store.useEmbedder((await store.getMeta('embedder_id')) ?? '');
      return store;
    } catch (err) {
      db.close();
      if (err instanceof IndexMissingError || remote) throw err;
      throw new IndexMissingError(`the index at ${uri} is damaged (${(err as Error).message.split('\n')[0]}); run 'codesearch index' to rebuild it`);
    }
  }

  /** A directory on this machine (not an object-store URI): files may be kept beside the tables. */
  get isLocal(): boolean {
    return !isRemoteIndex(this.uri);
  }

  // ---- meta ----

  async getMeta(key: string): Promise<string | undefined> {
    if (!this.meta) return undefined;
    const rows = await this.meta.query().where(`key = ${sqlString(key)}`).toArray();
    return rows[0]?.value as string | undefined;
  }

  /** A meta value as the newest committed version has it (this store's tables stay on theirs). */
  async latestMeta(key: string): Promise<string | undefined> {
    const table = await this.db.openTable(META);
    try {
      const rows = await table.query().where(`key = ${sqlString(key)}`).toArray();
      return rows[0]?.value as string | undefined;
    } finally {
      table.close();
    }
  }

  async setMeta(entries: Record<string, string>): Promise<void> {
    const keys = Object.keys(entries);
    const data = columns(metaSchema, { key: keys, value: keys.map((k) => entries[k]) });
    if (!this.meta) {
      this.meta = await this.db.createTable(META, data);
      return;
    }
    await this.meta.mergeInsert('key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
  }

  // ---- write side ----

  /**
   * The chunks, files and meta tables, for processes writing one index together: the first
   * shard creates those missing, the others wait for them. Two processes creating one table
   * at once do not fail: the later commit overwrites the earlier's rows.
   */
  async ensureTables(creator: boolean, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.chunks ??= await this.sharedTable(CHUNKS, chunkSchema, creator, deadline);
    this.files ??= await this.sharedTable(FILES, fileSchema, creator, deadline);
    this.meta ??= await this.sharedTable(META, metaSchema, creator, deadline);
  }

  /** The vectors table of the current embedder, made by the first shard, awaited by the others (as `ensureTables`). */
  async ensureVectorTable(creator: boolean, dims: number, timeoutMs = 120_000): Promise<void> {
    const schema = new ArrowTable({ id: utf8Column([]), hash: utf8Column([]), vector: vectorColumn(new Float32Array(0), dims) }).schema;
    this.vectors ??= await this.sharedTable(vectorsTable(this.embedderId), schema, creator, Date.now() + timeoutMs);
  }

  /** Table `name`: opened, or made empty by the `creator`, or waited for until `deadline`. */
  private async sharedTable(name: string, schema: Schema, creator: boolean, deadline: number): Promise<lancedb.Table> {
    for (;;) {
      const table = (await openExisting(this.db, this.uri, name)) ?? (creator ? await this.db.createEmptyTable(name, schema) : undefined);
      if (table) return table;
      if (Date.now() > deadline) throw new IndexMissingError(`the first shard has not created ${name} at ${this.uri} in time; start shard 1 as well`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Drops every table: the index is rebuilt from scratch (another format wrote it). */
  async dropAll(): Promise<void> {
    // Named as well as listed: some S3-compatible servers (s3rver) list no tables.
    const known = [CHUNKS, FILES, META, ...(this.embedderId ? [vectorsTable(this.embedderId), modelTable(this.embedderId)] : [])];
    for (const name of new Set([...(await this.db.tableNames()), ...known])) await dropIfExists(this.db, name);
    this.chunks = this.files = this.meta = this.vectors = undefined;
  }

  /** The recorded state of every file, or of those `keep` accepts (a shard's own). */
  async fileStates(keep: (path: string) => boolean = () => true): Promise<Map<string, FileState>> {
    const states = new Map<string, FileState>();
    if (!this.files) return states;
    const columns = ['path', 'hash', 'size', 'mtime_ms', 'lines', 'chunks', 'relations', 'skipped', 'chunked_at'] as const;
    // Column by column: row objects (`batch.toArray()`) made this 4× slower (0.42 s for 49,000 files).
    for await (const batch of this.files.query().select([...columns])) {
      const [path, hash, size, mtimeMs, lines, chunks, relations, skipped, chunkedAt] = columns.map((c) => batch.getChild(c)!.toArray() as ArrayLike<unknown>);
      for (let i = 0; i < batch.numRows; i++) {
        const p = path![i] as string;
        if (!keep(p)) continue;
        states.set(p, {
          path: p,
          hash: hash![i] as string,
          size: Number(size![i]),
          mtimeMs: Number(mtimeMs![i]),
          lines: Number(lines![i]),
          chunks: Number(chunks![i]),
          relations: JSON.parse(relations![i] as string) as FileRelation[],
          skipped: skipped![i] as string,
          chunkedAt: chunkedAt![i] as string,
        });
      }
    }
    return states;
  }

  /** Each indexed file's content hash and last chunking, by path: what tells a reader which files to re-read. */
  async fileVersions(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!this.files) return out;
    for await (const batch of this.files.query().select(['path', 'hash', 'chunked_at'])) {
      const [paths, hashes, chunkedAt] = ['path', 'hash', 'chunked_at'].map((c) => batch.getChild(c)!.toArray() as string[]);
      for (let i = 0; i < paths!.length; i++) out.set(paths![i]!, `${hashes![i]} ${chunkedAt![i]}`);
    }
    return out;
  }

  /** Distinct paths present in the chunks table (to find rows an interrupted run left behind). */
  async chunkPaths(): Promise<Set<string>> {
    const paths = new Set<string>();
    if (!this.chunks) return paths;
    for await (const batch of this.chunks.query().select(['path'])) {
      for (const p of batch.getChild('path')!.toArray() as string[]) paths.add(p);
    }
    return paths;
  }

  /**
   * Writes the chunks of files seen for the first time: a plain append, the fast path of a
   * cold index. The caller guarantees no rows for these paths exist.
   */
  async appendChunks(chunks: StoredChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const data = chunkBatch(chunks);
    if (!this.chunks) this.chunks = await this.db.createTable(CHUNKS, data);
    else await this.chunks.add(data);
  }

  /**
   * Replaces all chunks of `paths` by `chunks` in one commit, so a reader (or a crash) sees
   * either the old or the new version of each file, never a mix.
   */
  async replaceChunks(paths: readonly string[], chunks: StoredChunk[]): Promise<void> {
    if (paths.length === 0) return;
    if (!this.chunks) return this.appendChunks(chunks);
    if (chunks.length === 0) {
      await this.chunks.delete(inList('path', paths));
      return;
    }
    await this.chunks
      .mergeInsert('id')
      .whenMatchedUpdateAll()
      .whenNotMatchedInsertAll()
      .whenNotMatchedBySourceDelete({ where: inList('path', paths) })
      .execute(chunkBatch(chunks));
  }

  async deleteChunksOf(paths: readonly string[]): Promise<void> {
    if (!this.chunks || paths.length === 0) return;
    for (let i = 0; i < paths.length; i += 500) await this.chunks.delete(inList('path', paths.slice(i, i + 500)));
  }

  async upsertFiles(files: FileState[]): Promise<void> {
    if (files.length === 0) return;
    const data = fileBatch(files);
    if (!this.files) {
      this.files = await this.db.createTable(FILES, data);
      return;
    }
    await this.files.mergeInsert('path').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
  }

  async deleteFiles(paths: readonly string[]): Promise<void> {
    if (!this.files || paths.length === 0) return;
    for (let i = 0; i < paths.length; i += 500) await this.files.delete(inList('path', paths.slice(i, i + 500)));
  }

  /**
   * Makes the latest rows searchable through indexes: builds missing ones and, unless put off,
   * compacts, folds new rows into the indexes and drops superseded versions, so the index does
   * not grow with each update (a reader still on a dropped version opens the newest and asks
   * again: Searcher.readFresh). `yieldTo`, asked before each table pass: true stops the pass
   * there (each pass is committed on its own), and `finalize` returns false. `oncePerTable`
   * skips the second pass that removes the index files the first one replaced: they stay until
   * the next pass.
   */
  async finalize(options: { fresh: boolean; optimize?: boolean; yieldTo?: () => boolean; oncePerTable?: boolean }): Promise<boolean> {
    await this.indexChunks();
    await this.indexVectors();
    // A fresh build has its indexes over every row and no old versions worth the compaction.
    // The caller may put the pass off (a live index does it when changes pause).
    if (options.fresh || options.optimize === false) return true;
    const clock = phaseClock('optimize');
    for (const table of this.tables()) {
      if (options.yieldTo?.()) return false;
      await this.optimizeTable(table);
      clock.mark(table.name);
      // LanceDB prunes before it folds new rows into the indexes, so the version just before
      // that (with the old index files) survives the pass; a second one removes it. Not for the
      // vectors: LanceDB rewrites an IVF index on every pass (12.5 MB on a million lines), so a
      // second pass would only trade that version for another — one superseded vector index
      // stays until the next update.
      if (table !== this.vectors && !options.oncePerTable) {
        if (options.yieldTo?.()) return false;
        await this.optimizeTable(table);
        clock.mark(`${table.name} again`);
      }
      if (this.isLocal) removeEmptyIndexDirs(join(this.uri, `${table.name}.lance`, '_indices'));
    }
    return true;
  }

  /** Whether the chunks table has its search indexes yet (a sharded build has none before its finalize). */
  async hasSearchIndexes(): Promise<boolean> {
    return !!this.chunks && (await this.chunks.listIndices()).length > 0;
  }

  /**
   * Merges every table's fragments (a sharded build leaves one per flush per shard) and drops
   * superseded versions: done before the indexes exist, it spares them a rewrite.
   */
  async compact(): Promise<void> {
    for (const table of this.tables()) await this.optimizeTable(table);
  }

  /**
   * Compaction, index folding and cleanup of one table. Two writers of a shared index may both
   * run it: LanceDB then refuses the later commit as a retryable conflict, and it is run again.
   */
  private optimizeTable(table: lancedb.Table) {
    // A local index has one writer (lock.ts) and readers that reopen a vanished version, so every
    // older version goes at once, and so do files no kept version names: leftovers of killed
    // runs, or index files LanceDB strands (lance#8321), not another writer's work in progress.
    // On a shared store another host may be writing from a version this pass would delete under
    // it: versions are kept there for REMOTE_VERSIONS_KEPT_MS, and unreferenced files by
    // LanceDB's own rule (7 days).
    const cleanupOlderThan = new Date(this.isLocal ? Date.now() : Date.now() - REMOTE_VERSIONS_KEPT_MS);
    return againOnConflict(table, () => table.optimize({ cleanupOlderThan, deleteUnverified: this.isLocal }));
  }

  /** The optimize pass, for a table in several fragments: one already whole (a sharded build's, compacted first) is left as it is. */
  private async compactFragments(table: lancedb.Table): Promise<void> {
    if ((await table.stats()).fragmentStats.numFragments > 1) await this.optimizeTable(table);
  }

  private tables(): lancedb.Table[] {
    return [this.chunks, this.files, this.meta, this.vectors].filter((t): t is lancedb.Table => t !== undefined);
  }

  /**
   * The full-text and scalar indexes of the chunks table that do not exist yet. `compactFirst`:
   * merges the fragments a cold build's flushes left (15 on the full corpus) before the indexes
   * are built over them; a one-shot search then took 14 ms at p50 instead of 17.
   */
  async indexChunks(options: { compactFirst?: boolean } = {}): Promise<void> {
    if (this.chunks && options.compactFirst) await this.compactFragments(this.chunks);
    if (this.chunks) {
      const existing = new Set((await this.chunks.listIndices()).flatMap((i) => i.columns));
      // Tokens are made by text.ts already; the index only splits on spaces and lower-cases.
      const fts = () => lancedb.Index.fts({ baseTokenizer: 'simple', withPosition: false, stem: false, removeStopWords: false, lowercase: true });
      const chunks = this.chunks;
      const wanted: [string, () => lancedb.Index][] = [
        [NAME_TOKENS, fts],
        [BODY_TOKENS, fts],
        [TYPE_TOKENS, fts],
        [REFS, fts],
        ['name_lc', lancedb.Index.btree],
        ['path', lancedb.Index.btree],
        // Vector hits are joined back to their chunks by id.
        ['id', lancedb.Index.btree],
      ];
      await Promise.all(wanted.filter(([column]) => !existing.has(column)).map(([column, config]) => chunks.createIndex(column, { config: config() })));
    }
  }

  // ---- embeddings ----

  /** Content hash of every chunk, by id: what the embed stage compares with the vectors' hashes. */
  async chunkContentHashes(paths?: readonly string[]): Promise<Map<string, string>> {
    return this.idColumn(this.chunks, 'content_hash', paths && chunked(paths, 500).map((part) => inList('path', part)));
  }

  /** The content hash each stored vector was made from, by chunk id. */
  async vectorHashes(paths?: readonly string[]): Promise<Map<string, string>> {
    // Chunk ids are `path#n`: a file's vectors lie between `path#` and `path$` (`$` follows `#`),
    // a range 4× cheaper than `LIKE 'path#%'` to scan (0.1 s against 0.4 s on 1.5M vectors). A
    // file named `a.ml#b.ml` falls in the range of `a.ml` too: the exact test follows.
    const ranges = paths?.map((p) => `(id >= ${sqlString(`${p}#`)} AND id < ${sqlString(`${p}$`)})`);
    const out = await this.idColumn(this.vectors, 'hash', ranges && chunked(ranges, 200).map((part) => part.join(' OR ')));
    if (paths) {
      const wanted = new Set(paths);
      for (const id of out.keys()) if (!wanted.has(id.slice(0, id.lastIndexOf('#')))) out.delete(id);
    }
    return out;
  }

  /** `column` by id, of every row or of the rows each `where` clause selects. */
  private async idColumn(table: lancedb.Table | undefined, column: string, where?: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!table) return out;
    for (const query of where ? where.map((w) => table.query().where(w)) : [table.query()]) {
      for await (const batch of query.select(['id', column])) {
        const ids = batch.getChild('id')!.toArray() as string[];
        const values = batch.getChild(column)!.toArray() as string[];
        for (let i = 0; i < ids.length; i++) out.set(ids[i]!, values[i]!);
      }
    }
    return out;
  }

  /**
   * What embedders read, in batches; only the chunks in `ids` when given. Without `text`, only
   * the token columns are read (all the static model needs) and the text fields are empty.
   */
  async *embedInputs(options: { ids?: ReadonlySet<string>; text?: boolean } = {}): AsyncGenerator<EmbedInput[]> {
    if (!this.chunks) return;
    const { ids, text: withText = true } = options;
    const columnsRead = ['id', NAME_TOKENS, 'doc_tokens', BODY_TOKENS, ...(withText ? ['symbol', 'kind', 'doc', 'text'] : [])];
    // A few ids (an incremental run) are looked up through the id index; many, by one scan.
    const queries = ids && ids.size <= 2000 ? chunked([...ids], 500).map((part) => this.chunks!.query().where(inList('id', part))) : [this.chunks.query()];
    for (const query of queries) {
      for await (const batch of query.select(columnsRead)) {
        const col = (n: string) => (withText || !['symbol', 'kind', 'doc', 'text'].includes(n) ? (batch.getChild(n)!.toArray() as string[]) : undefined);
        const [id, name, docTokens, body, symbol, kind, doc, text] = ['id', NAME_TOKENS, 'doc_tokens', BODY_TOKENS, 'symbol', 'kind', 'doc', 'text'].map(col);
        const out: EmbedInput[] = [];
        for (let i = 0; i < id!.length; i++) {
          if (ids && !ids.has(id![i]!)) continue;
          out.push({ id: id![i]!, nameTokens: name![i]!, docTokens: docTokens![i]!, bodyTokens: body![i]!, symbol: symbol?.[i] ?? '', kind: kind?.[i] ?? '', doc: doc?.[i] ?? '', text: text?.[i] ?? '' });
        }
        if (out.length > 0) yield out;
      }
    }
  }

  /** Inserts or replaces vectors by chunk id; `append` when none of these ids has a vector yet. */
  async writeVectors(rows: { id: string; hash: string; vector: Float32Array }[], options: { append: boolean }): Promise<void> {
    if (rows.length === 0) return;
    const dims = rows[0]!.vector.length;
    const data = new ArrowTable({
      id: utf8Column(rows.map((r) => r.id)),
      hash: utf8Column(rows.map((r) => r.hash)),
      vector: vectorColumn(flatten(rows.map((r) => r.vector), dims), dims),
    });
    if (!this.embedderId) throw new Error('writeVectors before useEmbedder');
    if (!this.vectors) this.vectors = await this.db.createTable(vectorsTable(this.embedderId), data);
    else if (options.append) await this.vectors.add(data);
    else await this.vectors.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
  }

  async deleteVectors(ids: readonly string[]): Promise<void> {
    if (!this.vectors || ids.length === 0) return;
    for (let i = 0; i < ids.length; i += 500) await this.vectors.delete(inList('id', ids.slice(i, i + 500)));
  }

  hasVectors(): boolean {
    return this.vectors !== undefined;
  }

  async saveStaticModel(model: StaticModel): Promise<void> {
    const name = modelTable(model.id);
    await dropIfExists(this.db, name);
    const data = new ArrowTable({
      rank: makeVector(Int32Array.from(model.vocabulary, (_, i) => i)),
      token: utf8Column(model.vocabulary),
      idf: makeVector(model.idf),
      vector: vectorColumn(model.vectors, model.dims),
    });
    const table = await this.db.createTable(name, data);
    // Queries look up only their own tokens.
    await table.createIndex('token', { config: lancedb.Index.btree() });
    table.close();
  }

  /**
   * The static model `modelId` as stored; with `tokens`, only their rows: a query needs a handful of the
   * model's tens of thousands of vectors, and its vector comes out the same.
   */
  async loadStaticModel(modelId: string, tokens?: readonly string[]): Promise<StaticModel | undefined> {
    const name = modelTable(modelId);
    const table = modelId ? await openExisting(this.db, this.uri, name) : undefined;
    if (!table) return undefined;
    const rows: { rank: number; token: string; idf: number; vector: Float32Array }[] = [];
    const query = tokens ? table.query().where(tokens.length > 0 ? inList('token', tokens) : 'false') : table.query();
    for await (const batch of query.select(['rank', 'token', 'idf', 'vector'])) {
      const rank = batch.getChild('rank')!.toArray() as Int32Array;
      const token = batch.getChild('token')!.toArray() as string[];
      const idf = batch.getChild('idf')!.toArray() as Float32Array;
      const vector = batch.getChild('vector')!;
      const flat = vector.data[0]!.children[0]!.values as Float32Array;
      const dims = (vector.type as FixedSizeList).listSize;
      const offset = vector.data[0]!.offset;
      for (let i = 0; i < token.length; i++) {
        rows.push({ rank: rank[i]!, token: token[i]!, idf: idf[i]!, vector: flat.subarray((offset + i) * dims, (offset + i + 1) * dims) });
      }
    }
    table.close();
    if (rows.length === 0 && !tokens) return undefined;
    rows.sort((a, b) => a.rank - b.rank);
    const dims = rows[0]?.vector.length ?? 0;
    const vectors = new Float32Array(rows.length * dims);
    rows.forEach((r, i) => vectors.set(r.vector, i * dims));
    return new StaticModel(
      rows.map((r) => r.token),
      Float32Array.from(rows, (r) => r.idf),
      vectors,
      dims,
    );
  }

  /**
   * An IVF index once there are enough vectors for brute force to be slow (full corpus, 147k×96:
   * 50 → 4 ms a query). Vectors are kept at `VECTOR_BITS` a dimension (RaBitQ): the index LanceDB
   * caches is 12.5 MB instead of IVF_FLAT's 55 MB (server RSS 641–645 → 594–596 MB under load).
   * An index of another kind or width (IVF_FLAT, before) is replaced.
   */
  private async indexVectors(): Promise<void> {
    if (!this.vectors) return;
    const existing = (await this.vectors.listIndices()).find((i) => i.columns.includes('vector'));
    if (existing?.indexType === VECTOR_INDEX_TYPE && existing.indexDetails?.compression?.num_bits === VECTOR_BITS) return;
    const rows = await this.vectors.countRows();
    if (rows < ANN_MIN_ROWS) return;
    // A first build compacts first: the appends' fragments (8 on the full corpus) made every
    // later search visit each, and the index is then built once over one.
    if (!existing) await this.compactFragments(this.vectors);
    const numPartitions = Math.max(16, Math.round(Math.sqrt(rows) / 3));
    // k-means on 64 samples a partition for 10 rounds: as good as the defaults (256, 50) on the
    // full corpus and 3.5× faster to build.
    const config = lancedb.Index.ivfRq({ numPartitions, numBits: VECTOR_BITS, distanceType: 'cosine', maxIterations: 10, sampleRate: 64 });
    await this.vectors.createIndex('vector', { config, replace: true });
  }

  // ---- read side ----

  async countChunks(): Promise<number> {
    return this.chunks ? this.chunks.countRows() : 0;
  }

  /** BM25 over the token columns; `boosts` weights a match in the name above one in the body. */
  async fullText(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<ChunkHit[]> {
    if (!this.chunks || tokens.length === 0) return [];
    return readHits(this.matching({ column: 'fulltext', tokens, boosts }).select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS, '_score']).limit(limit));
  }

  fullTextRanks(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<RankedId[]> {
    return this.matchIds({ column: 'fulltext', tokens, boosts }, limit);
  }

  /**
   * By row id where the ranking gave them (this store's tables stay on the version they ranked):
   * 150 rows of the best 600 read in 16–18 ms p50 with their ids and row ids, against 21 ms by id.
   */
  async readRanked(ranked: readonly RankedId[]): Promise<ChunkHit[]> {
    if (!this.chunks || ranked.length === 0) return [];
    const rowIds = ranked.flatMap((r) => (r.rowId === undefined ? [] : [r.rowId]));
    if (rowIds.length < ranked.length) return this.chunksByIds(ranked.map((r) => r.id));
    return readHits(this.chunks.takeRowIds(rowIds).select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS]));
  }

  async holdingEvery(tokens: readonly string[], limit: number): Promise<ChunkHit[]> {
    if (!this.chunks || tokens.length === 0) return [];
    const every = new lancedb.BooleanQuery(tokens.map((t) => [lancedb.Occur.Must, new lancedb.MultiMatchQuery(t, [NAME_TOKENS, BODY_TOKENS])]));
    const hits = await readHits(this.chunks.query().fullTextSearch(every).select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS, '_score']).limit(limit + 1));
    return hits.length > limit ? [] : hits;
  }

  /**
   * LanceDB's row id of every row of the chunks or vectors table, with its chunk id: what lets a
   * reader of this version ask LanceDB for row ids and scores only (`matchRowIds`,
   * `nearestRowIds`). Reading ids costs a request per hit's data page on an object store.
   */
  async *rowIds(table: 'chunks' | 'vectors'): AsyncGenerator<{ rowIds: BigInt64Array | BigUint64Array; ids: string[] }> {
    const source = table === 'chunks' ? this.chunks : this.vectors;
    if (!source) return;
    for await (const batch of source.query().select(['id']).withRowId()) {
      yield { rowIds: batch.getChild('_rowid')!.toArray() as BigUint64Array, ids: batch.getChild('id')!.toArray() as string[] };
    }
  }

  /** Row ids and BM25 scores of the best `limit` chunks for a match, best first: no column is read. */
  async matchRowIds(match: TextMatch, limit: number): Promise<{ rowId: bigint; score: number }[]> {
    if (!this.chunks || isEmptyMatch(match)) return [];
    const table = await this.matching(match).select(['_score']).withRowId().limit(limit).toArrow();
    if (table.numRows === 0) return [];
    const rows = table.getChild('_rowid')!.toArray() as BigUint64Array;
    const scores = table.getChild('_score')!.toArray() as Float32Array;
    return Array.from(rows, (rowId, i) => ({ rowId, score: scores[i]! }));
  }

  /** Row ids (of the vectors table) and cosine similarities of the nearest vectors. */
  async nearestRowIds(vector: Float32Array, limit: number): Promise<{ rowId: bigint; similarity: number }[]> {
    if (!this.vectors) return [];
    const table = await this.nearestQuery(this.vectors, vector).select(['_distance']).withRowId().limit(limit).toArrow();
    if (table.numRows === 0) return [];
    const rows = table.getChild('_rowid')!.toArray() as BigUint64Array;
    const distances = table.getChild('_distance')!.toArray() as Float32Array;
    return Array.from(rows, (rowId, i) => ({ rowId, similarity: 1 - distances[i]! }));
  }

  /**
   * Ids, BM25 scores and row ids (for `readRanked`) of the best `limit` chunks for a match, best
   * first: no row is read.
   */
  async matchIds(match: TextMatch, limit: number): Promise<RankedId[]> {
    if (!this.chunks || isEmptyMatch(match)) return [];
    const table = await this.matching(match).select(['id', '_score']).withRowId().limit(limit).toArrow();
    // No hit comes back as a table without columns.
    if (table.numRows === 0) return [];
    const ids = table.getChild('id')!.toArray() as string[];
    const scores = table.getChild('_score')!.toArray() as Float32Array;
    const rows = table.getChild('_rowid')!.toArray() as BigUint64Array;
    return Array.from(ids, (id, i) => ({ id, score: scores[i]!, rowId: rows[i]! }));
  }

  private matching(match: TextMatch) {
    let query: lancedb.FullTextQuery;
    let where: string | undefined;
    switch (match.column) {
      case 'fulltext':
        // One multi-column match: a BooleanQuery of per-term clauses measured 3x slower and ranked no better.
        query = new lancedb.MultiMatchQuery(match.tokens.join(' '), [NAME_TOKENS, BODY_TOKENS], { boosts: [match.boosts.name, match.boosts.body] });
        break;
      case 'type':
        query = new lancedb.MatchQuery(match.tokens.join(' '), TYPE_TOKENS);
        break;
      case 'refs':
        query = new lancedb.MatchQuery(match.compound, REFS);
        if (match.pathContains) where = `path LIKE ${sqlString(`%${likeLiteral(match.pathContains)}%`)}`;
        break;
      case 'name':
        query = new lancedb.MatchQuery(match.token, NAME_TOKENS, { fuzziness: match.fuzziness, prefixLength: 1, maxExpansions: FUZZY_EXPANSIONS });
        break;
    }
    const search = this.chunks!.query().fullTextSearch(query);
    return where ? search.where(where) : search;
  }

  /** Chunk rows with their tokens and references, in batches (only those of `paths` when given): what a resident reader loads. */
  async *chunkRecords(paths?: readonly string[]): AsyncGenerator<ChunkRecord[]> {
    if (!this.chunks) return;
    const queries = paths ? chunked(paths, 500).map((part) => this.chunks!.query().where(inList('path', part))) : [this.chunks.query()];
    for (const query of queries) {
      for await (const batch of query.select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS, REFS])) {
        yield plainRows(batch).map((r) => ({ chunk: rowToChunk(r), nameTokens: r[NAME_TOKENS] as string, bodyTokens: r[BODY_TOKENS] as string, refs: splitRefs(r[REFS] as string) }));
      }
    }
  }

  private nearestQuery(vectors: lancedb.Table, vector: Float32Array) {
    return vectors.vectorSearch(vector).distanceType('cosine').nprobes(NPROBES);
  }

  /** Nearest chunks to `vector` by cosine similarity. */
  async nearest(vector: Float32Array, limit: number): Promise<VectorHit[]> {
    if (!this.vectors) return [];
    const rows = (await this.nearestQuery(this.vectors, vector).select(['id', '_distance']).limit(limit).toArrow().then(plainRows)) as Row[];
    return rows.map((r) => ({ id: r.id as string, similarity: 1 - (r._distance as number) }));
  }

  async chunksByIds(ids: readonly string[]): Promise<ChunkHit[]> {
    if (!this.chunks || ids.length === 0) return [];
    return readHits(this.chunks.query().where(inList('id', ids)).select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS]).limit(ids.length));
  }

  /** Definitions whose signatures share type constructors, result and arity with a type query. */
  async typeCandidates(tokens: readonly string[], limit: number): Promise<ChunkHit[]> {
    if (!this.chunks || tokens.length === 0) return [];
    return readHits(this.matching({ column: 'type', tokens }).select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS, '_score']).limit(limit));
  }

  /** Every chunk of one file, in line order (cursor anchoring). */
  async chunksOfFile(path: string): Promise<ChunkHit[]> {
    if (!this.chunks) return [];
    const hits = await readHits(this.chunks.query().where(`path = ${sqlString(path)}`).select(READ_COLUMNS));
    return hits.sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
  }

  /** The value names each chunk's code uses (identifier compounds), by chunk id. */
  async referencesOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!this.chunks || ids.length === 0) return out;
    const rows = (await this.chunks.query().where(inList('id', ids)).select(['id', REFS]).limit(ids.length).toArrow().then(plainRows)) as Row[];
    for (const r of rows) out.set(r.id as string, splitRefs(r[REFS] as string));
    return out;
  }

  /** Chunks whose code uses a value of this name (as an identifier compound): candidate callers. */
  async usersOf(nameCompound: string, limit: number, options: { pathContains?: string } = {}): Promise<ChunkHit[]> {
    if (!this.chunks || !nameCompound) return [];
    return readHits(this.matching({ column: 'refs', compound: nameCompound, pathContains: options.pathContains }).select([...READ_COLUMNS, '_score']).limit(limit));
  }

  /**
   * Type definitions named `name` (lower-cased), optionally only those whose symbol ends with
   * `symbolSuffix`, or only in `paths` (through the path index: much cheaper than the suffix).
   */
  async typesNamed(name: string, limit: number, options: { symbolSuffix?: string; paths?: readonly string[] } = {}): Promise<ChunkHit[]> {
    if (!this.chunks) return [];
    const { symbolSuffix, paths } = options;
    let where = `name_lc = ${sqlString(name.toLowerCase())} AND kind = 'type'`;
    if (paths) where = `${inList('path', paths)} AND ${where}`;
    // `_` is a LIKE wildcard: it over-matches, and the exact suffix test below settles it.
    else if (symbolSuffix) where += ` AND symbol LIKE ${sqlString(`%${symbolSuffix}`)}`;
    const hits = await readHits(this.chunks.query().where(where).select(READ_COLUMNS).limit(limit));
    return hits.filter((c) => !symbolSuffix || c.symbol.endsWith(symbolSuffix));
  }

  /**
   * Definitions whose text contains every fragment, case-sensitively (for quoted messages). With
   * `words`, only the definitions whose body holds all their tokens are scanned, found through the
   * full-text index: a scan of every text took 260 ms on the full corpus.
   */
  async chunksContaining(fragments: readonly string[], limit: number, words: readonly string[] = []): Promise<ChunkHit[]> {
    if (!this.chunks || fragments.length === 0) return [];
    let where = fragments.map((f) => `text LIKE ${sqlString(`%${likeLiteral(f)}%`)}`).join(' AND ');
    const tokens = wholeWordTokens(words).filter((t) => t.length <= FTS_MAX_TOKEN_LENGTH);
    if (tokens.length > 0) {
      const all = new lancedb.MatchQuery(tokens.join(' '), BODY_TOKENS, { operator: lancedb.Operator.And });
      const holding = (await this.chunks.query().fullTextSearch(all).select(['id', '_score']).limit(LITERAL_CANDIDATES).toArray()) as { id: string }[];
      if (holding.length === 0) return [];
      // As many as were asked for: there may be more, so the scan stays whole.
      if (holding.length < LITERAL_CANDIDATES) where = `${inList('id', holding.map((r) => r.id))} AND ${where}`;
    }
    return readHits(this.chunks.query().where(where).select([...READ_COLUMNS, NAME_TOKENS, BODY_TOKENS]).limit(limit));
  }

  /** Values of a module whose names start like `namePrefix` (`Hashtbl.find*`): siblings of a name that does not exist yet. */
  async siblings(module: string, namePrefix: string, limit: number): Promise<ChunkHit[]> {
    if (!this.chunks || !namePrefix) return [];
    const clean = (x: string) => x.replace(/[%']/g, '');
    const where = `name_lc LIKE ${sqlString(`${clean(namePrefix.toLowerCase())}%`)} AND symbol LIKE ${sqlString(`%${clean(module)}.%${clean(namePrefix)}%`)} AND kind IN ('value', 'external')`;
    return readHits(this.chunks.query().where(where).select(READ_COLUMNS).limit(limit));
  }

  /**
   * Every directory that holds an indexed file, as path segments (`coq-core`, `kernel`), and the
   * top-level ones among them: the libraries of a monorepo.
   */
  async directoryNames(): Promise<{ all: Set<string>; top: Set<string>; units: Set<string> }> {
    const [all, top, units] = [new Set<string>(), new Set<string>(), new Set<string>()];
    if (!this.files) return { all, top, units };
    // Only the path column: this runs each time a searcher opens.
    for await (const batch of this.files.query().select(['path'])) {
      for (const path of batch.getChild('path')!.toArray() as string[]) {
        units.add(unitOfFile(path));
        const dirs = path.split('/').slice(0, -1);
        for (const dir of dirs) {
          all.add(dir.toLowerCase());
          // `menhirLib` is a library of the `menhir` family, as `js_of_ocaml-compiler` of `js_of_ocaml`.
          const family = camelFamily(dir);
          if (family) all.add(family);
        }
        if (dirs[0]) top.add(dirs[0].toLowerCase());
      }
    }
    return { all, top, units };
  }

  async includedModules(path: string): Promise<string[]> {
    if (!this.files) return [];
    const rows = await this.files.query().where(`path = ${sqlString(path)}`).select(['relations']).limit(1).toArray();
    const relations = rows[0] ? (JSON.parse(rows[0].relations as string) as FileRelation[]) : [];
    return relations.filter((r) => r.kind === 'include').map((r) => r.module);
  }

  /** Chunks whose bare name equals one of `names`, case-insensitively. */
  async byName(names: readonly string[], limit: number, options: ByNameOptions = {}): Promise<ChunkHit[]> {
    if (!this.chunks || names.length === 0) return [];
    const withText = options.withText ?? true;
    let where = inList('name_lc', names.map((n) => n.toLowerCase()));
    if (options.pathPrefix) where += ` AND path LIKE ${sqlString(`${likeLiteral(options.pathPrefix)}%`)}`;
    if (options.kinds) where += ` AND ${inList('kind', options.kinds)}`;
    if (options.lang) where += ` AND lang = ${sqlString(options.lang)}`;
    if (options.symbolSuffix) where += ` AND (symbol = ${sqlString(options.symbolSuffix)} OR ends_with(symbol, ${sqlString(`.${options.symbolSuffix}`)}))`;
    // Without text: `doc` and `text` are empty; fetch the chosen ones by id.
    return readHits(this.chunks.query().where(where).select(withText ? READ_COLUMNS : LOCATION_COLUMNS).limit(limit));
  }

  /** Fuzzy match on names (edit distance ≤ `fuzziness`), for typos such as `concat_mapp`. */
  async fuzzyName(token: string, limit: number, fuzziness: number): Promise<ChunkHit[]> {
    if (!this.chunks) return [];
    return readHits(this.matching({ column: 'name', token, fuzziness }).select([...READ_COLUMNS, '_score']).limit(limit));
  }

  close(): void {
    // Each open table holds its version's native state (manifest, fragment and index metadata):
    // a server that replaced this version must let it go, not only the connection.
    for (const table of this.tables()) table.close();
    this.db.close();
  }
}

