// Nearest definitions by embedding: finds code by meaning when the question's words are not the
// code's. Similarities are rescaled within the retrieved list (best 1, the last 0): raw cosines
// of a static model sit in a narrow band that says little across queries.
import type { Retriever } from './types.js';

export const vectorRetriever: Retriever = {
  name: 'vector',
  async retrieve(query, { store, embedQuery }, limit) {
    if (!embedQuery) return [];
    const vector = await embedQuery(query.raw);
    // No known word in the question: no direction to search in.
    if (!vector.some((x) => x !== 0)) return [];
    const hits = await store.nearest(vector, limit);
    if (hits.length === 0) return [];
    const chunks = new Map((await store.chunksByIds(hits.map((h) => h.id))).map((c) => [c.id, c]));
    const best = hits[0]!.similarity;
    const floor = hits[hits.length - 1]!.similarity;
    return hits.flatMap((h) => {
      const chunk = chunks.get(h.id);
      return chunk ? [{ chunk: { ...chunk, rawScore: h.similarity }, score: (h.similarity - floor) / (best - floor || 1) }] : [];
    });
  },
};
