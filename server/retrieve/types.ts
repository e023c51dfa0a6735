// The seam between retrieval and fusion: every retriever turns a query into scored candidates.
import type { ChunkHit, ChunkReader, VectorHit } from '../../indexer/store.js';
import type { ParsedQuery } from '../query.js';

/** What retrievers search: the index, and the index's embedder when it has vectors. */
export interface RetrievalSources {
  store: ChunkReader;
  /**
   * The definitions nearest the question under the index's embedder (`neighboursOf`), best first:
   * one vector query per search, however many retrievers read it. Absent without vectors, and for
   * a query that is looked up rather than interpreted (a symbol, a type).
   */
  neighbours?: () => Promise<VectorHit[]>;
  /** How many results the caller will show: at least this many candidates come with their chunk. */
  shown: number;
  /**
   * The candidates only re-rank what other retrievers found (vectors in hybrid search): no row
   * needs fetching. Measured on the dev cases: new vector-only candidates never reached a top 10
   * at the hybrid weight (Recall@10 and MRR identical without them).
   */
  rerankOnly?: boolean;
  /** The index's directory names: a word that names one is a library (`js_of_ocaml`), not a misspelt identifier. */
  directories?: ReadonlySet<string>;
}

export interface Candidate {
  id: string;
  /**
   * The definition; absent for a candidate that can only add to a definition another
   * retriever found (a deep vector hit is not worth a row fetch of its own).
   */
  chunk?: ChunkHit;
  /** In [0, 1]: the retriever's confidence, comparable across queries. */
  score: number;
}

export interface Retriever {
  readonly name: string;
  retrieve(query: ParsedQuery, sources: RetrievalSources, limit: number): Promise<Candidate[]>;
}
