// Definitions that hold every word of a short question. BM25's best 200 favour short definitions
// that repeat one or two of the words; a long one that holds each of them once (a module's type
// `t`, described by its module's leading comment) can rank past the cut and is never fused.
import { FTS_MAX_TOKEN_LENGTH } from '../../indexer/store.js';
import { identifierTokens, splitIdentifier, WORD } from '../../indexer/text.js';
import type { Retriever } from './types.js';

/** On the dev cases no definition held all the words of a question of 7 or more. */
const MAX_WORDS = 6;
/** More holders than this: the words are too common together to single a definition out. */
const MAX_HOLDERS = 50;

/**
 * The tokens to ask LanceDB for: a snake-case word (`js_of_ocaml`) is its whole token
 * (`jsofocaml`), which the indexer only ever writes beside its parts' tokens, so asking for the
 * parts too finds the same holders. They are often the corpus's commonest (`ocaml`, `js`), and
 * the boolean query scores every posting of each: "js_of_ocaml dead code elimination pass" took
 * 53 ms with them, 8 ms without (full corpus, warm). A camel-case word keeps its parts: prose
 * writes "OCaml" as "ocaml" too, a token the indexer writes alone (lexical search-6 lost an
 * answer when such holders joined).
 */
export function tokensToAsk(wanted: string, tokens: readonly string[]): string[] {
  const implied = new Set<string>();
  for (const word of wanted.match(WORD) ?? []) {
    if (!word.includes('_') || splitIdentifier(word).length < 2) continue;
    const [whole, ...parts] = identifierTokens(word);
    if (whole && tokens.includes(whole)) for (const p of parts) implied.add(p);
  }
  return tokens.filter((t) => !implied.has(t));
}

export const everyWordRetriever: Retriever = {
  name: 'every-word',
  async retrieve(query, { store }) {
    const tokens = query.tokens.filter((t) => t.length <= FTS_MAX_TOKEN_LENGTH);
    if (query.isSymbol || query.type || tokens.length < 2 || tokens.length > MAX_WORDS) return [];
    return (await store.holdingEvery(tokensToAsk(query.wanted, tokens), MAX_HOLDERS)).map((chunk) => ({ id: chunk.id, chunk, score: 1 }));
  },
};
