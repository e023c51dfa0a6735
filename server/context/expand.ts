// Expand: from the definitions a prompt matched (the seeds) to what a change to them needs — the
// `.mli` declaration or `.ml` definition, the types the signature names, the functions the code
// calls, its callers and the tests that exercise it — each with a reason and a share of its
// seed's score. Names are resolved the way the syntax allows without a type checker: by module
// path when the code qualifies a name, else by proximity (same file, directory, library).
import { symbolEndsWith, type ChunkHit, type ChunkReader } from '../../indexer/store.js';
import { constructorPaths, signatureType } from '../../indexer/signature.js';
import { compound } from '../../indexer/text.js';
import { unitOfFile } from '../../indexer/modules.js';
import type { ContextCandidate, Reason } from './item.js';

/** Shares of the seed's score, by reason: the declaration nearly as much as the definition. */
const SHARE: Record<Reason, number> = {
  cursor: 1,
  match: 1,
  'error-site': 1,
  signature: 0.95,
  definition: 0.95,
  type: 0.7,
  caller: 0.6,
  test: 0.55,
  dependency: 0.5,
};
/**
 * Seeds whose neighbourhood is explored; lower seeds stay in the window on their own. From 6 to 8
 * (full-corpus index / seeds 1–3): bench/cases/edits.jsonl 0.944 / 0.944 / 0.940 / 0.944 → 0.958 /
 * 0.958 / 0.940 / 0.958 (`Fun.protect`, the 12th seed, brings its test), the other four sets the
 * same; 68 first-time windows 1.75 → 1.9 s. 10 found nothing more.
 */
export const EXPANDED_SEEDS = 8;
const MAX_DEPENDENCIES = 4;
/** Definitions that several seeds of their file call, and the shortest name looked for (shorter ones are often local variables). */
const MAX_SHARED_CALLEES = 2;
const MIN_CALLEE_NAME = 4;
const MAX_CALLERS = 3;
const MAX_TESTS = 2;
/** How near a test named after the seed's unit counts, as `proximity` does for the same directory. */
const NAMED_TEST = 0.8;
/** The runner of the window's best test, as a share of the test's score, and how many of them. */
const RUNNER = 0.9;
const MAX_RUNNERS = 1;
const MAX_TYPES = 3;
/**
 * The other file's copy of a type the signature names, when it lists cases or fields, as a share
 * of the type's: 0.9 and 1 brought `Value.t` to e10-03, `Pcre.flag` to e10-05 and `Typerep.t` to
 * e8-06 (bench/cases/edits-10.jsonl 0.725 → 0.766, edits-8 0.940 → 0.946), 0.7 two of them;
 * no other set moved.
 */
const TYPE_COPY = 0.9;
/** Other definitions of a seed's name in its file, as a share of the definition's, and how many (of how many read). */
const NAMESAKE = 0.8;
const MAX_NAMESAKES = 2;
const MAX_NAMESAKES_READ = 20;
const MAX_RE_EXPORTS = 1;
/** The other direction of a converter (`sexp_of_option` for `option_of_sexp`), as a share of the seed's. */
const INVERSE = 0.8;
/** The other converters of the type a converter converts, at this share of its seed, the nearest few. */
const SIBLING_CONVERTER = 0.7;
const MAX_SIBLING_CONVERTERS = 2;
/**
 * Definitions of a declaration's name read in its library to find the one an `include` brings,
 * and that definition's share of what the declaration's own would have: it is another module's
 * code, often long (`Lwt.catch` is 54 lines of `Sequential_composition`), and at the full share
 * the definitions of five weakly matched `Lwt` declarations pushed the caller a change needed out
 * of a window (bench/cases/edits.jsonl 0.976 → 0.958; 0.7, 0.5 and 0.3 kept it, and every set the same).
 */
const MAX_INCLUDED_READ = 200;
const INCLUDED = 0.7;
/**
 * A short value right after a seed, as a share of the seed's score: nearly as needed as a
 * namesake (0.5, as dependencies: the window of a new warning is full before it comes).
 */
const TRAILING = 0.8;
/** Lines from a seed's end to a trailing value's start: a `;;` and a blank line between them. */
const TRAILING_GAP = 3;
/** Other functions of the unit that match on the seed's variant type: each needs a new case too. */
const MAX_MATCHERS = 3;
/** Functions of other units that match on it, and how many definitions holding its constructors are read to find them. */
const MAX_FOREIGN_MATCHERS = 2;
const MAX_HOLDERS_READ = 100;
/** Candidate callers read per seed (best BM25 on the references column first). */
const MAX_USERS_READ = 40;
/** Distinct names of a seed's code looked up as dependencies, in order of first use. */
const MAX_NAMES_FOLLOWED = 40;
/** Names defined in more places than this, with none near the seed, are too ambiguous to follow. */
const AMBIGUOUS = 25;
const STANDARD_LIBRARY = 'Stdlib.';
const BUILTIN_TYPES = new Set(['int', 'string', 'bool', 'unit', 'char', 'float', 'bytes', 'list', 'option', 'array', 'exn', 'ref', 'int32', 'int64', 'nativeint', 'lazy_t', 'format', 'format4', 'format6', 'seq']);

export interface Seed {
  chunk: ChunkHit;
  score: number;
  reason: Reason;
}

export function isTestPath(path: string, text = ''): boolean {
  return /(^|\/)tests?\//.test(path) || /(^|\/)[^/]*test[^/]*\.mli?$/i.test(path) || /let%(expect_)?test/.test(text);
}

/**
 * 1 for the same file, 0.8 the same directory, 0.6 the same package (first two path segments:
 * `ocaml/stdlib`), 0.4 the same top directory, else 0.3.
 */
export function proximity(a: { path: string }, b: { path: string }): number {
  const [pa, pb] = [a.path, b.path];
  if (pa === pb) return 1;
  // Leading directories in common, read in place: splitting both paths for each of the hundreds
  // of candidates a window weighs was a tenth of its allocations.
  let shared = 0;
  let at = 0;
  for (;;) {
    const slash = pa.indexOf('/', at);
    if (slash < 0 || pb.indexOf('/', at) !== slash || !sameRange(pa, pb, at, slash)) break;
    shared++;
    at = slash + 1;
  }
  if (pa.indexOf('/', at) < 0 && pb.indexOf('/', at) < 0) return 0.8;
  return shared >= 2 ? 0.6 : shared === 1 ? 0.4 : 0.3;
}

function sameRange(a: string, b: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

/** `coq-core/lib/pp.ml` → `coq-core/lib/`: a path's directory, as a path prefix. */
export function directoryOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/') + 1);
}

/** `Base.List.map` → `List`: the module a qualified name's last part is defined in. */
function moduleOf(symbol: string): string {
  const last = symbol.lastIndexOf('.');
  return last < 0 ? '' : symbol.slice(symbol.lastIndexOf('.', last - 1) + 1, last);
}

/** `Cohttp.Code.status_of_code` → `Cohttp.Code.`: the whole module path qualifying a definition's name. */
function qualifierOf(chunk: ChunkHit): string {
  return chunk.symbol.slice(0, chunk.symbol.length - chunk.name.length);
}

/** A `val` of a signature, wherever it is written: no code to change. */
const isDeclaration = (chunk: ChunkHit) => /^\s*val\b/.test(chunk.text);

/** Orders definitions nearest `line` first: the ones around a seed in its file. */
export function byDistanceFrom(line: number): (a: ChunkHit, b: ChunkHit) => number {
  return (a, b) => Math.abs(a.startLine - line) - Math.abs(b.startLine - line);
}

/**
 * Explored seeds' neighbourhoods, least recently used first, per index version (a reader reads
 * one): an editor or agent asks about the same definitions again and again, and a window's
 * lookups were most of its time when its search was answered from the searcher's caches.
 */
const keptNeighbourhoods = new WeakMap<ChunkReader, Map<string, ContextCandidate[]>>();
const MAX_KEPT_NEIGHBOURHOODS = 2000;

function neighbourhoodsOf(store: ChunkReader): Map<string, ContextCandidate[]> {
  let kept = keptNeighbourhoods.get(store);
  if (!kept) keptNeighbourhoods.set(store, (kept = new Map()));
  return kept;
}

export async function expand(seeds: readonly Seed[], store: ChunkReader): Promise<ContextCandidate[]> {
  const out: ContextCandidate[] = seeds.map((s) => ({ chunk: s.chunk, reason: s.reason, score: s.score, seed: true }));
  const explored = seeds.slice(0, EXPANDED_SEEDS);
  // One fetch of every seed's partner, then one of the references of the code each explored seed
  // stands for (a declaration's calls are its definition's). A change to any definition in the
  // window needs its declaration too, so lower seeds bring their partner and nothing else.
  const counterparts = new Map((await store.chunksByIds(seeds.flatMap((s) => (s.chunk.counterpart ? [s.chunk.counterpart] : [])))).map((c) => [c.id, c]));
  const included = await includedDefinitions(
    seeds.map((s) => s.chunk).filter((c) => !counterparts.has(c.counterpart)),
    store,
  );
  const otherSide = (seed: Seed) => counterparts.get(seed.chunk.counterpart) ?? included.get(seed.chunk.id);
  for (const seed of seeds.slice(EXPANDED_SEEDS)) {
    const partner = otherSide(seed);
    if (partner) out.push(partnerOf(seed, partner));
  }
  const units = explored.map((seed) => {
    const partner = otherSide(seed);
    return { seed, partner, code: seed.chunk.lang === 'mli' ? partner : seed.chunk };
  });
  // A neighbourhood depends on the seed alone, in one version of the index: it is kept for a
  // seed of score 1 and scaled to each window's seed.
  const cache = neighbourhoodsOf(store);
  const missing = units.filter((u) => !cache.has(u.seed.chunk.id));
  const refs = missing.length > 0 ? await store.referencesOf(missing.flatMap((u) => (u.code ? [u.code.id] : []))) : new Map<string, string[]>();
  const neighbourhoods = await Promise.all(
    units.map(async (u) => {
      const id = u.seed.chunk.id;
      let unscaled = cache.get(id);
      if (unscaled) cache.delete(id);
      else unscaled = await neighbourhood({ ...u.seed, score: 1 }, u.partner, u.code, refs.get(u.code?.id ?? '') ?? [], store);
      cache.set(id, unscaled);
      if (cache.size > MAX_KEPT_NEIGHBOURHOODS) cache.delete(cache.keys().next().value!);
      return unscaled.map((c) => ({ ...c, score: c.score * u.seed.score }));
    }),
  );
  for (const list of neighbourhoods) out.push(...list);
  out.push(...(await sharedCallees(seeds, store)), ...(await trailingConstants(seeds, store)));
  // Converters the window already holds, seeds or not (a caller `code_of_status`), bring their
  // other direction and the other converters of their module's type.
  const converters = out.filter((c) => c.reason === 'match' || c.reason === 'caller' || c.seed);
  const [inverses, siblings] = await Promise.all([inversesOf(converters, store), siblingConvertersOf(converters, store)]);
  out.push(...inverses, ...siblings);
  // The best test in the window, found as a test of a seed or matched itself, brings its runner.
  const test = out.filter((c) => c.chunk.kind === 'value' && c.chunk.lang === 'ml' && isTestPath(c.chunk.path, c.chunk.text)).sort((a, b) => b.score - a.score)[0];
  if (test) for (const runner of await runnersOf(test.chunk, store)) out.push({ chunk: runner, reason: 'test', score: test.score * RUNNER, seed: false });
  return out;
}

/**
 * A short value right after a seed in its file (`let last_warning_number = 70` after `number`,
 * the function numbering every warning): what the code keeps in step with it.
 */
async function trailingConstants(seeds: readonly Seed[], store: ChunkReader): Promise<ContextCandidate[]> {
  const files = new Map<string, Promise<ChunkHit[]>>();
  const seeded = new Set(seeds.map((s) => s.chunk.id));
  const out: ContextCandidate[] = [];
  for (const { chunk, score } of seeds) {
    if (chunk.lang !== 'ml' || chunk.kind !== 'value') continue;
    if (!files.has(chunk.path)) files.set(chunk.path, store.chunksOfFile(chunk.path));
    const next = (await files.get(chunk.path)!).find(
      (c) => c.startLine > chunk.endLine && c.startLine <= chunk.endLine + TRAILING_GAP && c.kind === 'value' && c.endLine - c.startLine < 2 && c.depth === chunk.depth,
    );
    if (next && !seeded.has(next.id)) out.push({ chunk: next, reason: 'dependency', score: score * TRAILING, seed: false });
  }
  return out;
}

/**
 * A definition of a file that two or more of its seeds call (`record_superfluous_fields` behind
 * `record_duplicate_fields` and `record_extra_fields`) does what they have in common, so a change
 * to that lands there, whether or not the seeds' neighbourhoods were explored.
 */
async function sharedCallees(seeds: readonly Seed[], store: ChunkReader): Promise<ContextCandidate[]> {
  const byFile = new Map<string, Seed[]>();
  for (const s of seeds) if (s.chunk.kind === 'value' && s.chunk.lang === 'ml') byFile.set(s.chunk.path, [...(byFile.get(s.chunk.path) ?? []), s]);
  const seeded = new Set(seeds.map((s) => s.chunk.id));
  const out: ContextCandidate[] = [];
  for (const [file, group] of byFile) {
    if (group.length < 2) continue;
    // Each seed's words once, not a pattern per definition of the file (thousands in some).
    const words = group.map((s) => new Set(s.chunk.text.match(/(?<![\w'])[a-z_][\w']*/g)));
    for (const c of await store.chunksOfFile(file)) {
      if (c.kind !== 'value' || seeded.has(c.id) || c.name.length < MIN_CALLEE_NAME) continue;
      const callers = group.filter((s, i) => s.chunk.startLine > c.endLine && words[i]!.has(c.name));
      if (callers.length >= 2) out.push({ chunk: c, reason: 'dependency', score: Math.max(...callers.map((s) => s.score)) * SHARE.dependency, seed: false });
    }
  }
  return out.sort((a, b) => b.score - a.score).slice(0, MAX_SHARED_CALLEES);
}

/** What `include` names can be looked up: a module path, not a functor application or a signature. */
const MODULE_PATH = /^[A-Z][\w']*(?:\.[A-Z][\w']*)*$/;

/**
 * The definitions of `.mli` declarations that their `.ml` takes from an `include` instead of
 * defining (`include List1` in Base's `list.ml`, `include Sequential_composition` in `lwt.ml`):
 * a definition of the name in an included module, of that file or of its directory. By
 * declaration id.
 */
async function includedDefinitions(chunks: readonly ChunkHit[], store: ChunkReader): Promise<Map<string, ChunkHit>> {
  const declarations = chunks.filter((c) => c.lang === 'mli' && (c.kind === 'value' || c.kind === 'external'));
  const includesOf = new Map<string, Promise<string[]>>();
  const found = await Promise.all(
    declarations.map(async (declaration) => {
      const ml = declaration.path.replace(/\.mli$/, '.ml');
      if (!includesOf.has(ml)) includesOf.set(ml, store.includedModules(ml));
      const modules = (await includesOf.get(ml)!).filter((m) => MODULE_PATH.test(m));
      if (modules.length === 0) return undefined;
      const namesakes = await store.byName([declaration.name], MAX_INCLUDED_READ, { pathPrefix: directoryOf(ml), lang: 'ml', kinds: ['value', 'external'], withText: false });
      const ids = namesakes.filter((c) => modules.some((m) => symbolEndsWith(c.symbol, `${m}.${declaration.name}`))).map((c) => c.id);
      // Not the `val` of an included module's own signature (`module Concurrent_composition : sig ... end = struct`).
      const candidates = (await store.chunksByIds(ids)).filter((c) => !isDeclaration(c));
      const chosen = candidates.find((c) => c.path === ml) ?? candidates[0];
      return chosen && ([declaration.id, chosen] as const);
    }),
  );
  return new Map(found.filter((pair) => pair !== undefined));
}

/**
 * A seed's `.mli` declaration (reason `signature`) or `.ml` definition (`definition`); a
 * definition an include brings instead (not the seed's counterpart) at INCLUDED of that share.
 */
function partnerOf(seed: Seed, partner: ChunkHit): ContextCandidate {
  const reason = sideReason(partner);
  const share = partner.id === seed.chunk.counterpart ? 1 : INCLUDED;
  return { chunk: partner, reason, score: seed.score * SHARE[reason] * share, seed: false };
}

/** Why a declaration or a definition joins as a seed's other side: `signature` or `definition`. */
function sideReason(chunk: ChunkHit): Reason {
  return chunk.lang === 'mli' ? 'signature' : 'definition';
}

async function neighbourhood(seed: Seed, partner: ChunkHit | undefined, code: ChunkHit | undefined, codeRefs: string[], store: ChunkReader): Promise<ContextCandidate[]> {
  const add = (chunk: ChunkHit, reason: Reason, weight = 1): ContextCandidate => ({ chunk, reason, score: seed.score * SHARE[reason] * weight, seed: false });
  // The declaration names the types when the definition does not.
  const declared = partner?.lang === 'mli' ? partner : undefined;
  // Read once when the seed's definition is the same name in the same directory: its library's re-exports are the seed's.
  const library = seed.chunk.kind === 'value' ? libraryNamesakes(seed.chunk, store) : undefined;
  const sameLibrary = (c: ChunkHit) => c.name === seed.chunk.name && directoryOf(c.path) === directoryOf(seed.chunk.path);
  const [types, moreTypes, matched, dependencies, users, namesakes, codeNamesakes] = await Promise.all([
    typesOf(seed.chunk, store),
    declared ? typesOf(declared, store) : Promise.resolve([]),
    code ? variantMatchedBy(code, store) : Promise.resolve(undefined),
    code ? dependenciesOf(code, codeRefs, store) : Promise.resolve([]),
    usersOf(seed.chunk, store),
    namesakesOf(seed.chunk, store, library),
    // A declaration's definition has namesakes of its own in the .ml: beside the copy of the
    // interface's module type there, the functor that implements it (`Csexp.Make.to_string`).
    code && code.path !== seed.chunk.path ? namesakesOf(code, store, sameLibrary(code) ? library : undefined).then((found) => found.filter((c) => !isDeclaration(c))) : Promise.resolve([]),
  ]);
  const out: ContextCandidate[] = [];
  if (partner) out.push(partnerOf(seed, partner));
  const seen = new Set([seed.chunk.id, partner?.id]);
  for (const n of [...namesakes, ...codeNamesakes]) {
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    out.push(add(n, sideReason(n), NAMESAKE));
  }
  const named = [...types, ...moreTypes].slice(0, MAX_TYPES);
  for (const t of named) out.push(add(t, 'type'));
  // A type that lists its cases or fields does so in both files of its unit: a new case goes into each.
  const listed = named.filter((t) => t.counterpart && constructorsIn(t.text, VARIANT_CASE).size + constructorsIn(t.text, RECORD_FIELD).size >= 2);
  for (const copy of listed.length > 0 ? await store.chunksByIds(listed.map((t) => t.counterpart)) : []) {
    if (!named.some((t) => t.id === copy.id)) out.push(add(copy, sideReason(copy), (SHARE.type * TYPE_COPY) / SHARE[sideReason(copy)]));
  }
  if (matched) {
    if (!named.some((t) => t.id === matched.variant.id)) out.push(add(matched.variant, 'type'));
    if (matched.declaration) out.push(add(matched.declaration, 'signature', SHARE.type));
    matched.matchers.forEach((m, i) => out.push(add(m, 'caller', 1 - i * 0.05)));
    matched.tests.forEach((t, i) => out.push(add(t, 'test', 1 - i * 0.05)));
  }
  dependencies.forEach((d, i) => out.push(add(d, 'dependency', 1 - i * 0.05)));
  const tests = users.filter((u) => isTestPath(u.path, u.text)).slice(0, MAX_TESTS);
  const callers = users.filter((u) => !isTestPath(u.path, u.text)).slice(0, MAX_CALLERS);
  callers.forEach((c, i) => out.push(add(c, 'caller', 1 - i * 0.05)));
  tests.forEach((t, i) => out.push(add(t, 'test', 1 - i * 0.05)));
  return out;
}

/**
 * The other definitions of the seed's name in its file, with their declarations: the wrapper a
 * recursive helper is shadowed by (`let rec mapi i f = ...` then `let mapi f l = mapi 0 f l`,
 * the one the interface exports), or the same function in a sibling module of the file
 * (`Yojson.Basic.Util.index` and `Yojson.Safe.Util.index`), which a change makes in each. And
 * where its library re-exports it (`let print_string = Out_channel.print_string` in `stdio.ml`):
 * a function added beside it is re-exported there too.
 */
async function namesakesOf(chunk: ChunkHit, store: ChunkReader, library?: Promise<ChunkHit[]>): Promise<ChunkHit[]> {
  if (chunk.kind !== 'value') return [];
  const [inFile, inLibrary] = await Promise.all([
    store.byName([chunk.name], MAX_NAMESAKES_READ, { pathPrefix: chunk.path, kinds: ['value'], withText: true }),
    library ?? libraryNamesakes(chunk, store),
  ]);
  const found = inFile.filter(
    // Not the other parts of a definition the index split (a part is numbered from 1).
    (c) => c.path === chunk.path && c.id !== chunk.id && c.id !== chunk.counterpart && c.part <= 1 && !(c.part === 1 && chunk.part >= 1 && c.symbol === chunk.symbol),
  );
  const nearest = found.sort(byDistanceFrom(chunk.startLine)).slice(0, MAX_NAMESAKES);
  const alias = reExportOf(chunk);
  const reExports = alias ? inLibrary.filter((c) => c.path !== chunk.path && alias.test(c.text.trim())).slice(0, MAX_RE_EXPORTS) : [];
  const partners = await store.chunksByIds([...nearest, ...reExports].flatMap((c) => (c.counterpart ? [c.counterpart] : [])));
  return [...nearest, ...reExports, ...partners];
}

/** The values named as `chunk` in the `.ml` files of its directory: where its library may re-export it. */
function libraryNamesakes(chunk: ChunkHit, store: ChunkReader): Promise<ChunkHit[]> {
  return store.byName([chunk.name], MAX_NAMESAKES_READ, { pathPrefix: directoryOf(chunk.path), kinds: ['value'], lang: 'ml', withText: true });
}

/** A converter between two things: `int_of_http_status`. */
const CONVERTER_BETWEEN = /^([a-z][\w']*?)_of_([a-z][\w']*)$/;

/** A value or an external: what a converter is. */
const isFunction = (chunk: ChunkHit) => chunk.kind === 'value' || chunk.kind === 'external';

/** The name of a converter's other direction: `a_of_b` ↔ `b_of_a`, `of_x` ↔ `to_x`. */
export function inverseName(name: string): string | undefined {
  const between = CONVERTER_BETWEEN.exec(name);
  if (between) return `${between[2]}_of_${between[1]}`;
  const ends = /^(of|to)_([a-z][\w']*)$/.exec(name);
  return ends ? `${ends[1] === 'of' ? 'to' : 'of'}_${ends[2]}` : undefined;
}

/**
 * The other direction of each converter seed, in its module (`sexp_of_option` beside
 * `option_of_sexp`, `Code.code_of_status` beside `status_of_code`), with its other side:
 * converters come in pairs, and a new case or a new type is written in both directions. For
 * every seed, as its partner is, and every caller the window holds: one read per file.
 */
async function inversesOf(seeds: readonly Seed[], store: ChunkReader): Promise<ContextCandidate[]> {
  const seeded = new Set(seeds.map((s) => s.chunk.id));
  const wanted = seeds.flatMap((seed) => {
    const inverse = isFunction(seed.chunk) ? inverseName(seed.chunk.name) : undefined;
    return inverse ? [{ seed, inverse }] : [];
  });
  const found = await Promise.all(
    [...bySeedFile(wanted)].map(async ([path, inFile]) => {
      const named = await store.byName([...new Set(inFile.map((w) => w.inverse))], MAX_NAMESAKES_READ, { pathPrefix: path, kinds: ['value', 'external'], withText: true });
      return inFile.flatMap(({ seed, inverse }) => {
        const symbol = qualifierOf(seed.chunk) + inverse;
        const nearest = named.filter((c) => c.path === path && c.symbol === symbol && c.part <= 1 && !seeded.has(c.id)).sort(byDistanceFrom(seed.chunk.startLine))[0];
        return nearest ? [{ seed, chunk: nearest }] : [];
      });
    }),
  );
  return withOtherSides(found.flat(), INVERSE, store);
}

/** What each seed wants, grouped by the seed's file: one read a file. */
function bySeedFile<T extends { seed: Seed }>(wanted: readonly T[]): Map<string, T[]> {
  const byFile = new Map<string, T[]>();
  for (const w of wanted) byFile.set(w.seed.chunk.path, [...(byFile.get(w.seed.chunk.path) ?? []), w]);
  return byFile;
}

/** Each found definition and its other side, at `weight` of the seed that brought it. */
async function withOtherSides(pairs: readonly { seed: Seed; chunk: ChunkHit }[], weight: number, store: ChunkReader): Promise<ContextCandidate[]> {
  const partners = new Map((await store.chunksByIds(pairs.flatMap((p) => (p.chunk.counterpart ? [p.chunk.counterpart] : [])))).map((c) => [c.id, c]));
  return pairs.flatMap(({ seed, chunk }) =>
    [chunk, partners.get(chunk.counterpart)].flatMap((c) => (c ? [{ chunk: c, reason: sideReason(c), score: seed.score * weight * SHARE[sideReason(c)], seed: false }] : [])),
  );
}

/**
 * The other converters of a type the converter seed's file defines (`string_of_http_status`
 * beside `int_of_http_status`, both of `Nethttp.http_status`): a new case of the type is
 * written in each. A side that is no type of the file (`int`, or `sexp` in `sexp_of_option`)
 * has no family: every `sexp_of_*` is not one.
 */
async function siblingConvertersOf(seeds: readonly Seed[], store: ChunkReader): Promise<ContextCandidate[]> {
  const taken = new Set(seeds.map((s) => s.chunk.id));
  const wanted = seeds.flatMap((seed) => {
    const between = isFunction(seed.chunk) ? CONVERTER_BETWEEN.exec(seed.chunk.name) : null;
    return between ? [{ seed, sides: [between[1]!, between[2]!] }] : [];
  });
  const found = await Promise.all(
    [...bySeedFile(wanted)].map(async ([path, inFile]) => {
      const chunks = await store.chunksOfFile(path);
      const types = new Set(chunks.filter((c) => c.kind === 'type').map((c) => c.name));
      return inFile.flatMap(({ seed, sides }) => {
        const family = sides.filter((t) => types.has(t));
        if (family.length === 0) return [];
        const inverse = inverseName(seed.chunk.name);
        const module = qualifierOf(seed.chunk);
        return chunks
          .filter((c) => isFunction(c) && c.part <= 1 && !taken.has(c.id) && c.name !== seed.chunk.name && c.name !== inverse && c.symbol === module + c.name)
          .filter((c) => family.some((t) => c.name.endsWith(`_of_${t}`) || c.name.startsWith(`${t}_of_`)))
          .sort(byDistanceFrom(seed.chunk.startLine))
          .slice(0, MAX_SIBLING_CONVERTERS)
          .map((chunk) => ({ seed, chunk }));
      });
    }),
  );
  return withOtherSides(found.flat(), SIBLING_CONVERTER, store);
}

/** `let name = Module.name` (`Module` the seed's own module, under any path): a re-export of the seed. */
function reExportOf(chunk: ChunkHit): RegExp | undefined {
  const parts = chunk.symbol.split('.');
  const module = parts[parts.length - 2];
  if (!module) return undefined;
  const name = escapeRegExp(chunk.name);
  return new RegExp(`^let\\s+${name}\\s*=\\s*(?:[A-Z][\\w']*\\.)*${escapeRegExp(module)}\\.${name}$`);
}

/**
 * Where a test is run from in its own file (`let tests () = test_map (); …`, a suite's list of
 * cases): a new test is written like the test and registered there beside it.
 */
async function runnersOf(test: ChunkHit, store: ChunkReader): Promise<ChunkHit[]> {
  const use = wordPattern(test.name);
  const users = await store.usersOf(compound(test.name), MAX_USERS_READ, { pathContains: test.path });
  return users.filter((u) => u.path === test.path && u.id !== test.id && use.test(u.text)).slice(0, MAX_RUNNERS);
}

/** Type definitions the seed's signature names (`t` of its own module, `Error.t`, `token`). */
async function typesOf(chunk: ChunkHit, store: ChunkReader): Promise<ChunkHit[]> {
  const type = signatureType(chunk.text);
  if (!type) return [];
  const module = chunk.symbol.split('.').slice(0, -1).join('.');
  const names = [...constructorPaths(type)].filter((n) => !BUILTIN_TYPES.has(n.toLowerCase())).slice(0, MAX_TYPES);
  const found = await Promise.all(
    names.map(async (path) => {
      const parts = path.split('.');
      const name = parts[parts.length - 1]!;
      // A bare name is the seed's own module's: its file or that file's partner (through the
      // path index); a qualified one ends with its module path.
      const pool =
        parts.length > 1
          ? await store.typesNamed(name, 20, { symbolSuffix: `.${path}` })
          : await store.typesNamed(name, 20, { symbolSuffix: `${module}.${name}`, paths: unitPaths(chunk.path) });
      return pool.sort((a, b) => proximity(chunk, b) - proximity(chunk, a))[0];
    }),
  );
  return found.filter((c): c is ChunkHit => c !== undefined && c.id !== chunk.id);
}

/** A constructor in a match arm or a variant case: `| Foo`, `| Foo of ...`, `| `Foo`, and a first arm without its bar (`function Foo ->`, `with Foo ->`). */
const CONSTRUCTOR_ARM = /(?:\||\bfunction|\bwith)\s*`?(?:[A-Z][\w']*\.)*([A-Z][\w']*)/g;
/** In a type definition the first case may follow the `=` without a bar: `type t = A | B`. */
const VARIANT_CASE = /[|=]\s*`?([A-Z][\w']*)/g;
/** Any use of a constructor: built, matched or listed. */
const CONSTRUCTOR_WORD = /(?<![\w'])`?([A-Z][\w']*)\b(?!\s*\.)/g;
/**
 * A value that is one constructor (`let typerep_of_bytes = Typerep.Bytes`) names it for code
 * outside: a new one like it is a new case of that constructor's type.
 */
const CONSTRUCTOR_ALIAS = /^let\s+[a-z_][\w']*\s*=\s*(?:[A-Z][\w']*\.)*([A-Z][\w']*)\s*$/;
/** A field declared in a record type: `{ name : ...; mutable count : ... }`. */
const RECORD_FIELD = /[{;]\s*(?:mutable\s+)?([a-z_][\w']*)\s*:/g;
/** Fields of one record a function must build or update before the record comes with it. */
const MIN_FIELDS_BUILT = 3;
/** A field named in a record built or taken apart: `{ name; count = n }`, `{ r with count = 0 }`. */
const FIELD_USE = /(?<![\w'.])([a-z_][\w']*)\s*(?=[;}]|=(?!=))/g;
/** How the code that must change with a type names its cases: in match arms (and anywhere, for tests), or its fields. */
interface CaseUses {
  matched: RegExp;
  spelt: RegExp;
}
const VARIANT_USES: CaseUses = { matched: CONSTRUCTOR_ARM, spelt: CONSTRUCTOR_WORD };
const RECORD_USES: CaseUses = { matched: FIELD_USE, spelt: FIELD_USE };
const PREDEFINED_CONSTRUCTORS = new Set(['Some', 'None', 'Ok', 'Error', 'Not_found', 'Invalid_argument', 'Failure', 'Exit', 'End_of_file']);

/** What a seed's `match` over a variant type of its own unit brings (or a variant or record seed): the type and what must change with it. */
interface MatchedVariant {
  /** The type's definition, the `.ml` one where both files list the constructors. */
  variant: ChunkHit;
  /** The other file's copy of the type, when both list the constructors. */
  declaration?: ChunkHit;
  /** Other functions that match on most of its constructors: of its unit first, most cases first. */
  matchers: ChunkHit[];
  /** Tests that spell most of its constructors (a table of cases, a value of each). */
  tests: ChunkHit[];
}

/**
 * The variant type of the seed's own compilation unit that its code matches on most (at least two
 * of its constructors), or the seed itself when it is one: adding a case to a `match` means adding
 * it to that type too, to its declaration, and to the other functions that match on it
 * (`Warnings.number` beside `Warnings.message`, a console listener in another library); an
 * unannotated `let` names no type in a signature.
 */
async function variantMatchedBy(code: ChunkHit, store: ChunkReader): Promise<MatchedVariant | undefined> {
  const unitOfCode = () => Promise.all(unitPaths(code.path).map((p) => store.chunksOfFile(p))).then((files) => files.flat());
  if (code.kind === 'type') {
    const cases = constructorsIn(code.text, VARIANT_CASE);
    if (cases.size >= 2) return { variant: code, ...(await usesOfCases(code, cases, await unitOfCode(), store, VARIANT_USES)) };
    // A record: a new field breaks every function that builds the record or lists its fields.
    const fields = constructorsIn(code.text, RECORD_FIELD);
    if (fields.size < 2) return undefined;
    return { variant: code, ...(await usesOfCases(code, fields, await unitOfCode(), store, RECORD_USES)) };
  }
  const alias = CONSTRUCTOR_ALIAS.exec(code.text)?.[1];
  const used = alias ? new Set([alias]) : constructorsIn(code.text);
  // Two constructors matched single out a type; an alias names its one.
  const least = alias ? 1 : 2;
  const fieldsUsed = constructorsIn(code.text, FIELD_USE);
  if (used.size < least && fieldsUsed.size < MIN_FIELDS_BUILT) return undefined;
  const unit = await unitOfCode();
  const variant = typeSharingMost(code, unit, used, VARIANT_CASE, least);
  if (variant) {
    const declaration = unit.find((c) => c.id === variant.chunk.counterpart && sharedCount(constructorsIn(c.text, VARIANT_CASE), variant.cases) >= 2);
    return { variant: variant.chunk, ...(declaration ? { declaration } : {}), ...(await usesOfCases(code, variant.cases, unit, store, VARIANT_USES)) };
  }
  // A function that builds or updates three fields of a record or more (`{ proj with docroot =
  // Some p }`): a new field is set where the record is built, so the record comes with the
  // functions that build it or take all of it apart (`mk_project`).
  const record = typeSharingMost(code, unit, fieldsUsed, RECORD_FIELD, MIN_FIELDS_BUILT);
  if (!record) return undefined;
  const declaration = unit.find((c) => c.id === record.chunk.counterpart);
  return { variant: record.chunk, ...(declaration ? { declaration } : {}), ...(await usesOfCases(code, record.cases, unit, store, RECORD_USES)) };
}

/**
 * The type of `unit` other than `code` whose cases (`pattern`: a variant's constructors or a
 * record's fields) hold the most of `used`, `least` at least; the `.ml` definition over the
 * `.mli` copy when both list them.
 */
function typeSharingMost(code: ChunkHit, unit: readonly ChunkHit[], used: ReadonlySet<string>, pattern: RegExp, least: number): { chunk: ChunkHit; cases: Set<string> } | undefined {
  let best: { chunk: ChunkHit; cases: Set<string>; shared: number } | undefined;
  for (const chunk of unit) {
    if (chunk.kind !== 'type' || chunk.id === code.id) continue;
    const cases = constructorsIn(chunk.text, pattern);
    const shared = sharedCount(used, cases);
    if (shared >= least && (!best || shared > best.shared || (shared === best.shared && chunk.lang === 'ml' && best.chunk.lang === 'mli'))) best = { chunk, cases, shared };
  }
  return best;
}

/**
 * The functions other than `code` that match on half a type's `cases` (its constructors, or a
 * record's fields) or more, three at least: a match over the whole type, or a record built or
 * taken apart whole. Those of its unit first, then up to `MAX_FOREIGN_MATCHERS` from elsewhere;
 * and the tests that spell as many. Both are found elsewhere through two of its longest names.
 */
async function usesOfCases(code: ChunkHit, cases: ReadonlySet<string>, unit: readonly ChunkHit[], store: ChunkReader, uses: CaseUses): Promise<Pick<MatchedVariant, 'matchers' | 'tests'>> {
  const needed = Math.min(cases.size, Math.max(3, Math.ceil(cases.size / 2)));
  const holding = (chunks: readonly ChunkHit[], pattern: RegExp) =>
    chunks
      .filter((c) => c.kind === 'value' && c.lang === 'ml' && c.id !== code.id)
      .map((c) => ({ c, shared: sharedCount(constructorsIn(c.text, pattern), cases), near: proximity(code, c) }))
      .filter(({ shared }) => shared >= needed)
      .sort((a, b) => b.shared - a.shared || b.near - a.near || a.c.startLine - b.c.startLine)
      .map(({ c }) => c);
  const own = holding(unit, uses.matched).slice(0, MAX_MATCHERS);
  const longest = [...cases].sort((a, b) => b.length - a.length || a.localeCompare(b)).slice(0, 2);
  const paths = new Set(unit.map((c) => c.path));
  const elsewhere = (await store.holdingEvery(longest.map(compound), MAX_HOLDERS_READ)).filter((c) => !paths.has(c.path));
  const matchers = [...own, ...holding(elsewhere, uses.matched).slice(0, MAX_FOREIGN_MATCHERS)];
  const tests = holding(
    elsewhere.filter((c) => isTestPath(c.path, c.text) && !matchers.includes(c)),
    uses.spelt,
  ).slice(0, MAX_TESTS);
  return { matchers, tests };
}

/** The constructor of the last match arm that starts before `end` in `text`, unless a predefined one. */
export function armConstructorBefore(text: string, end: number): string | undefined {
  const arms = [...text.slice(0, end).matchAll(CONSTRUCTOR_ARM)];
  const last = arms[arms.length - 1]?.[1];
  return last === undefined || PREDEFINED_CONSTRUCTORS.has(last) ? undefined : last;
}

/** The constructors of a variant type's definition (`type t = A | B of int`). */
export function variantCases(text: string): Set<string> {
  return constructorsIn(text, VARIANT_CASE);
}

/** The constructors named in match arms (or variant cases), the predefined ones aside. */
function constructorsIn(text: string, pattern = CONSTRUCTOR_ARM): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(pattern)) if (!PREDEFINED_CONSTRUCTORS.has(m[1]!)) out.add(m[1]!);
  return out;
}

function sharedCount(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let n = 0;
  for (const x of a) if (b.has(x)) n++;
  return n;
}

/** The two files of a compilation unit. */
export function unitPaths(path: string): string[] {
  const stem = path.replace(/\.mli?$/, '');
  return [`${stem}.ml`, `${stem}.mli`];
}

/** The functions the seed's code calls, resolved to one definition each by module path or proximity. */
async function dependenciesOf(chunk: ChunkHit, refs: string[], store: ChunkReader): Promise<ChunkHit[]> {
  if (refs.length === 0) return [];
  const qualified = qualifiedUses(chunk.text);
  const names = namesFor(chunk.text, refs);
  // Two cheap lookups instead of every definition of every name: the names defined in the
  // seed's own directory (through the path index), and the names the code qualifies.
  const dir = directoryOf(chunk.path);
  const qualifiedNames = names.filter((n) => qualified.has(compound(n)));
  // Only code definitions of values: asked of the reader, whose limit then counts only those.
  const wanted = { withText: false, kinds: ['value', 'external'], lang: 'ml' };
  const [near, elsewhere] = await Promise.all([store.byName(names, 500, { ...wanted, pathPrefix: dir }), store.byName(qualifiedNames, 500, wanted)]);
  const byCompound = new Map<string, ChunkHit[]>();
  for (const d of [...near, ...elsewhere]) {
    if (BUILTIN_TYPES.has(d.name) || d.id === chunk.id || d.id === chunk.counterpart) continue;
    const key = compound(d.name);
    const same = byCompound.get(key);
    if (same) same.push(d);
    else byCompound.set(key, [d]);
  }
  const picked: { chunk: ChunkHit; fit: number }[] = [];
  for (const [name, candidates] of byCompound) {
    const modules = qualified.get(name);
    // `List.map` in the code names the module; otherwise the nearest definition wins. Of several
    // such modules, the nearest, then the standard library's: what every unit sees unless it opens
    // another (`List.iter2` in js_of_ocaml's compiler is Stdlib's, not Base's).
    const fitOf = (c: ChunkHit) => (modules?.has(moduleOf(c.symbol)) ? 1.2 : proximity(chunk, c));
    const tieBreak = (c: ChunkHit) => proximity(chunk, c) + (c.symbol.startsWith(STANDARD_LIBRARY) ? 0.1 : 0);
    let best = { chunk: candidates[0]!, fit: fitOf(candidates[0]!) };
    for (const c of candidates.slice(1)) {
      const fit = fitOf(c);
      if (fit > best.fit || (fit === best.fit && tieBreak(c) > tieBreak(best.chunk))) best = { chunk: c, fit };
    }
    if (candidates.length > AMBIGUOUS && best.fit < 0.8) continue;
    if (best.fit < 0.6) continue;
    picked.push(best);
  }
  const chosen = picked.sort((a, b) => b.fit - a.fit || a.chunk.symbol.localeCompare(b.chunk.symbol)).slice(0, MAX_DEPENDENCIES);
  const withText = new Map((await store.chunksByIds(chosen.map((p) => p.chunk.id))).map((c) => [c.id, c]));
  return chosen.flatMap((p) => withText.get(p.chunk.id) ?? []);
}

/** The identifiers of `text` whose compounds are in `refs`, as written (for the name lookup). */
function namesFor(text: string, refs: string[]): string[] {
  const wanted = new Set(refs);
  const names = new Set<string>();
  for (const name of text.match(/[a-z_][\w']*/g) ?? []) if (wanted.has(compound(name))) names.add(name);
  return [...names].slice(0, MAX_NAMES_FOLLOWED);
}

/** `Module.value` uses in the code: value compound → the modules it was qualified with. */
function qualifiedUses(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of text.matchAll(/([A-Z][\w']*)\.([a-z_][\w']*)/g)) {
    const key = compound(m[2]!);
    out.set(key, (out.get(key) ?? new Set()).add(m[1]!));
  }
  return out;
}

/** Definitions whose code uses the seed's name, nearest first, trusting those that qualify it right. */
async function usersOf(chunk: ChunkHit, store: ChunkReader): Promise<ChunkHit[]> {
  if (chunk.kind === 'exception') return exceptionUsersOf(chunk, store);
  if (chunk.kind !== 'value' && chunk.kind !== 'external') return [];
  // Tests are looked for on their own: among all users, BM25 ranks long test files last.
  const [general, inTests] = await Promise.all([store.usersOf(compound(chunk.name), MAX_USERS_READ), store.usersOf(compound(chunk.name), MAX_USERS_READ, { pathContains: 'test' })]);
  const users = [...general, ...inTests.filter((t) => !general.some((g) => g.id === t.id))];
  const module = moduleOf(chunk.symbol);
  const qualifiedUse = new RegExp(`\\b${module}\\.${escapeRegExp(chunk.name)}\\b`);
  const anyUse = wordPattern(chunk.name);
  const unit = unitOfFile(chunk.path);
  const fit = (u: ChunkHit) => (qualifiedUse.test(u.text) ? 1.2 : Math.max(proximity(chunk, u), testsUnit(u.path, unit) ? NAMED_TEST : 0));
  return users
    .filter((u) => u.id !== chunk.id && u.id !== chunk.counterpart && u.lang === 'ml' && anyUse.test(u.text))
    .map((u) => ({ u, f: fit(u) }))
    .filter(({ f }) => f >= 0.6)
    .sort((a, b) => b.f - a.f)
    .map(({ u }) => u);
}

/**
 * The definitions of an exception's own file that raise, match or print it (a registered
 * printer is a `let () = ...` no name leads to): what a change to its payload changes too.
 */
async function exceptionUsersOf(exception: ChunkHit, store: ChunkReader): Promise<ChunkHit[]> {
  const code = exception.path.replace(/\.mli$/, '.ml');
  const use = wordPattern(exception.name);
  return (await store.chunksOfFile(code)).filter((c) => c.id !== exception.id && c.id !== exception.counterpart && c.kind === 'value' && use.test(c.text));
}

/**
 * A test file or directory named after the unit (`tests/lib-hashtbl/htbl.ml`, `test_stack.ml`)
 * tests it, however far from it in the tree, and often through an alias (`module S = Stack`).
 */
function testsUnit(path: string, unit: string): boolean {
  if (unit.length < 3 || !isTestPath(path)) return false;
  return path
    .toLowerCase()
    .replace(/\.mli?$/, '')
    .split(/[/._-]/)
    .includes(unit);
}

/** `name` as a whole word of code. */
function wordPattern(name: string): RegExp {
  return new RegExp(`\\b${escapeRegExp(name)}\\b`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\']/g, '\\$&');
}
