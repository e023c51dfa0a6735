// BM25 over identifier-aware tokens; a match in the name/qualifiers outweighs one in the body.
import type { Retriever } from './types.js';

export const NAME_BOOST = 2;
export const BODY_BOOST = 1;

export const fullTextRetriever: Retriever = {
  name: 'fulltext',
  async retrieve(query, { store }, limit) {
    const hits = await store.fullText(query.terms, limit, { name: NAME_BOOST, body: BODY_BOOST });
    const top = hits[0]?.rawScore ?? 1;
    return hits.map((chunk) => ({ id: chunk.id, chunk, score: chunk.rawScore / top }));
  },
};
