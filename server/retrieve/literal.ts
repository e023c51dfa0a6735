// Quoted text in a query is looked for literally: a message a user saw ("The constructor X
// expects N argument(s)") is found where the code prints it, placeholders and all. The phrase is
// cut at what are likely placeholders (single capitals, `...`, format directives), and every
// remaining fragment must occur in the definition.
import type { Retriever } from './types.js';

const MAX_PHRASES = 2;
const HITS_PER_PHRASE = 20;

export function literalFragments(phrase: string): string[] {
  return phrase
    .split(/\s*(?:\b[A-Z]\b|\.\.\.|…|%[a-z@])\s*/)
    .map((f) => f.trim())
    .filter((f) => f.length >= 4);
}

export const literalRetriever: Retriever = {
  name: 'literal',
  async retrieve(query, { store }) {
    const found = await Promise.all(query.phrases.slice(0, MAX_PHRASES).map((p) => store.chunksContaining(literalFragments(p), HITS_PER_PHRASE)));
    const seen = new Set<string>();
    return found.flat().flatMap((chunk) => (seen.has(chunk.id) ? [] : (seen.add(chunk.id), [{ id: chunk.id, chunk, score: 1 }])));
  },
};
