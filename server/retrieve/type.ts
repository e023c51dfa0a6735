// Search by type: a query such as `string -> char -> string list` or
// `'a list -> ('a -> bool) -> 'a list` finds the `val`s and `external`s of that type, modulo
// argument order, labels and type-variable names. The index narrows the field by type
// constructors, result and arity; each candidate's signature is then compared exactly.
import { signatureType, typeMatch, typeTokens } from '../../indexer/signature.js';
import type { Retriever } from './types.js';

/** Candidates read from the index per type query; the comparison is cheap, the lookup cheaper. */
const TYPE_CANDIDATES = 1000;
/** Below this, a signature shares too little with the query to be an answer. */
const MIN_MATCH = 0.3;

export const typeRetriever: Retriever = {
  name: 'type',
  async retrieve(query, { store }, limit) {
    if (!query.type) return [];
    const candidates = await store.typeCandidates(typeTokens(query.type), Math.max(TYPE_CANDIDATES, limit));
    const scored = candidates.flatMap((chunk) => {
      const type = signatureType(chunk.text);
      const score = type ? typeMatch(query.type!, type) : 0;
      return score >= MIN_MATCH ? [{ id: chunk.id, chunk, score }] : [];
    });
    return scored.sort((a, b) => b.score - a.score).slice(0, limit);
  },
};
