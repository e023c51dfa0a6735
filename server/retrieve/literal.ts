// Quoted text in a query is looked for literally: a message a user saw ("The constructor X
// expects N argument(s)") is found where the code prints it, placeholders and all. The phrase is
// cut at what are likely placeholders (single letters, `...`, format directives, a double-quoted
// name: `%S` or `\"%s\"` in the code's string), and every remaining fragment must occur in the
// definition.
import { WORD } from '../../indexer/text.js';
import { COMMAND_LINE_FLAG } from '../query.js';
import type { ChunkReader } from '../../indexer/store.js';
import type { Retriever } from './types.js';

const MAX_PHRASES = 2;
const HITS_PER_PHRASE = 20;

export function literalFragments(phrase: string): string[] {
  if (COMMAND_LINE_FLAG.test(phrase)) return [`"${phrase}"`];
  return phrase
    // A lower-case letter in parentheses is a plural: "argument(s)".
    .split(/\s*(?:\b[A-Z]\b|(?<!\()\b[a-z]\b(?!\))|\.\.\.|…|%[a-z@]|"[^"]*"|")\s*/)
    .map((f) => f.trim())
    .filter((f) => f.length >= 4);
}

/**
 * The words of the fragments that the quoted text holds whole: a reader with a term index looks
 * only at the definitions that hold them all. The quote's own first and last word may have been
 * cut mid-word, unless a non-word character ends it; the fragments' edges at placeholders may not.
 */
export function literalWords(phrase: string, fragments = literalFragments(phrase)): string[] {
  const words = fragments.flatMap((f) => f.match(WORD) ?? []);
  const text = phrase.trim();
  if (/^\w/.test(text) && fragments.length > 0 && text.startsWith(fragments[0]!)) words.shift();
  if (/\w$/.test(text) && fragments.length > 0 && text.endsWith(fragments[fragments.length - 1]!)) words.pop();
  return words;
}

/**
 * The definitions that hold `phrase`. Its edge words are taken whole first: a quote is nearly
 * always whole words, and where the words left without its edges were none ("Not Found") the
 * reader scanned every definition's text (15 ms of one core, where the term index answers at
 * once). Only if that finds nothing is the quote taken as possibly cut mid-word at its edges.
 */
async function holding(store: ChunkReader, phrase: string) {
  const fragments = literalFragments(phrase);
  const words = literalWords(phrase, fragments);
  const wholeEdges = fragments.flatMap((f) => f.match(WORD) ?? []);
  if (wholeEdges.length > words.length) {
    const found = await store.chunksContaining(fragments, HITS_PER_PHRASE, wholeEdges);
    if (found.length > 0) return found;
  }
  return store.chunksContaining(fragments, HITS_PER_PHRASE, words);
}

/**
 * The quotes most like a message, by their words: "The option named "foo" doesn't exist" before
 * the command lines `--enable foo` and `--disable foo` quoted ahead of it.
 */
function mostWordy(phrases: readonly string[]): string[] {
  const words = (p: string) => p.match(/[a-z]{2,}/gi)?.length ?? 0;
  return [...phrases].sort((a, b) => words(b) - words(a)).slice(0, MAX_PHRASES);
}

export const literalRetriever: Retriever = {
  name: 'literal',
  async retrieve(query, { store }) {
    const found = await Promise.all(mostWordy(query.phrases).map((p) => holding(store, p)));
    const seen = new Set<string>();
    return found.flat().flatMap((chunk) => (seen.has(chunk.id) ? [] : (seen.add(chunk.id), [{ id: chunk.id, chunk, score: 1 }])));
  },
};
