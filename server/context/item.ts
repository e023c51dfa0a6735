// What a context window is made of.
import type { ChunkHit } from '../../indexer/store.js';
import type { SearchResult } from '../search.js';

/** Why an item is in the window (contract: `reason`). */
export type Reason = 'cursor' | 'match' | 'signature' | 'definition' | 'type' | 'dependency' | 'caller' | 'test' | 'error-site';

/** A definition proposed for the window, before packing. */
export interface ContextCandidate {
  chunk: ChunkHit;
  reason: Reason;
  /** Higher first; seeds carry their search score, expansions a share of their seed's. */
  score: number;
  /** Seeds (and the cursor's definition) are exempt from the per-file cap. */
  seed: boolean;
}

/** One span of source in the window (contract: a result item plus `text` and `reason`). */
export interface ContextItem extends Pick<SearchResult, 'path' | 'startLine' | 'endLine' | 'name' | 'symbol' | 'kind' | 'score'> {
  reason: Reason;
  /** The exact source lines [startLine, endLine]. */
  text: string;
  /** The definition's doc comment, which precedes its lines in the source (rendered above them). */
  doc?: string;
  /** Cut to its signature and doc because the whole definition did not fit. */
  truncated?: boolean;
  /** Reasons of other candidates merged into this span (overlapping, or adjacent within `MAX_JOINED_LINES`). */
  alsoReasons?: Reason[];
}

export interface ContextWindow {
  items: ContextItem[];
  tokens: number;
  budget: number;
  text: string;
  /** What the window had to do without (its matches found without vectors: the embedder out of reach); absent when nothing. */
  warnings?: string[];
}
