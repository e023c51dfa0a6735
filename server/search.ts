// query → retrieve → fuse: ranked definitions for a query string.
import { IndexMissingError, IndexStore } from '../indexer/store.js';
import { fingerprint } from '../indexer/fingerprint.js';
import { parseQuery } from './query.js';
import { fuse, type FuseContext, type RankedHit } from './fuse.js';
import { getRetriever } from './retrieve/registry.js';
import type { Candidate } from './retrieve/types.js';

export interface SearchOptions {
  k?: number;
  /** Retrievers to run, by registry name. */
  retrievers?: string[];
}

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
}

export const DEFAULT_K = 10;
export const MAX_K = 1000;
const CANDIDATES_PER_RETRIEVER = 200;
const SNIPPET_LINES = 3;

export class Searcher {
  private constructor(
    readonly store: IndexStore,
    private readonly context: FuseContext,
  ) {}

  static async open(db: string): Promise<Searcher> {
    const store = await IndexStore.openForSearch(db);
    if ((await store.getMeta('fingerprint')) !== fingerprint()) {
      store.close();
      throw new IndexMissingError(`the index at ${db} is incomplete or was built by another codesearch version`);
    }
    return new Searcher(store, { directories: await store.directoryNames() });
  }

  async searchRanked(query: string, options: SearchOptions = {}): Promise<RankedHit[]> {
    const parsed = parseQuery(query);
    const k = options.k ?? DEFAULT_K;
    const names = options.retrievers ?? ['symbol', 'fulltext'];
    const limit = Math.max(CANDIDATES_PER_RETRIEVER, k);
    const lists = await Promise.all(names.map((n) => getRetriever(n).retrieve(parsed, this.store, limit)));
    const byRetriever = new Map<string, Candidate[]>(names.map((n, i) => [n, lists[i]!]));
    const ranked = fuse(parsed, byRetriever, this.context);
    return (parsed.isSymbol ? withCounterpartSecond(ranked) : ranked).slice(0, k);
  }

  async search(query: string, options: SearchOptions = {}): Promise<SearchResult[]> {
    return (await this.searchRanked(query, options)).map(toResult);
  }

  close(): void {
    this.store.close();
  }
}

/** A symbol lookup shows the best definition and its declaration (.ml ↔ .mli) together. */
function withCounterpartSecond(ranked: RankedHit[]): RankedHit[] {
  const top = ranked[0];
  if (!top?.chunk.counterpart) return ranked;
  const i = ranked.findIndex((h) => h.chunk.id === top.chunk.counterpart);
  if (i <= 1) return ranked;
  const pair = ranked[i]!;
  // It jumps the hits between, so it takes the score of the first it jumps: still descending.
  const promoted = { ...pair, score: ranked[1]!.score, trace: [...pair.trace, 'paired-with-top'] };
  return [top, promoted, ...ranked.slice(1, i), ...ranked.slice(i + 1)];
}

function toResult(hit: RankedHit): SearchResult {
  const c = hit.chunk;
  return {
    path: c.path,
    startLine: c.startLine,
    endLine: c.endLine,
    name: c.name,
    symbol: c.symbol,
    kind: c.kind,
    score: Number(hit.score.toFixed(4)),
    doc: c.doc,
    snippet: c.text.split('\n').slice(0, SNIPPET_LINES).join('\n'),
  };
}
