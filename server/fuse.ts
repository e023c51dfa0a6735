// Fusion: one ranked list from every retriever's candidates. Every weight is a named constant,
// and each hit keeps a trace of what it scored for, so rankings can be explained.
import type { ChunkHit } from '../indexer/store.js';
import { identifierTokens } from '../indexer/text.js';
import { camelFamily, unitOfFile } from '../indexer/modules.js';
import type { ParsedQuery } from './query.js';
import type { Candidate } from './retrieve/types.js';

/** A named symbol outranks any prose match: the user typed what they want. */
const SYMBOL_WEIGHT_FOR_SYMBOL_QUERY = 10;
const SYMBOL_WEIGHT_IN_PROSE = 0.6;
const FULLTEXT_WEIGHT = 1;
/**
 * The dense signal of the static model is weaker alone than the lexical one (dev Recall@10 0.39
 * vs 0.70), so in hybrid search it re-ranks what the lexical retrievers found. Measured on the
 * dev cases with the model that also learns names from their docs alone: 0.15 / 0.3 / 0.5 gave
 * Recall@10 0.697 / 0.727 / 0.697, MRR@10 0.480 / 0.491 / 0.487. A named symbol is looked up,
 * not interpreted. Since the retriever scores membership of the nearest 200 (each 1), 0.2 / 0.3 /
 * 0.4 / 0.5 gave 0.818 / 0.622, 0.808 / 0.625, 0.798 / 0.587, 0.798 / 0.577 (mean of seeds 1–3).
 */
const VECTOR_WEIGHT_IN_PROSE = 0.3;
/**
 * A definition holding every word of a short question is a candidate BM25's top list can miss (a
 * long one, holding each word once); once fused, its query coverage ranks it. Dev eval, weights
 * 0 / 0.3 / 0.5 / 1: lexical MRR@10 0.524 / 0.531 / 0.551 / 0.540 (0.520 without them).
 */
const EVERY_WORD_WEIGHT = 0.5;
/** A type typed as a query is a precise request, like a symbol. */
const TYPE_WEIGHT = 10;
/** A definition that contains the quoted message itself outranks one that only shares words with it. */
const LITERAL_WEIGHT = 2;
/** Documented definitions answer "how do I" questions better than internal helpers. */
const HAS_DOC = 0.2;
/** Share of query tokens found in the definition's own name. */
const NAME_OVERLAP = 0.35;
/** Share of query tokens found anywhere in the definition: BM25 alone lets one rare word win. */
const COVERAGE = 1.5;
/** Methods and undocumented one-liners (aliases, stubs) are rarely the answer to a question. */
const METHOD = 0.2;
const UNDOCUMENTED_ONE_LINER = 0.2;
/**
 * "type", "record", "signature" in a question ask for a type or module type. Chosen with the
 * container penalty below by coordinate ascent over every fusion signal's multiplier, 5-fold
 * cross-validated on the dev and paraphrased questions together (every fold raised both): from
 * 0.25 and 0.2, hybrid mean of seeds 1–3 dev 0.808 / 0.644 → 0.818 / 0.650, paraphrased 0.444 /
 * 0.247 → 0.500 / 0.278 ("the type listing HTTP request verbs" found `Cohttp.Code.meth` at 6,
 * not past 10), lexical 0.607 → 0.623 and 0.239 → 0.286 MRR@10. The same from 0.5 to 1.5. A
 * third set written afterwards (bench/cases/mixed.jsonl) lost one answer to it, "raising an
 * exception" read as asking for an exception (hence `kindWordsAsked` in query.ts); with that,
 * the set is unchanged (0.567 / 0.491).
 */
const KIND_ASKED_FOR = 0.75;
const LATER_PART = 0.1;
/**
 * A module or signature of many lines holds many of a question's words, spread over unrelated
 * members; unless the question asks for one ("signature", "module") or names an identifier (an
 * edit of `Stdlib.List`), the answer is one of its members. Dev eval, 0.2 (0.4 the same) from 30
 * lines: hybrid MRR@10 0.557 → 0.577 (how-to "shortest path" found `Path.BellmanFord` before
 * `Dijkstra.shortest_path`), lexical 0.551 → 0.558. From 10 or 20 lines hybrid is the same and
 * lexical Recall@10 0.727 → 0.758 at 10, but context windows lose a place (edit coverage 0.905 →
 * 0.881: other seeds). Raised to 0.6 with the kind bonus above (the same from 0.5 to 1.2):
 * "where does the coq kernel check that two terms are convertible" 6 → 4, edit coverage 0.881.
 */
const CONTAINER = 0.6;
const CONTAINER_LINES = 30;
const CONTAINER_KINDS = new Set(['module', 'module_type']);
/** The question names the library or directory the definition lives in (`lwt: ...`, "coq kernel"). */
const IN_NAMED_SCOPE = 0.3;
/**
 * A test directory is named after what it tests (`testsuite/tests/parsetree`, `typing-warnings`,
 * `compiler-libs`): a question naming the Parsetree or the compiler's warnings means the code,
 * unless it speaks of tests. Context windows from lexical / hybrid seeds: edits-6 0.857 / 0.810 →
 * 0.869 / 0.821 (e6-12's `Warnings.number` in, `unused_types.ml`'s tests out); every other edit
 * set and every search set the same. Test files outside such a directory keep the bonus:
 * Alcotest's own `test.ml` is the library a question about testables names (edits-9).
 */
const IN_TEST_DIRECTORY = /(^|\/)tests?\//;
/** dune's generated alias modules (`lib__.ml`: `module X = Lib__X`) only repeat names. */
const GENERATED_ALIAS = 1;

/** What a hit scored for and how many points, in the order they were added. */
export type TraceEntry = readonly [what: string, points: number];

export interface RankedHit {
  chunk: ChunkHit;
  score: number;
  /** Empty unless fusion was asked to explain: the entries were a fifth of a search's allocations. */
  trace: TraceEntry[];
}

export interface FuseContext {
  /** Directory names present in the index, to recognise scope words. */
  directories: ReadonlySet<string>;
  /** The top-level ones, a monorepo's libraries: a word may start a family of them (`coq`). */
  libraries?: ReadonlySet<string>;
  /** Files' names without extension, lower-cased: a module name with a `_` (`Lwt_list`) names one. */
  units?: ReadonlySet<string>;
  /** Keep each hit's trace of what it scored for. */
  explain?: boolean;
}

/**
 * A definition holding every word of the question, missing from BM25's list only because the list
 * was cut, scores as its last entry: the most full text could have given it. It would otherwise
 * score nothing for words it holds, below definitions holding fewer. Dev eval: hybrid MRR@10
 * 0.544 → 0.557 (concept questions 0.8 → 0.9), lexical and Recall@10 unchanged.
 */
function withFullTextFloor(byRetriever: Map<string, Candidate[]>, fulltextScores: Map<string, number> | undefined): void {
  const listed = byRetriever.get('fulltext') ?? [];
  const floor = listed[listed.length - 1]?.score ?? 0;
  if (!fulltextScores || floor <= 0) return;
  for (const c of byRetriever.get('every-word') ?? []) if (!fulltextScores.has(c.id)) fulltextScores.set(c.id, floor);
}

export function fuse(query: ParsedQuery, byRetriever: Map<string, Candidate[]>, context: FuseContext): RankedHit[] {
  const scopes = namedScopes(query, context);
  const anyScope = scopes.directories.length > 0 || scopes.units.length > 0;
  const hits = new Map<string, RankedHit>();
  const explain = context.explain ?? false;
  const score = (hit: RankedHit, what: string, points: number) => {
    hit.score += points;
    if (explain) hit.trace.push([what, points]);
  };
  const symbolWeight = query.isSymbol ? SYMBOL_WEIGHT_FOR_SYMBOL_QUERY : SYMBOL_WEIGHT_IN_PROSE;
  const weights: [retriever: string, weight: number][] = [
    ['symbol', symbolWeight],
    ['fulltext', FULLTEXT_WEIGHT],
    ['every-word', EVERY_WORD_WEIGHT],
    ['vector', query.isSymbol || query.type ? 0 : VECTOR_WEIGHT_IN_PROSE],
    ['type', TYPE_WEIGHT],
    ['literal', LITERAL_WEIGHT],
  ];
  const scoresOf = new Map<string, Map<string, number>>();
  for (const [retriever, weight] of weights) {
    if (weight === 0) continue;
    const scores = new Map<string, number>();
    for (const c of byRetriever.get(retriever) ?? []) {
      scores.set(c.id, Math.max(scores.get(c.id) ?? 0, c.score));
      if (c.chunk && !hits.has(c.id)) hits.set(c.id, { chunk: c.chunk, score: 0, trace: [] });
    }
    scoresOf.set(retriever, scores);
  }
  withFullTextFloor(byRetriever, scoresOf.get('fulltext'));
  // A definition and its `.mli` declaration are one answer: each side scores what either side was
  // found for (the declaration holds the doc the words match, the definition the code a vector
  // matches). Dev eval: lexical Recall@10 0.697 → 0.697, MRR 0.515 → 0.520; hybrid 0.697 → 0.727,
  // 0.506 → 0.510.
  for (const hit of hits.values()) {
    const partner = hit.chunk.counterpart;
    for (const [retriever, weight] of weights) {
      const scores = scoresOf.get(retriever);
      if (!scores) continue;
      const own = scores.get(hit.chunk.id);
      const shared = partner ? scores.get(partner) : undefined;
      if (own !== undefined || shared !== undefined) score(hit, retriever, weight * Math.max(own ?? 0, shared ?? 0));
    }
  }

  const askedKinds = new Set(query.askedKinds);
  const asksForTests = query.tokens.includes('test');
  // An array, not a set: iterating a set makes an iterator object per hit.
  const tokens = [...new Set(query.tokens)];
  for (const hit of hits.values()) {
    const c = hit.chunk;
    if (c.doc) score(hit, 'doc', HAS_DOC);
    if (c.tokens && tokens.length > 0) {
      let covered = 0;
      for (const t of tokens) if (c.tokens.has(t)) covered++;
      score(hit, 'coverage', (COVERAGE * covered) / tokens.length);
    }
    if (!query.isSymbol) {
      if (c.kind === 'method') score(hit, 'method', -METHOD);
      if (!c.doc && c.startLine === c.endLine) score(hit, 'one-liner', -UNDOCUMENTED_ONE_LINER);
    }
    if (tokens.length > 0) {
      const nameTokens = identifierTokens(c.name);
      let shared = 0;
      for (const t of tokens) if (nameTokens.includes(t)) shared++;
      if (shared > 0) score(hit, 'name', (NAME_OVERLAP * shared) / tokens.length);
    }
    if (askedKinds.has(c.kind)) score(hit, 'kind', KIND_ASKED_FOR);
    else if (query.identifiers.length === 0 && CONTAINER_KINDS.has(c.kind) && c.endLine - c.startLine + 1 >= CONTAINER_LINES) score(hit, 'container', -CONTAINER);
    if (c.part > 1) score(hit, 'part', -LATER_PART);
    if (anyScope && inNamedScope(c.path, scopes) && (asksForTests || !IN_TEST_DIRECTORY.test(c.path))) score(hit, 'scope', IN_NAMED_SCOPE);
    if (/__\.mli?$/.test(c.path)) score(hit, 'generated', -GENERATED_ALIAS);
  }
  return [...hits.values()].sort(byRank);
}

/**
 * The scope words that name a directory of the index, or start the name of a library, a
 * top-level one: "Coq warnings" is `coq-core` (edits-5: 0.721 → 0.779 edit coverage, no other
 * set moved). Deeper directories' families are left out: the compiler's testsuite has
 * `parse-*`, `print-*` and `match-*` ones, which made everyday words scope words. And the
 * modules the query names that are files of the index (`Lwt_list`: `lwt/lwt_list.ml`).
 */
function namedScopes({ scopeWords, moduleWords }: ParsedQuery, { directories, libraries = new Set(), units = new Set() }: FuseContext): NamedScopes {
  return {
    directories: scopeWords.filter((w) => directories.has(w) || [...libraries].some((d) => d.startsWith(`${w}-`) || d.startsWith(`${w}_`))),
    units: moduleWords.filter((w) => units.has(w)),
  };
}

/** Directories and files (their names without extension) a query names. */
interface NamedScopes {
  directories: string[];
  units: string[];
}

/** Whether `path` lies in a directory the query names, or is a file it names (`lwt_list.ml`). */
function inNamedScope(path: string, scopes: NamedScopes): boolean {
  const dirs = path.split('/').slice(0, -1);
  const lower = dirs.map((d) => d.toLowerCase());
  const families = dirs.map(camelFamily);
  // `js_of_ocaml` also names its sibling packages (`js_of_ocaml-compiler`), `menhir` its `menhirLib`.
  return (
    scopes.units.includes(unitOfFile(path)) ||
    scopes.directories.some((s) => lower.some((d, i) => d === s || d.startsWith(`${s}-`) || d.startsWith(`${s}_`) || families[i] === s))
  );
}

/** Best score first; ties by path and line, so a ranking never depends on arrival order. */
export function byRank(a: RankedHit, b: RankedHit): number {
  return b.score - a.score || a.chunk.path.localeCompare(b.chunk.path) || a.chunk.startLine - b.chunk.startLine;
}
