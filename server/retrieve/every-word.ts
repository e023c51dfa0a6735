// Definitions that hold every word of a short question. BM25's best 200 favour short definitions
// that repeat one or two of the words; a long one that holds each of them once (a module's type
// `t`, described by its module's leading comment) can rank past the cut and is never fused.
import { FTS_MAX_TOKEN_LENGTH } from '../../indexer/store.js';
import type { Retriever } from './types.js';

/** On the dev cases no definition held all the words of a question of 7 or more. */
const MAX_WORDS = 6;
/** More holders than this: the words are too common together to single a definition out. */
const MAX_HOLDERS = 50;

export const everyWordRetriever: Retriever = {
  name: 'every-word',
  async retrieve(query, { store }) {
    const tokens = query.tokens.filter((t) => t.length <= FTS_MAX_TOKEN_LENGTH);
    if (query.isSymbol || query.type || tokens.length < 2 || tokens.length > MAX_WORDS) return [];
    return (await store.holdingEvery(tokens, MAX_HOLDERS)).map((chunk) => ({ id: chunk.id, chunk, score: 1 }));
  },
};
