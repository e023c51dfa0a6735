// The seam between retrieval and fusion: every retriever turns a query into scored candidates.
import type { ChunkHit, IndexStore } from '../../indexer/store.js';
import type { ParsedQuery } from '../query.js';

export interface Candidate {
  chunk: ChunkHit;
  /** In [0, 1]: the retriever's confidence, comparable across queries. */
  score: number;
}

export interface Retriever {
  readonly name: string;
  retrieve(query: ParsedQuery, store: IndexStore, limit: number): Promise<Candidate[]>;
}
