// Identifier-aware tokens, shared by the indexer (what goes into the full-text columns) and the
// query side (what is looked up), so both sides always agree. `concat_map` and `concatMap`
// yield `concatmap`, `concat`, `map`; `Base.String.split` yields `base`, `string`, `split`.
// English words are stemmed and stop words dropped, so "splitting strings" meets `split`.
// Porter2 (Snowball English): the original Porter algorithm over-stems, merging `generalize`,
// `generate` and `generic` into `gener`.
import stemmer from 'wink-porter2-stemmer';

// No `'`: primes (`x'`) and possessives (`Base's`) are not part of the word.
export const WORD = /[A-Za-z][A-Za-z0-9_]*/g;
const SUBWORD = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;

// English function words, and the OCaml keywords that say nothing about what code does in prose
// or inside a name (`type_expr`, "the type of"): frequent everywhere, so they carry no signal.
const STOP_WORDS = new Set(
  (
    'a an and are as at be by can do does for from get has have how i if in into is it its me my no not of on or ' +
    'so that the their then there these this to use used using via was way we what when where which while with ' +
    'without you your code codebase base_ ' +
    'let rec fun function val type module struct sig end begin else done downto nonrec true false unit'
  ).split(/\s+/),
);
/**
 * The other OCaml keywords are English words with a meaning: "match a regex", `Re.matches`,
 * `open_in`, `Lazy.force`, "lazily", "raise an exception". Only a whole word of code standing
 * alone (`match x with`) is syntax, and dropped there.
 */
const SYNTAX_ONLY = new Set(
  'match open include mutable private virtual method object inherit new lazy assert external exception functor constraint initializer'.split(' '),
);
// Kept as whole identifiers even though they are stop words in English prose.
const KEEP_IN_CODE = new Set(['type', 'module', 'val', 'open', 'include']);

/**
 * Longer words are data (base64, hex, padding in generated code), not English: they are neither
 * stemmed — the stemmer's time grows with the square of the length: 64 ms for 2,000 letters,
 * minutes for a 64 KB string literal — nor cached. The corpus's longest is 110 letters.
 */
const MAX_WORD_LENGTH = 64;

const STOP_STEMS = new Set([...STOP_WORDS].map((w) => (w.length > 3 ? stemmer(w) : w)));
// Sub-words repeat far more than whole identifiers (`string` in thousands of names), and a new
// identifier is a cache miss of `wordTokens`: its parts' stems are memoized on their own.
const stemCache = new Map<string, string>();
function stem(word: string): string {
  if (word.length <= 3 || word.length > MAX_WORD_LENGTH) return word;
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    stemmed = stemmer(americanSpelling(word));
    if (stemCache.size < 500_000) stemCache.set(word, stemmed);
  }
  return stemmed;
}

/**
 * British spellings as American ones, before stemming: Porter2 makes `specialized` and
 * `specialization` one stem but leaves `specialised` apart, and OCaml code and its docs are
 * written in both ("normalise", `initialise_state`, "behaviour"). At least three letters must
 * precede the ending (`raise`, `four`, `rogue` stay); the few words the rules also reach
 * (`promise` → `promize`) are rewritten alike wherever they occur, so nothing is lost.
 */
const BRITISH_ENDINGS: readonly [RegExp, string][] = [
  [/^(.{3,})is(e|es|ed|ing|er|ers|ation|ations|able)$/, '$1iz$2'],
  [/^(.{3,})our(s|ed|ing|ite|ites|able|ably)?$/, '$1or$2'],
  [/^(.{2,})ys(e|es|ed|ing|er|ers)$/, '$1yz$2'],
  [/^(.{4,})ogue(s)?$/, '$1og$2'],
];

function americanSpelling(word: string): string {
  for (const [ending, american] of BRITISH_ENDINGS) if (ending.test(word)) return word.replace(ending, american);
  return word;
}

/** Sub-words of one identifier, lower-cased: `concatMap` → [concat, map]. */
export function splitIdentifier(word: string): string[] {
  return word.match(SUBWORD)?.map((w) => w.toLowerCase()) ?? [];
}

const wordCache = new Map<string, readonly string[]>();
const NONE: readonly string[] = [];

/** Tokens of one identifier-like word, memoized: code repeats the same names constantly. */
function wordTokens(word: string): readonly string[] {
  let tokens = wordCache.get(word);
  if (tokens) return tokens;
  const parts = splitIdentifier(word);
  const out: string[] = [];
  // The whole identifier as one token (the FTS tokenizer would split on `_`).
  if (parts.length > 1) out.push(parts.map(americanSpelling).join(''));
  for (const p of parts) {
    if (STOP_WORDS.has(p) || p.length < 2) continue;
    const s = stem(p);
    if (!STOP_STEMS.has(s)) out.push(s);
  }
  tokens = out;
  if (wordCache.size < 500_000 && word.length <= MAX_WORD_LENGTH) wordCache.set(word, tokens);
  return tokens;
}

/**
 * Tokens of one word's sub-words, without the whole-identifier token: what any text holding the
 * word holds, even inside a longer identifier (`Buffer` in `Buffer.add_string`, `add` in `addAll`).
 */
export function partTokens(word: string): readonly string[] {
  const tokens = codeWordTokens(word);
  return splitIdentifier(word).length > 1 ? tokens.slice(1) : tokens;
}

/** Tokens of a definition's bare name (`find_opt`), shared with every other use of that name: not to be changed. */
export function identifierTokens(name: string): readonly string[] {
  return /^[A-Za-z][A-Za-z0-9_]*$/.test(name) ? wordTokens(name) : tokenize(name);
}

/** Tokens of one word of code: a keyword standing alone is syntax. */
function codeWordTokens(word: string): readonly string[] {
  return SYNTAX_ONLY.has(word) ? NONE : wordTokens(word);
}

/** Appends the tokens of code `text` (names, definitions) to `out`; returns `out`. */
export function tokenize(text: string, out: string[] = []): string[] {
  // `match` with /g yields plain strings: far cheaper than `matchAll`'s match objects.
  for (const word of text.match(WORD) ?? []) {
    for (const t of codeWordTokens(word)) out.push(t);
  }
  return out;
}

/** Appends the tokens of prose (a doc comment, a question) to `out`, where "match" is a word; returns `out`. */
export function tokenizeProse(text: string, out: string[] = []): string[] {
  for (const word of text.match(WORD) ?? []) {
    for (const t of wordTokens(word)) out.push(t);
  }
  return out;
}

/** Tokens of a user query: like `tokenizeProse`, but a query naming only stop words keeps them. */
export function queryTokens(query: string): string[] {
  const tokens = tokenizeProse(query);
  if (tokens.length > 0) return unique(tokens);
  return unique((query.match(WORD) ?? []).flatMap(splitIdentifier).filter((w) => KEEP_IN_CODE.has(w) || w.length > 1));
}

/**
 * Adjacent words of a question written as one identifier, as code often does:
 * "dead code" → `deadcode`, "type check" → `typecheck`.
 */
export function compoundTokens(query: string): string[] {
  const words = (query.match(/[A-Za-z]+/g) ?? []).map((w) => w.toLowerCase());
  const out: string[] = [];
  for (let i = 0; i + 1 < words.length; i++) {
    if (words[i]!.length < 3 || words[i + 1]!.length < 3) continue;
    if (STOP_WORDS.has(words[i]!) && STOP_WORDS.has(words[i + 1]!)) continue;
    out.push(americanSpelling(words[i]!) + americanSpelling(words[i + 1]!));
  }
  return out;
}

export function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** An identifier as one lower-case token without separators: `concat_map` → `concatmap`. */
export function compound(identifier: string): string {
  return identifier.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Whether `part` is one of the pieces of `text` split at any of the `separators` characters. */
export function hasPart(text: string, part: string, separators: string): boolean {
  // Never asked for an empty piece; `indexOf('')` would not advance past the end.
  if (!part) return false;
  for (let at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
    const end = at + part.length;
    if ((at === 0 || separators.includes(text[at - 1]!)) && (end === text.length || separators.includes(text[end]!))) return true;
  }
  return false;
}

/** The tokens that any text holding all of `words`, whole, holds: each word's sub-word tokens, once. */
export function wholeWordTokens(words: readonly string[]): string[] {
  return unique(words.flatMap((w) => partTokens(w)));
}

/** Levenshtein distance of `a` and `b`, or `max + 1` as soon as it must exceed `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  // Two rows, reused: fuzzy lookups compare a name with thousands of terms.
  if (row.length < 2 * (b.length + 1)) row = new Int32Array(4 * (b.length + 1));
  const width = b.length + 1;
  let [prev, cur] = [0, width];
  for (let j = 0; j <= b.length; j++) row[j] = j;
  for (let i = 1; i <= a.length; i++) {
    row[cur] = i;
    let best = i;
    const ai = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(row[prev + j]! + 1, row[cur + j - 1]! + 1, row[prev + j - 1]! + (ai === b.charCodeAt(j - 1) ? 0 : 1));
      row[cur + j] = v;
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
    [prev, cur] = [cur, prev];
  }
  return row[prev + b.length]!;
}

let row = new Int32Array(64);
