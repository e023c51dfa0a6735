// A user query, read once: its full-text tokens and the identifiers it names.
import { compoundTokens, queryTokens, splitIdentifier, tokenizeProse } from '../indexer/text.js';
import { thesaurus } from '../indexer/grammar.js';
import { parseType, type TypeExpr } from '../indexer/signature.js';
import { capitalize } from '../indexer/modules.js';

export interface IdentifierRef {
  /** Bare name: the last component (`concat_map` of `List.concat_map`). */
  name: string;
  /** Module qualifiers as typed (`['List']`). */
  qualifiers: string[];
}

export interface ParsedQuery {
  raw: string;
  /** `raw` without its negated clauses ("..., not in parallel"): the words asked for. */
  wanted: string;
  /** Tokens of the words typed, outside negated clauses. */
  tokens: string[];
  /** `tokens` plus compounds ("dead code" → `deadcode`) and thesaurus expansions: what is searched. */
  terms: string[];
  identifiers: IdentifierRef[];
  /** The whole query is one identifier or qualified name: a symbol lookup. */
  isSymbol: boolean;
  /** Words of the query that could name a directory or library (`lwt`, `ocaml-re`, `coq`). */
  scopeWords: string[];
  /** Modules the query names as such, lower-cased: `Lwt_list`, "the Option module" (see `moduleWords`). */
  moduleWords: string[];
  /** The one module a prose query names in code (`Base.List`, `Lwt_list`), as typed: where its bare names are looked for first. */
  namedModule?: string[];
  /** The query is a function type (`string -> char -> string list`): a search by type. */
  type?: TypeExpr;
  /** Quoted text (`'The constructor X expects N argument(s)'`): looked for literally in the code. */
  phrases: string[];
  /** "where does/is/are ...": the question asks for the code that does something, not its interface. */
  asksWhere: boolean;
  /** The kinds of definition the question asks for ("the type of ...": `type`; "signature": `module_type`). */
  askedKinds: string[];
}

/** A reference as typed, qualifiers and name: `List.concat_map`. */
export function qualifiedName(ref: IdentifierRef): string {
  return [...ref.qualifiers, ref.name].join('.');
}

const QUALIFIED = /[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*/g;
/**
 * The most distinct identifiers one query looks up: each costs index lookups (a fuzzy one tens
 * of milliseconds), and a 10,000-character query can name hundreds.
 */
export const MAX_IDENTIFIERS = 8;

/**
 * Names a value in prose: `find_opt`, `Hashtbl.find`, `sexpOfList`. A bare capitalised word
 * (`Not_found`, `Lwt`) in a sentence is usually context, not the thing asked for.
 */
function isCodeLike(word: string): boolean {
  if (word.includes('.')) return true;
  return /^[a-z]/.test(word) && (word.includes('_') || /[a-z][A-Z]/.test(word));
}

/** A name and the type a prompt gives it: `Hashtbl.find_or_add : ('a, 'b) t -> 'a -> 'b`. */
export interface PromptSignature {
  ref: IdentifierRef;
  type: TypeExpr;
}

/** `name : `, `name: ` or `` `name` : ``, the colon followed by a space (`~sep:string` is a label). */
const NAME_COLON = /((?:[A-Z][\w']*\.)*)([a-z_][\w']*)`?\s*:\s+/g;
/** Words that end a type written inline in prose ("... -> 'a option that keeps ..."). */
const PROSE_AFTER_TYPE = new Set(['a', 'an', 'the', 'that', 'which', 'to', 'for', 'with', 'in', 'on', 'and', 'or', 'like', 'so', 'as', 'from', 'by', 'into', 'returning', 'where', 'when', 'plus', 'but', 'is', 'it']);
/** The longest type read after a name; a longer run of words is prose. */
const MAX_TYPE_WORDS = 40;

/**
 * The first `name : type` a prompt writes, the type a function one (with an arrow): the
 * longest run of words after the colon, up to a prose word, that parses as a type.
 */
export function signatureIn(prompt: string): PromptSignature | undefined {
  for (const m of prompt.matchAll(NAME_COLON)) {
    const words = prompt.slice(m.index + m[0].length).split(/\s+/).slice(0, MAX_TYPE_WORDS);
    let type: TypeExpr | undefined;
    for (let n = 1; n <= words.length && !PROSE_AFTER_TYPE.has(words[n - 1]!.toLowerCase()); n++) {
      // The sentence's punctuation and a closing code quote are not the type's.
      const text = words.slice(0, n).join(' ').replace(/[,.;`"]+$/, '');
      if (text.includes('->')) type = parseType(text) ?? type;
    }
    if (type?.t === 'arrow') return { ref: { name: m[2]!, qualifiers: m[1]!.split('.').filter(Boolean) }, type };
  }
  return undefined;
}

/** Module names typed before a name with spaces for dots: `In_channel`, or `lwt_unix` lower-cased. */
const SPACED_QUALIFIER = /^(?:[A-Z][\w']*|[a-z][a-z0-9']*_[\w']*)$/;
const SPACED_NAME = /^[A-Za-z_][\w']*$/;
const MAX_SPACED_QUALIFIERS = 3;

/**
 * A qualified name typed with spaces for dots, as people type into a search box ("In_channel
 * fold_lines", "Dom_html addEventListener", "lwt_unix sleep"), dotted: `In_channel.fold_lines`.
 * Only a reading: the searcher takes it when the index defines that name.
 */
export function spacedQualifiedName(query: string): { name: string; qualifiers: string[] } | undefined {
  const words = query.trim().split(/\s+/);
  if (words.length < 2 || words.length > MAX_SPACED_QUALIFIERS + 1) return undefined;
  const name = words.pop()!;
  if (!SPACED_NAME.test(name) || !words.every((w) => SPACED_QUALIFIER.test(w))) return undefined;
  return { name, qualifiers: words.map(capitalize) };
}

export function parseQuery(raw: string): ParsedQuery {
  const query = raw.trim();
  const words = query.match(QUALIFIED) ?? [];
  const isSymbol = words.length === 1 && words[0] === query;
  const identifiers = [...new Set(words.filter((w) => isSymbol || isCodeLike(w)))]
    .map((w) => {
      const parts = w.split('.').filter(Boolean);
      return { name: parts[parts.length - 1]!, qualifiers: parts.slice(0, -1) };
    })
    .filter((id) => splitIdentifier(id.name).length > 0)
    .slice(0, MAX_IDENTIFIERS);
  const wanted = withoutNegations(query);
  const tokens = queryTokens(wanted);
  // Only an arrow makes a type query: `string list` alone reads as well as prose.
  const type = query.includes('->') ? parseType(query) : undefined;
  const asksWhere = /\bwhere (?:does|do|is|are|did|was|were)\b/i.test(query);
  const module = isSymbol ? undefined : namedModuleOf(query);
  return { raw: query, wanted, tokens, terms: searchTerms(wanted, tokens), identifiers, isSymbol, scopeWords: scopeWords(query), moduleWords: moduleWords(query), ...(module ? { namedModule: module } : {}), phrases: quotedPhrases(query), asksWhere, askedKinds: kindsAskedFor(wanted, asksWhere), ...(type ? { type } : {}) };
}

/** Words that ask for a kind of definition. */
const KIND_WORDS: Record<string, string[]> = {
  type: ['type', 'record', 'variant', 'tree', 'ast'],
  module_type: ['signature', 'interface', 'sig', 'functor'],
  module: ['module', 'functor'],
  // Not "error": "the error message", "the error lists the fields" speak of what the code reports.
  // Without it, edit coverage from lexical seeds edits-3 0.958 → 0.968, edits-6 0.869 → 0.893,
  // edits-8 0.958 → 0.976; from hybrid seeds edits-6 0.821 → 0.869, edits-3 0.947 → 0.937
  // (zedit-03, "-error-style", lost its model `Misc.Color.should_enable_color`); search the same
  // but hybrid search-5 MRR@10 0.294 → 0.298.
  exception: ['exception'],
  class: ['class', 'object'],
};

/** A verb whose object is what the code does ("raising an exception", "returns an error"). */
const OUTCOME_VERB = /^(?:rais|throw|return|report|fail)/;
/** An exception something ends "with" is how it ends too ("blows up with an exception"). */
const OUTCOME_WITH = new Set(['exception']);
/** How far before a kind word such a verb may stand: its object's determiners and adjectives. */
const OUTCOME_REACH = 3;

/** A capitalised word inside a sentence, not at a line's start: a name, as the constructors in "handles Ok/Error" are. */
const NAME_IN_SENTENCE = /(?<![.!?\n]\s*|^\s*)\b[A-Z][a-z]+\b/g;

/**
 * The question's words that may ask for a kind of definition: all of them but the object of a
 * verb of raising or returning, which says what the wanted code does, and the names it writes
 * capitalised. "load a file ... and convert it, raising an exception if the conversion fails"
 * had ranked exception definitions first once the kind bonus was 0.75; "throws one particular
 * exception" is the same. "the result testable handles Ok/Error" asked for exceptions (e9-04:
 * Alcotest's `Test_error` first); without names, edit coverage from lexical seeds edits-2 0.958
 * → 0.982, from hybrid seeds edits-9 0.821 → 0.893, every search set the same.
 */
function kindWordsAsked(wanted: string): Set<string> {
  const words = wanted.replace(NAME_IN_SENTENCE, ' ').toLowerCase().match(/[a-z]+/g) ?? [];
  const outcome = (i: number) => words.slice(Math.max(0, i - OUTCOME_REACH), i).some((w) => OUTCOME_VERB.test(w) || (w === 'with' && OUTCOME_WITH.has(words[i]!)));
  return new Set(words.filter((_, i) => !outcome(i)));
}

const DEFINED = /\b(?:defined|declared|definition|declaration)\b/i;

/**
 * "where are record fields converted" asks for the code that converts them: the kind words of a
 * "where" question name the data it works on, unless it asks where something is defined. Dev
 * eval, hybrid mean of static-model seeds 1–3: MRR@10 0.625 → 0.643 (locate 0.219 → 0.285),
 * Recall@10 0.808 unchanged; lexical 0.788 / 0.593 → 0.788 / 0.603. Dropping the doc bonus for
 * such questions too: locate MRR@10 0.345 but Recall@10 0.556 → 0.444, not kept.
 */
function kindsAskedFor(wanted: string, asksWhere: boolean): string[] {
  if (asksWhere && !DEFINED.test(wanted)) return [];
  // "the Option module" names a module the question is about, it does not ask for one.
  const words = kindWordsAsked(wanted.replace(CALLED_A_MODULE, ' '));
  return Object.entries(KIND_WORDS)
    .filter(([, kindWords]) => kindWords.some((w) => words.has(w)))
    .map(([kind]) => kind);
}

/**
 * "instead of raising Not_found", "rather than a list", ", not in parallel", "without blocking",
 * "(not the VM path)": what follows names what the user does not want, and searching for its
 * words finds exactly that (`Hashtbl.find` for a lookup "instead of raising Not_found"). The
 * clause ends at punctuation or after a few words. "without" counts only before a verb in -ing
 * ("without raising", "without copying"): "a list without duplicates" describes what is wanted.
 * "no" and a plain "not" are left alone: "attributes that no rewriter consumed" still asks about
 * rewriters.
 */
const NEGATED_CLAUSE = /(?:\binstead of|\brather than|\bwithout(?=\s+[a-z]+ing\b)|(?:[,;]|\bbut)\s*not)\s+[^,;:.!?()]*?(?=$|[,;:.!?()]|\s+(?:and|but|so|then|that|which)\b)|\(\s*not\s+[^()]*\)/gi;
/** Words of a negated clause, its cue ("instead of", ", not") included. */
const MAX_NEGATED_CLAUSE_WORDS = 6;

function withoutNegations(query: string): string {
  const wanted = query
    // A long clause is more likely a description than a single thing to avoid.
    .replace(NEGATED_CLAUSE, (clause) => (clause.trim().split(/\s+/).length <= MAX_NEGATED_CLAUSE_WORDS ? ' ' : clause))
    // Spaces collapse, line breaks stay: a word starting a line starts a sentence (`NAME_IN_SENTENCE`).
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n\s*/g, '\n')
    .trim();
  return wanted || query;
}

/**
 * A quotation closed by its own kind of quote: `'File "a.ml", line 3'` holds its inner pair. A
 * backquoted span holds no backquote, as in Markdown: "like `pop` but raising `Empty`" is two
 * short spans, not one phrase from the first to the last.
 */
const QUOTED = /(?:^|[\s(:])(?:'(.{4,300}?)'|"(.{4,300}?)"|`([^`]{4,300})`|\u2018(.{4,300}?)\u2019|\u201c(.{4,300}?)\u201d)(?=$|[\s.,;:)!?])/g;

/**
 * OCaml that a prompt shows in quotes: an attribute or extension (`[@@deriving variants]`), a
 * declaration (`type a = ... and b = ...`), a type with an arrow, a name with its type
 * (`install_dir : string option`, OCaml's space before the colon, which a message's "error:"
 * lacks), a record type or a type with a variable (`'a Seq.t`). Looked for literally, its
 * keywords matched any definition.
 */
const QUOTED_CODE = /^(?:\[[@%]|\{.*\s:\s|'[a-z]\b|(?:type|let|val|module|open|include|match|fun|function|external|exception)\s|[a-z_][\w.']*\s+:\s)|->/;

/** A command-line option in quotes (`-docroot`): the code that handles it spells it as a string. */
export const COMMAND_LINE_FLAG = /^--?[a-z][\w-]+$/i;

/**
 * Two words of two letters or more. Without a word, a quote (`'.', '['`, "(a (b c))") is data,
 * and looking for it meant reading every definition's text; with one, it is code (`Some v`,
 * `Error e`), and found anywhere a `Some v` is written.
 */
const WORDS_OF_A_MESSAGE = /[a-z]{2}.*\s.*[a-z]{2}/is;

/**
 * Text in quotes that reads like a message (two words of two letters at least, not code), or a
 * command-line option: `'...'`, `"..."`, `` `...` `` or curly quotes. An apostrophe inside a
 * word (`Base's`) does not open a quote.
 */
function quotedPhrases(query: string): string[] {
  const out: string[] = [];
  for (const m of query.matchAll(QUOTED)) {
    const phrase = m.slice(1).find((g) => g !== undefined)!.trim();
    if ((WORDS_OF_A_MESSAGE.test(phrase) && !QUOTED_CODE.test(phrase)) || COMMAND_LINE_FLAG.test(phrase)) out.push(phrase);
  }
  return out;
}

/**
 * A short word that a following noun says is a library's name, "the re library" (not "a
 * library"), or that owns something, "re's PCRE interface" (not "it's").
 */
const SHORT_LIBRARY_NAME = /\b([a-z][a-z0-9]?)(?:\s+(?:library|lib|package)\b|'s\b)/g;
const SHORT_ENGLISH = new Set(['a', 'an', 'as', 'at', 'by', 'do', 'if', 'in', 'is', 'it', 'my', 'no', 'of', 'on', 'or', 'so', 'to', 'we']);

/**
 * `ocaml-re` names the library `re` as well as itself; short words are too ambiguous alone,
 * unless the query calls them a library.
 */
function scopeWords(query: string): string[] {
  const words = new Set<string>();
  for (const m of query.toLowerCase().matchAll(SHORT_LIBRARY_NAME)) if (!SHORT_ENGLISH.has(m[1]!)) words.add(m[1]!);
  for (const w of query.toLowerCase().match(/[a-z][a-z0-9_-]*[a-z0-9]/g) ?? []) {
    if (w.length >= 3) words.add(w);
    if (w.includes('-')) for (const part of w.split('-').slice(1)) if (part) words.add(part);
    if (w.includes('_')) words.add(w.replace(/_/g, '-'));
  }
  return [...words];
}

/** A module path written in code: `Base.List`, `Lwt_list` (capitalised, dotted or with a `_`). */
const MODULE_PATH = /(?<![\w.])[A-Z][\w']*(?:\.[A-Z][\w']*)+(?![\w.])|(?<![\w.])[A-Z][a-z0-9']*_[\w']*(?![\w.])/g;

/** The module a prose query names in code, when it names exactly one. */
function namedModuleOf(query: string): string[] | undefined {
  const paths = new Set(query.match(MODULE_PATH) ?? []);
  return paths.size === 1 ? [...paths][0]!.split('.') : undefined;
}

/** "the Option module", "module Hashtbl": a capitalised word the query calls a module. */
const CALLED_A_MODULE = /\b([A-Z][\w']*)\s+module\b|\bmodule\s+([A-Z][\w']*)/g;

/**
 * The modules a query names, each a file of the index if any (`lwt_list.ml`): a word with a `_`
 * (`Lwt_list`, `lwt_unix`), which English does not write, or one it calls a module.
 */
function moduleWords(query: string): string[] {
  const words = new Set<string>();
  for (const w of query.match(/[A-Za-z][\w']*_[\w']*/g) ?? []) words.add(w.toLowerCase());
  for (const m of query.matchAll(CALLED_A_MODULE)) words.add((m[1] ?? m[2]!).toLowerCase());
  return [...words];
}

function searchTerms(query: string, tokens: string[]): string[] {
  const terms = new Set(tokens);
  for (const c of compoundTokens(query)) for (const t of tokenizeProse(c)) terms.add(t);
  const words = thesaurus();
  for (const word of query.toLowerCase().match(/[a-z][a-z-]*/g) ?? []) {
    for (const related of words.get(word) ?? []) for (const t of tokenizeProse(related)) terms.add(t);
  }
  return [...terms];
}
