// A long-lived reader's chunks, held in memory, with a term index that ranks full text and
// misspelt names here (term-index.ts). LanceDB still ranks nearest vectors (and type matches) but
// returns only ids and scores; rows, names, files and references come from here. Reading rows
// is what a query paid for: 200 full-text hits cost 12 ms of LanceDB time as rows and 3 ms as ids
// (full corpus, 2 cores), and under 8 concurrent clients LanceDB's threads were the bottleneck.
// Every method answers as IndexStore's would, so one-shot and resident searches rank alike.
import { chunkHit, symbolEndsWith, type ByNameOptions, type ChunkHit, type ChunkReader, type ChunkRecord, type IndexStore, type RankedId, type TextMatch, type VectorHit } from '../indexer/store.js';
import { TermIndex, type TermDocument } from './term-index.js';
import { wholeWordTokens } from '../indexer/text.js';

/** Past this many changed files, a new version is read whole: one scan beats long id lists. */
const MAX_FILES_REREAD = 500;

/** A record as held here, with its place in table order (records of later versions come after). */
interface HeldRecord {
  chunk: ChunkRecord['chunk'];
  refs: string[];
  position: number;
  /** Its number in a term index's postings (term-index.ts). */
  termDoc: number;
}

/** The lookups over one version's records; a new version's are the old ones patched. */
interface Lookups {
  byId: Map<string, HeldRecord>;
  named: Map<string, HeldRecord[]>;
  byPath: Map<string, HeldRecord[]>;
  /** Reference compound → the chunks whose code uses it: callers without a full-text query. */
  users: Map<string, HeldRecord[]>;
  /** Type definitions by their last two symbol components (`Error.t`): what `typesNamed` asks for. */
  types: Map<string, HeldRecord[]>;
  /** The next record's position. Every list above, and `byId`'s order, is in position order. */
  next: number;
  /**
   * `users` lists in BM25's order for one term, sorted when first asked for: a common name
   * (`map`, `create`) has thousands of users, and sorting them on every request cost more than
   * the rest of a context window's callers.
   */
  usersRanked: Map<string, HeldRecord[]>;
  /** The keys of `named`, sorted when first asked for a prefix: the names a prefix starts. */
  sortedNames?: string[];
  /**
   * Long `named` lists by path, sorted when first asked for a path prefix: a directory's few
   * definitions of a common name (`map`: thousands) without reading them all (a context window
   * spent a tenth of its main-thread time filtering such lists).
   */
  namedByPath: Map<string, HeldRecord[]>;
}

/** Lists at least this long are looked up under a path prefix through `namedByPath`. */
const PATH_SORTED_MIN = 64;

/** `Module.name` of a symbol (`Base.Error.t` → `Error.t`), the name lower-cased. */
function typeKey(symbol: string): string {
  const parts = symbol.split('.');
  const name = parts.pop()!.toLowerCase();
  return `${parts.pop() ?? ''}.${name}`;
}

/**
 * Values by LanceDB row id: the fragment in the high 32 bits, the row's offset in it in the low
 * ones, so each fragment's values are an array (a map keyed by 148k bigints held 7 MB more).
 */
class ByRowId<T> {
  private readonly fragments = new Map<number, T[]>();

  set(rowId: bigint, value: T): void {
    const fragment = Number(rowId >> 32n);
    let values = this.fragments.get(fragment);
    if (!values) this.fragments.set(fragment, (values = []));
    values[Number(rowId & 0xffffffffn)] = value;
  }

  get(rowId: bigint): T | undefined {
    return this.fragments.get(Number(rowId >> 32n))?.[Number(rowId & 0xffffffffn)];
  }
}

/**
 * LanceDB row ids of this version's rows, so that queries ask for row ids and scores alone. On an
 * object store a query that selects its hits' ids reads a data page per hit over the network (a
 * full-text query of 200 hits: p50 57 ms through radosgw, 2.2 ms with row ids alone), so both
 * tables' are read before the version answers. From a local disk, reading the ids of 200 nearest
 * vectors still cost 3.9 of a vector query's 6.3 ms of CPU (full corpus), the largest part of a
 * search's LanceDB time under load; there the vectors' row ids (0.2 s a version) are read after
 * the version opens, and vector queries select ids until they are in.
 */
interface RowLookups {
  chunks?: ByRowId<HeldRecord>;
  vectors?: ByRowId<string>;
}

export class ResidentChunks implements ChunkReader {
  private constructor(
    private readonly store: IndexStore,
    private lookups: Lookups,
    /**
     * BM25 over the name and body tokens, and whether a definition holds a token: answered here
     * instead of by LanceDB's index (term-index.ts).
     */
    private terms: TermIndex<HeldRecord>,
    /** Each file's version (content hash and last chunking) as these records have it. */
    private readonly files: ReadonlyMap<string, string>,
    private readonly rows: RowLookups,
  ) {}

  /** Settles once the row ids this version reads in the background are in (never rejects). */
  rowsRead: Promise<void> = Promise.resolve();

  /**
   * Reads the chunks of `store`'s version. Given the chunks of an earlier version, only the files
   * changed since are read again and the earlier lookups are patched in place, taken over from
   * it (a saved file costs tens of milliseconds instead of a two-second scan).
   */
  static async load(store: IndexStore, earlier?: ResidentChunks): Promise<ResidentChunks> {
    const files = await store.fileVersions();
    const changed = earlier ? [...new Set([...files.keys(), ...earlier.files.keys()])].filter((p) => files.get(p) !== earlier.files.get(p)) : undefined;
    const fresh: HeldRecord[] = [];
    const reread = earlier && changed && changed.length <= MAX_FILES_REREAD;
    const share = reread ? undefined : repeatedStringSharer();
    // A full load indexes each record's tokens as it comes; a patch keeps them for its few records.
    const terms = reread ? undefined : TermIndex.builder<HeldRecord>();
    const freshTokens: TermDocument<HeldRecord>[] = [];
    for await (const batch of store.chunkRecords(reread ? changed.filter((p) => files.has(p)) : undefined)) {
      for (const r of batch) {
        const { chunk, nameTokens, bodyTokens, refs } = share ? share(r) : r;
        const held: HeldRecord = { chunk, refs, position: 0, termDoc: -1 };
        const indexed = { doc: held, name: nameTokens, body: bodyTokens };
        if (terms) terms.add(indexed);
        else freshTokens.push(indexed);
        fresh.push(held);
      }
    }
    let lookups: Lookups;
    let index: TermIndex<HeldRecord>;
    if (reread) {
      const gone = new Set(changed);
      index = earlier.terms.patched((r) => gone.has(r.chunk.path), freshTokens);
      lookups = patched(earlier.lookups, changed, fresh);
    } else {
      index = terms!.build();
      lookups = compacted(withRecords(emptyLookups(), fresh));
    }
    if (!store.isLocal) return new ResidentChunks(store, lookups, index, files, { chunks: await chunkRows(store, lookups), vectors: await vectorRows(store, lookups) });
    const reader = new ResidentChunks(store, lookups, index, files, {});
    // Not awaited: until they are in, vector queries select ids. A failed read only leaves them so.
    reader.rowsRead = vectorRows(store, lookups).then(
      (vectors) => void (reader.rows.vectors = vectors),
      () => undefined,
    );
    return reader;
  }

  /** Drops this version's hold on the lookups (a newer version may share them). */
  release(): void {
    this.lookups = emptyLookups();
    this.terms = TermIndex.builder<HeldRecord>().build();
  }

  get size(): number {
    return this.lookups.byId.size;
  }

  async fullText(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<ChunkHit[]> {
    return this.terms.search(tokens, limit, boosts).map(({ doc, score }) => this.hit(doc, score, true));
  }

  async fullTextRanks(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): Promise<RankedId[]> {
    return this.terms.search(tokens, limit, boosts).map(({ doc, score }) => ({ id: doc.chunk.id, score }));
  }

  readRanked(ranked: readonly RankedId[]): Promise<ChunkHit[]> {
    return this.chunksByIds(ranked.map((r) => r.id));
  }

  typeCandidates(tokens: readonly string[], limit: number): Promise<ChunkHit[]> {
    return this.matched({ column: 'type', tokens }, limit, true);
  }

  async usersOf(nameCompound: string, limit: number, options: { pathContains?: string } = {}): Promise<ChunkHit[]> {
    const inPath = options.pathContains;
    return firstOf(this.rankedUsers(nameCompound), limit, (r) => !inPath || r.chunk.path.includes(inPath)).map((r) => this.hit(r, 0, false));
  }

  /** BM25's order for one term that each document holds once: the shortest documents first. */
  private rankedUsers(nameCompound: string): HeldRecord[] {
    const { users, usersRanked } = this.lookups;
    let ranked = usersRanked.get(nameCompound);
    if (!ranked) {
      ranked = byKey(users.get(nameCompound) ?? [], (r) => r.refs.length * POSITIONS + r.position);
      usersRanked.set(nameCompound, ranked);
    }
    return ranked;
  }

  async fuzzyName(token: string, limit: number, fuzziness: number): Promise<ChunkHit[]> {
    return this.terms.fuzzyNames(token, limit, fuzziness).map(({ doc, score }) => this.hit(doc, score, false));
  }

  async nearest(vector: Float32Array, limit: number): Promise<VectorHit[]> {
    const rows = this.rows.vectors;
    if (!rows) return this.store.nearest(vector, limit);
    const hits: VectorHit[] = [];
    for (const { rowId, similarity } of await this.store.nearestRowIds(vector, limit)) {
      const id = rows.get(rowId);
      if (id !== undefined) hits.push({ id, similarity });
    }
    return hits;
  }

  async chunksByIds(ids: readonly string[]): Promise<ChunkHit[]> {
    return ids.flatMap((id) => {
      const r = this.lookups.byId.get(id);
      return r ? [this.hit(r, 0, true)] : [];
    });
  }

  async chunksOfFile(path: string): Promise<ChunkHit[]> {
    return (this.lookups.byPath.get(path) ?? []).map((r) => this.hit(r, 0, false)).sort((a, b) => a.startLine - b.startLine || b.endLine - a.endLine);
  }

  /** The files' includes read so far, kept for this version: they change only with the file. */
  private readonly includes = new Map<string, Promise<string[]>>();

  includedModules(path: string): Promise<string[]> {
    let modules = this.includes.get(path);
    if (!modules) {
      modules = this.store.includedModules(path);
      this.includes.set(path, modules);
      // A failed read is not kept: the next window asks again.
      modules.catch(() => this.includes.delete(path));
    }
    return modules;
  }

  async referencesOf(ids: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const id of ids) {
      const r = this.lookups.byId.get(id);
      if (r) out.set(id, [...r.refs]);
    }
    return out;
  }

  async typesNamed(name: string, limit: number, options: { symbolSuffix?: string; paths?: readonly string[] } = {}): Promise<ChunkHit[]> {
    const { symbolSuffix, paths } = options;
    const lower = name.toLowerCase();
    // The narrowest list first: the files named, or the types of that module and name, or all of that name.
    const pool = paths
      ? paths.flatMap((p) => this.lookups.byPath.get(p) ?? []).sort((a, b) => a.position - b.position)
      : symbolSuffix && symbolSuffix.split('.').filter(Boolean).length >= 2 && symbolSuffix.toLowerCase().endsWith(`.${lower}`)
        ? (this.lookups.types.get(typeKey(symbolSuffix)) ?? [])
        : (this.lookups.named.get(lower) ?? []);
    return pool
      .filter(({ chunk: c }) => c.kind === 'type' && c.name.toLowerCase() === lower && (!symbolSuffix || c.symbol.endsWith(symbolSuffix)))
      .slice(0, limit)
      .map((r) => this.hit(r, 0, false));
  }

  async holdingEvery(tokens: readonly string[], limit: number): Promise<ChunkHit[]> {
    if (tokens.length === 0) return [];
    const holders = this.terms.holdingAll(tokens);
    return holders.length > limit ? [] : holders.map((r) => this.hit(r, 0, true));
  }

  async chunksContaining(fragments: readonly string[], limit: number, words: readonly string[] = []): Promise<ChunkHit[]> {
    if (fragments.length === 0) return [];
    // Only the definitions that hold the words: a scan of every text took 13–30 ms a query.
    const tokens = wholeWordTokens(words);
    const candidates = tokens.length > 0 ? this.terms.holdingAll(tokens) : this.lookups.byId.values();
    const out: ChunkHit[] = [];
    for (const r of candidates) {
      if (fragments.every((f) => r.chunk.text.includes(f))) out.push(this.hit(r, 0, true));
      if (out.length >= limit) break;
    }
    return out;
  }

  async siblings(module: string, namePrefix: string, limit: number): Promise<ChunkHit[]> {
    if (!namePrefix) return [];
    const clean = (x: string) => x.replace(/[%']/g, '');
    const prefix = clean(namePrefix);
    const inModule = `${clean(module)}.`;
    const lower = prefix.toLowerCase();
    const names = (this.lookups.sortedNames ??= [...this.lookups.named.keys()].sort());
    const found: HeldRecord[] = [];
    for (let i = lowerBound(names, lower); i < names.length && names[i]!.startsWith(lower); i++) {
      for (const r of this.lookups.named.get(names[i]!)!) {
        const { kind, symbol } = r.chunk;
        const at = symbol.indexOf(inModule);
        if ((kind === 'value' || kind === 'external') && at >= 0 && symbol.includes(prefix, at + inModule.length)) found.push(r);
      }
    }
    // In table order, as a scan returns them.
    return byKey(found, (r) => r.position)
      .slice(0, limit)
      .map((r) => this.hit(r, 0, false));
  }

  async byName(names: readonly string[], limit: number, options: ByNameOptions = {}): Promise<ChunkHit[]> {
    const { kinds, lang, symbolSuffix: suffix } = options;
    const withText = options.withText ?? true;
    const prefix = options.pathPrefix;
    const keep = ({ chunk: c }: HeldRecord) =>
      (!prefix || c.path.startsWith(prefix)) && (!kinds || kinds.includes(c.kind)) && (!lang || c.lang === lang) && (!suffix || symbolEndsWith(c.symbol, suffix));
    // Each list is in table order, so the first `limit` of each hold the first `limit` of all.
    const wanted = [...new Set(names.map((n) => n.toLowerCase()))];
    let found = wanted.flatMap((name) => {
      const list = this.lookups.named.get(name) ?? [];
      return prefix && list.length >= PATH_SORTED_MIN ? this.namedUnder(name, list, prefix, limit, keep) : firstOf(list, limit, keep);
    });
    // In table order, as a scan returns them: the same `limit` keeps the same definitions.
    if (wanted.length > 1) found = byKey(found, (r) => r.position).slice(0, limit);
    return found.map((r) => chunkHit(r.chunk, 0, undefined, withText));
  }

  /** What `firstOf(list, limit, keep)` finds when `keep` asks for paths starting with `prefix`, through the list by path. */
  private namedUnder(name: string, list: readonly HeldRecord[], prefix: string, limit: number, keep: (r: HeldRecord) => boolean): HeldRecord[] {
    let byPath = this.lookups.namedByPath.get(name);
    if (!byPath) this.lookups.namedByPath.set(name, (byPath = [...list].sort((a, b) => (a.chunk.path < b.chunk.path ? -1 : a.chunk.path > b.chunk.path ? 1 : 0))));
    const under: HeldRecord[] = [];
    for (let i = lowerBound(byPath, prefix, (r) => r.chunk.path); i < byPath.length && byPath[i]!.chunk.path.startsWith(prefix); i++) {
      if (keep(byPath[i]!)) under.push(byPath[i]!);
    }
    return byKey(under, (r) => r.position).slice(0, limit);
  }

  /** A fresh hit per call: callers may annotate their hits. Tokens only where IndexStore selects them. */
  private hit(r: HeldRecord, rawScore: number, withTokens: boolean): ChunkHit {
    return chunkHit(r.chunk, rawScore, withTokens ? this.terms.tokensOf(r) : undefined);
  }

  private async matched(match: TextMatch, limit: number, withTokens: boolean): Promise<ChunkHit[]> {
    const rows = this.rows.chunks;
    if (rows) {
      return (await this.store.matchRowIds(match, limit)).flatMap(({ rowId, score }) => {
        const r = rows.get(rowId);
        return r ? [this.hit(r, score, withTokens)] : [];
      });
    }
    const ids = await this.store.matchIds(match, limit);
    return ids.flatMap(({ id, score }) => {
      const r = this.lookups.byId.get(id);
      return r ? [this.hit(r, score, withTokens)] : [];
    });
  }
}

/**
 * Makes records share one string per distinct path, kind, language, counterpart and reference:
 * Arrow decodes a copy per row, and the full corpus's 148k chunks repeat 4,896 paths and hold
 * 0.8M references to about 130k names (live heap after a full load 260.8 → 227.2 MB). Only a
 * full load is worth it; the few records of a saved file keep their own.
 */
function repeatedStringSharer(): (r: ChunkRecord) => ChunkRecord {
  const pool = new Map<string, string>();
  const shared = <T extends string>(s: T): T => {
    const known = pool.get(s);
    if (known !== undefined) return known as T;
    pool.set(s, s);
    return s;
  };
  return (r) => {
    const c = r.chunk;
    c.path = shared(c.path);
    c.kind = shared(c.kind);
    c.lang = shared(c.lang);
    c.counterpart = shared(c.counterpart);
    for (let i = 0; i < r.refs.length; i++) r.refs[i] = shared(r.refs[i]!);
    return r;
  };
}

/** Row ids of the chunks table in the version `store` reads, onto its records. */
async function chunkRows(store: IndexStore, lookups: Lookups): Promise<ByRowId<HeldRecord>> {
  const rows = new ByRowId<HeldRecord>();
  for await (const { rowIds, ids } of store.rowIds('chunks')) {
    for (let i = 0; i < ids.length; i++) {
      const r = lookups.byId.get(ids[i]!);
      if (r) rows.set(rowIds[i]!, r);
    }
  }
  return rows;
}

/** Row ids of the vectors table, onto the records' id strings (not a copy per row). */
async function vectorRows(store: IndexStore, lookups: Lookups): Promise<ByRowId<string>> {
  const rows = new ByRowId<string>();
  for await (const { rowIds, ids } of store.rowIds('vectors')) {
    for (let i = 0; i < ids.length; i++) {
      const r = lookups.byId.get(ids[i]!);
      if (r) rows.set(rowIds[i]!, r.chunk.id);
    }
  }
  return rows;
}

function emptyLookups(): Lookups {
  return { byId: new Map(), named: new Map(), byPath: new Map(), users: new Map(), types: new Map(), next: 0, usersRanked: new Map(), namedByPath: new Map() };
}

/** Positions stay below this: `refs.length * POSITIONS + position` orders by both at once. */
const POSITIONS = 2 ** 32;

/** `records` sorted by a numeric key computed once each (a comparator's map lookups cost more). */
function byKey(records: readonly HeldRecord[], key: (r: HeldRecord) => number): HeldRecord[] {
  const keyed = records.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => a.k - b.k);
  return keyed.map(({ r }) => r);
}

/** The first `limit` records of `list` that pass `keep`, without filtering the rest. */
function firstOf(list: readonly HeldRecord[], limit: number, keep: (r: HeldRecord) => boolean): HeldRecord[] {
  const out: HeldRecord[] = [];
  for (const r of list) {
    if (out.length >= limit) break;
    if (keep(r)) out.push(r);
  }
  return out;
}

/** The first index of `sorted` (by `of`, or as strings) whose key is not before `key`. */
function lowerBound<T>(sorted: readonly T[], key: string, of: (x: T) => string = String): number {
  let [lo, hi] = [0, sorted.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (of(sorted[mid]!) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds records to lookups this instance owns (lists are grown in place). */
function withRecords(lookups: Lookups, records: readonly HeldRecord[]): Lookups {
  for (const r of records) {
    r.position = lookups.next++;
    lookups.byId.set(r.chunk.id, r);
    push(lookups.named, r.chunk.name.toLowerCase(), r);
    push(lookups.byPath, r.chunk.path, r);
    for (const ref of r.refs) push(lookups.users, ref, r);
    if (r.chunk.kind === 'type') push(lookups.types, typeKey(r.chunk.symbol), r);
  }
  return lookups;
}

/**
 * An earlier version's lookups, changed in place: without the records of `changedPaths`, with
 * `fresh` added. Copies of the whole lookups per version (15 MB each on the full corpus) let a
 * server under `serve --watch` grow by 40 MB a saved file until V8 collected them; in place, a
 * request still running on the earlier version sees the newer chunks, which is all it risks.
 */
function patched(lookups: Lookups, changedPaths: readonly string[], fresh: readonly HeldRecord[]): Lookups {
  const stale = new Set(changedPaths.flatMap((p) => lookups.byPath.get(p) ?? []));
  const touched = { named: new Set<string>(), users: new Set<string>(), types: new Set<string>() };
  for (const r of [...stale, ...fresh]) {
    touched.named.add(r.chunk.name.toLowerCase());
    for (const ref of r.refs) touched.users.add(ref);
    if (r.chunk.kind === 'type') touched.types.add(typeKey(r.chunk.symbol));
  }
  for (const r of stale) {
    lookups.byId.delete(r.chunk.id);
  }
  for (const p of changedPaths) lookups.byPath.delete(p);
  for (const key of touched.users) lookups.usersRanked.delete(key);
  for (const key of touched.named) lookups.namedByPath.delete(key);
  lookups.sortedNames = undefined;
  // The lists that change, without the stale records; `withRecords` then appends.
  for (const [map, keys] of [[lookups.named, touched.named], [lookups.users, touched.users], [lookups.types, touched.types]] as const) {
    for (const key of keys) {
      const kept = (map.get(key) ?? []).filter((r) => !stale.has(r));
      if (kept.length > 0) map.set(key, kept);
      else map.delete(key);
    }
  }
  return withRecords(lookups, fresh);
}

/**
 * Lookups whose lists hold no spare room. A list grown by `push` keeps room for up to 16 more:
 * across the 280k lists of a full load that was 20 MB of heap.
 */
function compacted(lookups: Lookups): Lookups {
  for (const map of [lookups.named, lookups.byPath, lookups.users, lookups.types]) {
    for (const [key, list] of map) if (list.length > 1) map.set(key, list.slice());
  }
  return lookups;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
