// The context pipeline: query → retrieve → fuse (the Searcher) → expand → pack → render. Given a
// prompt and optionally where the user is (file, line), returns the window an LLM needs to write
// a change that applies and type-checks, exactly within a token budget.
import { symbolEndsWith, type ChunkReader, type ChunkHit } from '../../indexer/store.js';
import { warningCollector, type IndexView, type Searcher, type SearchMode } from '../search.js';
import { parseQuery, qualifiedName, signatureIn, type IdentifierRef } from '../query.js';
import { signatureType, typeLikeness, typeTokens } from '../../indexer/signature.js';
import { compound, tokenizeProse } from '../../indexer/text.js';
import { BODY_BOOST, NAME_BOOST } from '../retrieve/fulltext.js';
import { literalFragments } from '../retrieve/literal.js';
import { armConstructorBefore, byDistanceFrom, directoryOf, expand, EXPANDED_SEEDS, proximity, unitPaths, variantCases, type Seed } from './expand.js';
import { capitalize } from '../../indexer/modules.js';
import { mentionedNames, parseBuildErrors, sourcePath, type BuildError } from './errors.js';
import type { ContextWindow } from './item.js';
import { MAX_ITEMS_PER_FILE, packToBudget } from './pack.js';
import { DEFAULT_ENCODING, tokenCounter, type CountTokens, type EncodingName } from './tokens.js';

export const DEFAULT_BUDGET = 8000;
export const MIN_BUDGET = 50;
export const MAX_BUDGET = 200_000;
/**
 * Search hits taken as seeds, as many from one file as a window shows (a search list shows
 * three): a change lands where its best hits are, and that file's other matches are its next
 * places. Edit coverage at the default budget, full-corpus index / static-model seeds 1–3: dev
 * 0.881 / 0.905 / 0.905 / 0.881 → 0.905 each (`Warnings.descriptions` for a new warning), the 14
 * cases of bench/cases/edits.jsonl 0.880 / 0.880 / 0.799 / 0.799 → 0.926 / 0.926 / 0.851 / 0.869.
 */
const SEEDS = 16;
/**
 * Fused scores are sums over many signals and sit close together (a word-match from another
 * library at 0.8 of the best hit): squared, a seed that matched a word or two falls below what
 * the best seeds bring (their types and declarations at 0.7 and 0.665). Edit coverage, full-corpus
 * index / seeds 1–3: dev 0.905 / 0.905 / 0.905 / 0.881 → 0.905 each (`Warnings.t`'s declaration
 * over coq's notation warnings), the four other sets the same; cubed, edits-4 lost a place.
 */
const SEED_CONTRAST = 2;
/** The user's own definition leads every search hit by this much; the same directory counts for more. */
const CURSOR_LEAD = 1;
const SAME_DIRECTORY = 1.2;
/** Existing neighbours of a name the prompt wants to add, as a share of the best seed's score. */
const SIBLING = 0.9;
const MAX_SIBLINGS = 6;
/**
 * Definitions of a type like the one the prompt gives a new function: read (50, 100 and 300 found
 * the same; 300 cost 8–20 ms a window in the resident reader, 100 4–8), kept at least this
 * alike, taken.
 */
const ALIKE_CANDIDATES = 100;
const MIN_LIKENESS = 0.55;
const MAX_ALIKE = 2;
/**
 * Where the constructor whose message the prompt quotes is built, as a share of the printer's
 * score: nearly as needed as the printer, since a message can only say what its constructor carries.
 */
const CONSTRUCTOR_SITE = 0.9;
const MAX_CONSTRUCTOR_SITES = 2;
/** A definition the prompt names in code (`Cart.total`) is what the change is about. */
const NAMED_IN_PROMPT = 1.5;
/**
 * A prompt that names one module in code ("Lwt_list has sequential and concurrent versions of
 * map ...", "Base.List has indexed variants ...") changes that module: a seed outside it counts
 * for this share, so that the module's own definitions are explored first rather than the
 * `filter_map`s of every other library. Of the 23 edit prompts over the eval sets that name a
 * module, from lexical / hybrid seeds edits-7 0.755 / 0.761 → 0.790 / 0.811 at 0.5 (0.773 /
 * 0.796 at 0.6), every other set the same.
 */
const OUTSIDE_NAMED_MODULE = 0.5;
/** Qualified names of the prompt looked up when no seed is one, and definitions of each read. */
const MAX_NAMED = 4;
/** Bare names quoted in the prompt looked up near the best seed. */
const MAX_QUOTED_NAMES = 4;
/** Seeds one step finds keep its order: each scores this much below the one before. */
const IN_ORDER = 0.01;
/** Definitions named after the one a change is modelled on, as siblings are. */
const MAX_FAMILY = 4;
/**
 * Seeds in whose directories the model is looked for. From 1 to 3: bench/cases/edits-9.jsonl
 * 0.804 → 0.875 ("an Alcotest testable for `Either.t` ... the same way the result testable",
 * whose best seed is Base's `Either.t`), every other set the same; 2 found as much.
 */
const MODEL_ANCHORS = 3;
/**
 * Values of a module seed that the prompt's words name, their share of the module's score, and
 * the shortest name part read as an abbreviation of a word. At 0.9, as siblings, the
 * neighbourhood of `Expansion_context.Base.code_path` pushed `Code_path.enter_expr` out of
 * e10-10's window (bench/cases/edits-10.jsonl 0.725 → 0.713); 0.7 and 0.5 kept it and every
 * other set's figure.
 */
const MAX_MEMBERS = 2;
const MEMBER = 0.7;
const MIN_ABBREVIATION = 4;
/** Files of the seeds read for a variant that has a quoted name as a case. */
const MAX_CASE_FILES = 4;
const MAX_SAME_NAME = 50;
/** The verb of an imperative prompt says what to do, not what to look for. */
const INSTRUCTION = /^\s*(?:please\s+)?(?:add|make|change|update|fix|remove|delete|rename|implement|support|extend|refactor|replace|introduce|create|write|move|let|allow)\b\s*/i;

/** The prompt as a search query: without its leading instruction verb ("Add X to Y" → "X to Y"). */
export function searchableQuery(prompt: string): string {
  const stripped = prompt.replace(INSTRUCTION, '');
  return stripped.trim() ? stripped : prompt;
}

export interface ContextRequest {
  prompt: string;
  budget?: number;
  /** Where the user is: a path relative to the indexed root. */
  file?: string;
  line?: number;
  /** Raw compiler or dune output: each error's site and the names it mentions join the window. */
  errors?: string;
}

/** How a window is built: what strategies (server/strategy.ts) vary. */
export interface BuildOptions {
  /** The search mode that finds the seeds (default hybrid). */
  mode?: SearchMode;
  /** Follow the symbol graph from the seeds (default true). */
  expand?: boolean;
}

/** A request that names something the index does not have (a file outside it, a bad budget). */
export class ContextRequestError extends Error {}

export class ContextBuilder {
  private constructor(
    private readonly searcher: Searcher,
    private readonly count: CountTokens,
  ) {}

  static async create(searcher: Searcher, encoding: EncodingName = DEFAULT_ENCODING): Promise<ContextBuilder> {
    return new ContextBuilder(searcher, await tokenCounter(encoding));
  }

  async build(request: ContextRequest, options: BuildOptions = {}): Promise<ContextWindow> {
    const budget = request.budget ?? DEFAULT_BUDGET;
    if (!Number.isInteger(budget) || budget < MIN_BUDGET || budget > MAX_BUDGET) {
      throw new ContextRequestError(`budget must be an integer between ${MIN_BUDGET} and ${MAX_BUDGET}, got ${budget}`);
    }
    const prompt = request.prompt.trim();
    const errors = request.errors ? parseBuildErrors(request.errors) : [];
    if (!prompt && !request.file && errors.length === 0) throw new ContextRequestError('give a prompt, a file, build errors, or several of these');
    void this.searcher.refresh();
    return this.searcher.readFresh((view) => this.assemble(view, request, prompt, errors, budget, options));
  }

  private async assemble(view: IndexView, request: ContextRequest, prompt: string, errors: BuildError[], budget: number, options: BuildOptions): Promise<ContextWindow> {
    const store = view.reader;
    const cursor = request.file ? await cursorSeed(store, request.file, request.line) : undefined;

    const query = searchableQuery(prompt);
    const { warnings, onWarning } = warningCollector();
    const hits = query ? await this.searcher.searchView(view, query, { k: SEEDS, mode: options.mode, onWarning, perFile: MAX_ITEMS_PER_FILE }) : [];
    const top = hits[0]?.score || 1;
    const dir = request.file && directoryOf(request.file);
    const { identifiers: named, phrases, tokens, namedModule } = parseQuery(prompt);
    const inNamedModule = namedModule && hits.some((h) => withinModule(h.chunk.symbol, namedModule)) ? (symbol: string) => withinModule(symbol, namedModule) : () => true;
    const seeds: Seed[] = hits.map((h) => ({
      chunk: h.chunk,
      reason: 'match',
      score:
        (h.score / top) ** SEED_CONTRAST *
        (dir !== undefined && h.chunk.path.startsWith(dir) ? SAME_DIRECTORY : 1) *
        (named.some((id) => id.name === h.chunk.name && h.chunk.symbol.endsWith(qualifiedName(id))) ? NAMED_IN_PROMPT : 1) *
        (inNamedModule(h.chunk.symbol) ? 1 : OUTSIDE_NAMED_MODULE),
    }));
    seeds.sort((a, b) => b.score - a.score);
    seeds.push(...(await quotedNameSeeds(store, prompt, seeds)));
    seeds.sort((a, b) => b.score - a.score);
    // What the change copies ranks with the seeds (and is explored with the best), not after them all.
    seeds.push(...(await modelFamilySeeds(store, prompt, seeds)), ...(await oneSwapSeeds(store, prompt, seeds)), ...(await memberSeeds(store, prompt, seeds)));
    seeds.sort((a, b) => b.score - a.score);
    dropRepeats(seeds);
    // What the prompt names is what the change is about: its neighbourhood is explored first.
    seeds.unshift(...(await namedSeeds(store, named, seeds)));
    seeds.push(...(await siblingSeeds(store, named, seeds)), ...(await alikeTypedSeeds(store, prompt, tokens, seeds)), ...(await constructorSites(store, phrases, seeds)));
    // The user's own definition (and, through expansion, its interface) comes before any hit,
    // and the code around each build error with what the error talks about before that.
    const lead = (seeds[0]?.score ?? 0) + CURSOR_LEAD;
    if (cursor) seeds.unshift({ chunk: cursor, reason: 'cursor', score: lead });
    if (errors.length > 0) seeds.unshift(...(await errorSeeds(store, errors, lead + CURSOR_LEAD)));
    const candidates = options.expand === false ? seeds.map((s) => ({ chunk: s.chunk, reason: s.reason, score: s.score, seed: true })) : await expand(seeds, store);
    const window = packToBudget(candidates, budget, this.count);
    return warnings.length > 0 ? { ...window, warnings } : window;
  }
}

/**
 * A definition the prompt names in code (`Parse_error.t`) is what the change is about even when
 * the prose around the name matches other definitions better (the exception `Parse_error`): each
 * qualified name that no seed is joins them, as the best seed would score named, its definition
 * nearest the best seed (`Reason.t` of the library the window is in, not another's).
 */
async function namedSeeds(store: ChunkReader, named: IdentifierRef[], seeds: readonly Seed[]): Promise<Seed[]> {
  const top = seeds[0];
  if (!top) return [];
  const out: Seed[] = [];
  for (const id of named.filter((n) => n.qualifiers.length > 0).slice(0, MAX_NAMED)) {
    const qualified = qualifiedName(id);
    if ([...seeds, ...out].some((s) => symbolEndsWith(s.chunk.symbol, qualified))) continue;
    const found = await store.byName([id.name], MAX_SAME_NAME, { symbolSuffix: qualified, withText: true });
    const nearest = nearestTo(top.chunk, found);
    if (nearest && proximity(top.chunk, nearest) >= 0.6) out.push({ chunk: nearest, reason: 'match', score: top.score * NAMED_IN_PROMPT - out.length * IN_ORDER });
  }
  return out;
}

/** Of `found`, the definition nearest `anchor`, its `.ml` side over its `.mli` one. */
function nearestTo(anchor: ChunkHit, found: ChunkHit[]): ChunkHit | undefined {
  return found.sort((a, b) => proximity(anchor, b) - proximity(anchor, a) || (a.lang === 'ml' ? -1 : 1) - (b.lang === 'ml' ? -1 : 1))[0];
}

/** A bare name the prompt quotes as code: `list`, `pop`. */
const QUOTED_NAME = /`([a-z_][\w']{2,})`/g;

/**
 * A name the prompt quotes bare ("next to the existing `list` and `array` testables", "like
 * `pop`") is the code the change follows, in the library of the change: its definition in the
 * best seed's directory, the one nearest that seed. A name that no definition there has may be a
 * case of a variant ("like `warning` does" for a `Warning` directive): the variant types of the
 * seeds' files there that have that case, since a new case joins them.
 */
export async function quotedNameSeeds(store: ChunkReader, prompt: string, seeds: readonly Seed[]): Promise<Seed[]> {
  const top = seeds[0];
  if (!top) return [];
  const dir = directoryOf(top.chunk.path);
  const names = [...new Set([...prompt.matchAll(QUOTED_NAME)].map((m) => m[1]!))].filter((n) => !seeds.some((s) => s.chunk.name === n)).slice(0, MAX_QUOTED_NAMES);
  const out: Seed[] = [];
  const score = () => top.score * SIBLING - out.length * IN_ORDER;
  for (const name of names) {
    const found = await store.byName([name], MAX_SAME_NAME, { pathPrefix: dir, withText: true });
    const nearest = nearestTo(top.chunk, found);
    if (nearest) {
      out.push({ chunk: nearest, reason: 'match', score: score() });
      continue;
    }
    const constructor = capitalize(name);
    const files = [...new Set(seeds.map((s) => s.chunk.path).filter((p) => p.startsWith(dir) && p.endsWith('.ml')))].slice(0, MAX_CASE_FILES);
    for (const file of files) {
      for (const c of await store.chunksOfFile(file)) if (c.kind === 'type' && variantCases(c.text).has(constructor)) out.push({ chunk: c, reason: 'match', score: score() });
    }
  }
  return out;
}

/**
 * The one word a change is modelled on: "modelled on PUT", "like `pop`", "mirroring get", or
 * placed by: "next to map and map_error" (what sits beside a new definition is what it copies).
 * One name part (a lower-case word or an acronym), not a qualified, compound or hyphenated name
 * ("next to the non-indexed version").
 */
const MODEL_WORD = /\b(?:modell?ed (?:on|after)|like|next to|beside|alongside|mirroring|similar to|same as|based on|analogous to|(?:in )?the same way(?: as)?)\s+(?:the\s+|an?\s+)?(?:existing\s+)?`?([a-z][a-z0-9']*|[A-Z][A-Z0-9]+)`?(?![\w.'-])/g;

/**
 * "Add PATCH support modelled on PUT": what PUT is made of is every definition named after it in
 * its file (the `put` class, `put_call`, `http_put`, `http_put_message`), and PATCH needs one of
 * each. The definition with the model's name in each best seed's directory, nearest that seed,
 * and the definitions of its file whose names have the model's name as a part, fewest parts first.
 * A word that names no definition there ("like the existing single-key accessor") adds none, but
 * the prompt's new names may still copy definitions with that word in them (`analogueNames`).
 */
export async function modelFamilySeeds(store: ChunkReader, prompt: string, seeds: readonly Seed[]): Promise<Seed[]> {
  const top = seeds[0];
  if (!top) return [];
  // The best seed of each directory among the first few: the best match may be another library's.
  const anchors = seeds.slice(0, MODEL_ANCHORS).filter((s, i, all) => all.findIndex((o) => directoryOf(o.chunk.path) === directoryOf(s.chunk.path)) === i);
  // A seed ranked below what the model scores is raised: it is explored with the best.
  const seeded = new Map(seeds.map((s) => [s.chunk.id, s.score]));
  const out: Seed[] = [];
  const score = () => top.score * SIBLING - out.length * IN_ORDER;
  for (const word of new Set([...prompt.matchAll(MODEL_WORD)].map((m) => m[1]!.toLowerCase()))) {
    if (word.length < 3) continue;
    for (const anchor of anchors) {
      const dir = directoryOf(anchor.chunk.path);
      // The anchor's own file first: a common name (`map`) has more definitions in a library than are read.
      const inFile = (await store.byName([word], MAX_SAME_NAME, { pathPrefix: anchor.chunk.path, withText: true })).filter((c) => c.path === anchor.chunk.path);
      const model = nearestTo(anchor.chunk, inFile.length > 0 ? inFile : await store.byName([word], MAX_SAME_NAME, { pathPrefix: dir, withText: true }));
      const parts = (c: ChunkHit) => c.name.toLowerCase().split('_');
      const family = model
        ? (await store.chunksOfFile(model.path))
            .filter((c) => c.part <= 1 && parts(c).includes(word))
            .sort((a, b) => Number(b.id === model.id) - Number(a.id === model.id) || parts(a).length - parts(b).length || byDistanceFrom(model.startLine)(a, b))
            .slice(0, MAX_FAMILY)
        : [];
      const analogues = await store.byName(analogueNames(prompt, word), MAX_SAME_NAME, { pathPrefix: dir, withText: true });
      for (const c of [...family, ...analogues]) if ((seeded.get(c.id) ?? -1) < score() && !out.some((o) => o.chunk.id === c.id)) out.push({ chunk: c, reason: 'match', score: score() });
    }
  }
  return out;
}

/**
 * A module the search found is where the change goes, and its members that the prompt's words
 * name are what the change copies or changes, also where the code abbreviates a word or sticks
 * a prefix to it, which full text cannot see: "a float literal" in `Ast_builder.Default` is
 * `efloat` and `pfloat`, "precedence" in a printer `op_prec`. Values of the best seeds' modules,
 * the shortest names first, ranked below their module.
 */
export async function memberSeeds(store: ChunkReader, prompt: string, seeds: readonly Seed[]): Promise<Seed[]> {
  const words = [...new Set((prompt.match(/[A-Za-z]+/g) ?? []).map((w) => w.toLowerCase()))].filter((w) => w.length >= MIN_ABBREVIATION && tokenizeProse(w).length > 0);
  if (words.length === 0) return [];
  const seeded = new Set(seeds.map((s) => s.chunk.id));
  const out: Seed[] = [];
  for (const { chunk: module, score } of seeds.slice(0, EXPANDED_SEEDS)) {
    if (module.kind !== 'module') continue;
    const prefix = `${module.symbol}.`;
    const files = await Promise.all(unitPaths(module.path).map((p) => store.chunksOfFile(p)));
    const named = files
      .flat()
      .filter((c) => (c.kind === 'value' || c.kind === 'external') && c.part <= 1 && c.symbol.startsWith(prefix) && !c.symbol.includes('.', prefix.length) && namesAWord(c.name, words))
      // The definition over its declaration: expansion brings the other side.
      .sort((a, b) => a.name.length - b.name.length || Number(a.lang === 'mli') - Number(b.lang === 'mli') || a.startLine - b.startLine);
    const names = new Set<string>();
    for (const c of named) {
      if (names.size >= MAX_MEMBERS) break;
      if (names.has(c.name)) continue;
      names.add(c.name);
      if (seeded.has(c.id)) continue;
      seeded.add(c.id);
      out.push({ chunk: c, reason: 'match', score: score * MEMBER - out.length * IN_ORDER });
    }
  }
  return out;
}

/** Whether a part of `name` is one of `words`, abbreviates one (`prec`, `assoc`) or holds one (`efloat`). */
function namesAWord(name: string, words: readonly string[]): boolean {
  return name
    .toLowerCase()
    .split('_')
    .some((part) => words.some((w) => (part.length >= MIN_ABBREVIATION && w.startsWith(part)) || (part.length > w.length && part.includes(w))));
}

/** Compound names of a prompt: `typerep_of_uchar`. */
const COMPOUND_NAME = /(?<![\w.'])[a-z][a-z0-9']*(?:_[a-z0-9']+)+(?![\w'])/g;

/**
 * "Provide `typerep_of_uchar` like the bytes ones": the names the prompt gives new definitions,
 * each with one part replaced by the model's word (`typerep_of_bytes`), are the definitions the
 * new ones copy.
 */
function analogueNames(prompt: string, word: string): string[] {
  const out = new Set<string>();
  for (const name of new Set(prompt.match(COMPOUND_NAME) ?? [])) {
    const parts = name.split('_');
    for (let i = 0; i < parts.length; i++) if (parts[i] !== word) out.add(parts.map((p, j) => (j === i ? word : p)).join('_'));
  }
  return [...out];
}

/**
 * A compound name the prompt quotes (`prvecti_with_sep`) and its variants in its file, the names
 * with one part swapped (`prvect_with_sep`, `prlist_with_sep`): a new variant ("a list
 * counterpart") follows them and is declared beside them.
 */
export async function oneSwapSeeds(store: ChunkReader, prompt: string, seeds: readonly Seed[]): Promise<Seed[]> {
  const top = seeds[0];
  if (!top) return [];
  const seeded = new Set(seeds.map((s) => s.chunk.id));
  const out: Seed[] = [];
  for (const name of new Set([...prompt.matchAll(QUOTED_NAME)].map((m) => m[1]!))) {
    const parts = name.split('_');
    if (parts.length < 2) continue;
    const quoted = seeds.find((s) => s.chunk.name === name)?.chunk;
    if (!quoted) continue;
    const swapped = (other: string) => {
      const others = other.split('_');
      return others.length === parts.length && others.filter((p, i) => p !== parts[i]).length === 1;
    };
    const variants = (await store.chunksOfFile(quoted.path)).filter((c) => !seeded.has(c.id) && c.part <= 1 && swapped(c.name));
    variants.sort(byDistanceFrom(quoted.startLine));
    for (const c of variants.slice(0, MAX_FAMILY)) out.push({ chunk: c, reason: 'match', score: top.score * SIBLING - out.length * IN_ORDER });
  }
  return out;
}

/**
 * A change that adds `Hashtbl.find_or_add` is written after its future neighbours: for a
 * qualified name the prompt mentions that no seed defines, the module's values whose names
 * start the same way (`find`, `find_opt`), nearest to the best seed first.
 */
async function siblingSeeds(store: ChunkReader, named: IdentifierRef[], seeds: readonly Seed[]): Promise<Seed[]> {
  const top = seeds[0];
  const out: Seed[] = [];
  for (const id of named) {
    if (id.qualifiers.length === 0 || seeds.some((s) => s.chunk.name === id.name)) continue;
    const prefix = id.name.split('_')[0]!;
    if (prefix.length < 3) continue;
    const module = id.qualifiers[id.qualifiers.length - 1]!;
    const found = await store.siblings(module, prefix, 300);
    const sharedPrefix = (name: string) => {
      let n = 0;
      while (n < name.length && name[n] === id.name[n]) n++;
      return n;
    };
    found.sort(
      (a, b) =>
        (top ? proximity(top.chunk, b) - proximity(top.chunk, a) : 0) || sharedPrefix(b.name) - sharedPrefix(a.name) || a.symbol.length - b.symbol.length,
    );
    const score = (top?.score ?? 1) * SIBLING;
    found.slice(0, MAX_SIBLINGS).forEach((chunk, i) => out.push({ chunk, reason: 'match', score: score - i * IN_ORDER }));
  }
  return out;
}

/**
 * A new function the prompt gives a type (`Alcotest.seq : 'a testable -> 'a Seq.t testable`) is
 * written after the existing ones of a like type (`list : 'a testable -> 'a list testable`),
 * whatever their names: those in the module the prompt names (else near the best seed), the most
 * alike first, then the nearest the best seed, then one the prompt mentions ("like the list
 * testable").
 */
async function alikeTypedSeeds(store: ChunkReader, prompt: string, promptTokens: readonly string[], seeds: readonly Seed[]): Promise<Seed[]> {
  const wanted = signatureIn(prompt);
  const top = seeds[0];
  if (!wanted || !top || seeds.some((s) => s.chunk.name === wanted.ref.name)) return [];
  const module = wanted.ref.qualifiers[wanted.ref.qualifiers.length - 1]?.toLowerCase();
  const inPlace = (c: ChunkHit) => (module ? c.path.toLowerCase().includes(module) : proximity(top.chunk, c) >= 0.6);
  const mentioned = new Set(promptTokens);
  const seeded = new Set(seeds.map((s) => s.chunk.id));
  const alike = (await store.typeCandidates(typeTokens(wanted.type), ALIKE_CANDIDATES)).flatMap((chunk) => {
    const type = signatureType(chunk.text);
    const likeness = type ? typeLikeness(wanted.type, type) : 0;
    // One of the same name elsewhere is another library's, not a neighbour where the new one goes.
    return likeness >= MIN_LIKENESS && chunk.name !== wanted.ref.name && !seeded.has(chunk.id) && inPlace(chunk) ? [{ chunk, likeness, named: mentioned.has(chunk.name) ? 1 : 0, near: proximity(top.chunk, chunk) }] : [];
  });
  alike.sort((a, b) => b.likeness - a.likeness || b.near - a.near || b.named - a.named || a.chunk.symbol.localeCompare(b.chunk.symbol));
  return alike.slice(0, MAX_ALIKE).map(({ chunk }, i) => ({ chunk, reason: 'match', score: top.score * SIBLING - i * IN_ORDER }));
}

/**
 * A quoted message is printed in an arm of a match over an error type (`| Constructor_arity_mismatch
 * (lid, expected, provided) -> fprintf ppf "The constructor %a expects ..."`): saying more in it
 * usually means passing more from where that constructor is built. The definitions that build it
 * (through the constructor's identifier token), nearest the printer first.
 */
async function constructorSites(store: ChunkReader, phrases: readonly string[], seeds: readonly Seed[]): Promise<Seed[]> {
  const out: Seed[] = [];
  for (const phrase of phrases) {
    const fragments = literalFragments(phrase);
    const printer = fragments.length > 0 ? seeds.find((s) => fragments.every((f) => s.chunk.text.includes(f))) : undefined;
    if (!printer) continue;
    const constructor = armConstructorBefore(printer.chunk.text, printer.chunk.text.indexOf(fragments[0]!));
    if (!constructor) continue;
    const built = new RegExp(`\\b${constructor}\\b`);
    const sites = (await store.fullText([compound(constructor)], 20, { name: NAME_BOOST, body: BODY_BOOST })).filter(
      (c) => c.kind !== 'type' && c.lang === 'ml' && c.id !== printer.chunk.id && built.test(c.text) && !fragments.every((f) => c.text.includes(f)),
    );
    sites.sort((a, b) => proximity(printer.chunk, b) - proximity(printer.chunk, a) || b.rawScore - a.rawScore);
    sites.slice(0, MAX_CONSTRUCTOR_SITES).forEach((chunk, i) => out.push({ chunk, reason: 'caller', score: printer.score * CONSTRUCTOR_SITE * (1 - i * 0.05) }));
  }
  return out;
}

/** Each error's enclosing definition, then the types and values its message names (nearest definition of each). */
async function errorSeeds(store: ChunkReader, errors: readonly BuildError[], score: number): Promise<Seed[]> {
  const seeds: Seed[] = [];
  for (const [i, error] of errors.entries()) {
    const chunks = await store.chunksOfFile(sourcePath(error.file));
    const site = innermost(chunks, error.line);
    if (!site) continue;
    const rank = score - i * IN_ORDER;
    seeds.push({ chunk: site, reason: 'error-site', score: rank });
    for (const name of mentionedNames(error.message)) {
      const parts = name.path.split('.');
      const last = parts[parts.length - 1]!;
      const suffix = parts.length > 1 ? parts.slice(-2).join('.') : last;
      const found = name.kind === 'type' ? await store.typesNamed(last, 20, { symbolSuffix: suffix }) : (await store.byName([last], 200)).filter((c) => c.symbol.endsWith(suffix));
      const nearest = found.sort((a, b) => proximity(site, b) - proximity(site, a))[0];
      if (nearest) seeds.push({ chunk: nearest, reason: name.kind === 'type' ? 'type' : 'dependency', score: rank * 0.9 });
    }
  }
  return seeds;
}

/** The innermost definition containing `line`, else the nearest one above it. */
function innermost(chunks: ChunkHit[], line: number): ChunkHit | undefined {
  const around = chunks.filter((c) => c.startLine <= line && line <= c.endLine);
  if (around.length > 0) return around.reduce((a, b) => (b.endLine - b.startLine < a.endLine - a.startLine ? b : a));
  return chunks.filter((c) => c.startLine <= line).pop() ?? chunks[0];
}

/** The definition around `line` of `file` (the innermost one), or the file's first when no line is given. */
async function cursorSeed(store: ChunkReader, file: string, line: number | undefined): Promise<ChunkHit | undefined> {
  const chunks = await store.chunksOfFile(file);
  if (chunks.length === 0) throw new ContextRequestError(`${file} is not in the index (a path relative to the indexed root, e.g. src/foo.ml)`);
  return line === undefined ? undefined : innermost(chunks, line);
}

/** Whether `symbol` is defined in the module path `module` (`Lwt.Lwt_list.map_s` in `Lwt_list`). */
function withinModule(symbol: string, module: readonly string[]): boolean {
  return `.${symbol}`.includes(`.${module.join('.')}.`);
}

/** Keeps each definition's best seed only, in place (seeds best first): a raised seed is not explored twice. */
function dropRepeats(seeds: Seed[]): void {
  const seen = new Set<string>();
  let kept = 0;
  for (const seed of seeds) {
    if (seen.has(seed.chunk.id)) continue;
    seen.add(seed.chunk.id);
    seeds[kept++] = seed;
  }
  seeds.length = kept;
}
