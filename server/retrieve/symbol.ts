// Exact and fuzzy lookup of the identifiers a query names, with their qualifiers checked
// against the module path and directories of each definition: `String.split` prefers
// `Base.String.split` to `Base.List.split`, and `pp_print_lsit` finds `pp_print_list`.
import { symbolEndsWith, type ChunkHit, type ChunkReader } from '../../indexer/store.js';
import { editDistance, hasPart } from '../../indexer/text.js';
import { qualifiedName, type IdentifierRef } from '../query.js';
import type { Candidate, Retriever } from './types.js';

const EXACT = 0.8;
const EXACT_IGNORING_CASE = 0.75;
const FUZZY = 0.55;
const FUZZY_PER_EDIT = 0.08;
const QUALIFIED_SUFFIX = 0.2;
const QUALIFIER_FOUND = 0.05;
const QUALIFIER_MISSING = 0.15;
const PER_NESTING_LEVEL = 0.01;
const PER_SYMBOL_COMPONENT = 0.005;
const LATER_PART = 0.05;
const MAX_TWO_EDIT_NAME = 32;
const MAX_FUZZY_NAME = 100;
/** The most definitions one name may bring back (`find` is defined hundreds of times). */
const MAX_SAME_NAME = 2000;

/**
 * Typos tolerated in a name. LanceDB's fuzzy match builds a Levenshtein automaton that fails past
 * 10,000 states (two edits on a 45-character name) and costs more the longer the name: long names
 * get one edit, and names longer than any in a real code base get none.
 */
export function maxEdits(name: string): number {
  if (name.length > MAX_FUZZY_NAME) return 0;
  if (name.length > MAX_TWO_EDIT_NAME) return 1;
  return name.length >= 8 ? 2 : name.length >= 4 ? 1 : 0;
}

/** How well a definition's place fits the qualifiers typed before the name (`qualified`: them and the name, joined). */
function qualifierFit(chunk: ChunkHit, ref: IdentifierRef, qualified: string): number {
  if (ref.qualifiers.length === 0) return 0;
  if (symbolEndsWith(chunk.symbol, qualified)) return QUALIFIED_SUFFIX;
  // Read in place: a set of each definition's places cost milliseconds for a common name.
  const symbol = chunk.symbol.toLowerCase();
  const path = chunk.path.toLowerCase().replace(/\.mli?$/, '');
  let fit = 0;
  for (const q of ref.qualifiers) {
    const lower = q.toLowerCase();
    fit += hasPart(symbol, lower, '.') || hasPart(path, lower, '/_-.') ? QUALIFIER_FOUND : -QUALIFIER_MISSING;
  }
  return fit;
}

function scoreDefinition(chunk: ChunkHit, ref: IdentifierRef, qualified: string): number | undefined {
  let base: number;
  if (chunk.name === ref.name) base = EXACT;
  else if (chunk.name.toLowerCase() === ref.name.toLowerCase()) base = EXACT_IGNORING_CASE;
  else {
    const limit = maxEdits(ref.name);
    const d = editDistance(chunk.name.toLowerCase(), ref.name.toLowerCase(), limit);
    if (d > limit) return undefined;
    base = FUZZY - FUZZY_PER_EDIT * d;
  }
  return (
    base +
    qualifierFit(chunk, ref, qualified) -
    PER_NESTING_LEVEL * chunk.depth -
    PER_SYMBOL_COMPONENT * componentCount(chunk.symbol) -
    (chunk.part > 1 ? LATER_PART : 0)
  );
}

function componentCount(symbol: string): number {
  let n = 1;
  for (let at = symbol.indexOf('.'); at >= 0; at = symbol.indexOf('.', at + 1)) n++;
  return n;
}

/**
 * The definitions one reference may mean. Those under the typed qualifiers (`Or_error.t`) are
 * read on their own, and rank first: a common name has more definitions than one lookup reads
 * (`t`: 5,107 on the full corpus), which come in table order. The others of that name fit the
 * qualifiers more loosely (found in the path): when typed ones exist, fewer of them are read.
 */
async function definitionsOf(store: ChunkReader, ref: IdentifierRef, limit: number, directories: ReadonlySet<string>): Promise<ChunkHit[]> {
  const suffix = ref.qualifiers.length > 0 ? qualifiedName(ref) : undefined;
  // Both lookups at once: a qualified name is mostly one the index defines, and then only `limit`
  // of the others are read; all of them only when it is not.
  const [qualified, fewer] = await Promise.all([suffix ? store.byName([ref.name], MAX_SAME_NAME, { symbolSuffix: suffix }) : [], store.byName([ref.name], suffix ? limit : MAX_SAME_NAME)]);
  const others = suffix && qualified.length === 0 ? await store.byName([ref.name], MAX_SAME_NAME) : fewer;
  const seen = new Set(qualified.map((h) => h.id));
  const hits = [...qualified, ...others.filter((h) => !seen.has(h.id))];
  // A library's name in a question (`js_of_ocaml`) is no typo: its fuzzy lookup cost 6–12 ms.
  const namesLibrary = ref.qualifiers.length === 0 && directories.has(ref.name.toLowerCase());
  if (hits.length > 0 || maxEdits(ref.name) === 0 || namesLibrary) return hits;
  return store.fuzzyName(ref.name.toLowerCase().replace(/_/g, ''), limit * 4, maxEdits(ref.name));
}

export const symbolRetriever: Retriever = {
  name: 'symbol',
  async retrieve(query, { store, directories = new Set() }, limit) {
    // Looked up together (a prose request names several: a CLI run waited for each in turn),
    // scored in the order they were typed.
    // A bare name in a question naming one module (`filter_map` beside `Base.List`) is that module's first.
    const refs = query.identifiers.map((ref) => (ref.qualifiers.length === 0 && query.namedModule && !query.namedModule.includes(ref.name) ? { ...ref, qualifiers: query.namedModule } : ref));
    const found = await Promise.all(refs.map((ref) => definitionsOf(store, ref, limit, directories)));
    const best = new Map<string, Candidate>();
    refs.forEach((ref, i) => {
      const qualified = qualifiedName(ref);
      for (const chunk of found[i]!) {
        const score = scoreDefinition(chunk, ref, qualified);
        if (score === undefined) continue;
        const seen = best.get(chunk.id);
        if (!seen || seen.score < score) best.set(chunk.id, { id: chunk.id, chunk, score: Math.max(0, Math.min(1, score)) });
      }
    });
    return [...best.values()].sort((a, b) => b.score - a.score).slice(0, limit);
  },
};
