// Searcher over a real index of the mini fixture: symbol lookups, typos and plain-English questions.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { indexRepo } from '../indexer/pipeline.js';
import { IndexMissingError, IndexStore, type ChunkHit } from '../indexer/store.js';
import { ResidentChunks } from '../server/resident.js';
import { queryTokens } from '../indexer/text.js';
import { Searcher, type IndexView, type SearchResult } from '../server/search.js';
import { parseQuery } from '../server/query.js';
import { ALWAYS_READ, fullTextRetriever } from '../server/retrieve/fulltext.js';
import { symbolRetriever } from '../server/retrieve/symbol.js';
import { tokensToAsk } from '../server/retrieve/every-word.js';
import type { Candidate } from '../server/retrieve/types.js';
import { cleanupTempDirs, copyFixture, indexedFiles, indexedFixture, makeTempDir, withEachSearcher, writeFiles } from './helpers.js';

let searcher: Searcher;
let db: string;

beforeAll(async () => {
  ({ db } = await indexedFixture('mini'));
  searcher = await Searcher.open(db);
});

afterAll(() => {
  searcher?.close();
  cleanupTempDirs();
});

const where = (r: SearchResult) => `${r.path}:${r.startLine}-${r.endLine}`;

/** Runs `check` with both readers of `db`: the store (LanceDB) and the resident chunks loaded from it. */
async function withBothReaders(db: string, check: (store: IndexStore, resident: ResidentChunks) => Promise<void>): Promise<void> {
  const store = await IndexStore.openForSearch(db);
  try {
    await check(store, await ResidentChunks.load(store));
  } finally {
    store.close();
  }
}
const SPLIT_ML = 'src/strkit_string.ml:3-12';
const SPLIT_MLI = 'src/strkit_string.mli:5-5';

describe('Searcher: symbol queries', () => {
  it.each(['split_on_char', 'Strkit_string.split_on_char', 'Strkit.Strkit_string.split_on_char'])(
    '%s finds split_on_char first, with its definition and declaration as the top 2',
    async (query) => {
      const results = await searcher.search(query);
      expect(results[0]).toMatchObject({ name: 'split_on_char', symbol: 'Strkit.Strkit_string.split_on_char', kind: 'value' });
      expect(results.slice(0, 2).map(where).sort()).toEqual([SPLIT_ML, SPLIT_MLI]);
    },
  );

  it('forgives a typo: split_on_chr finds split_on_char', async () => {
    const results = await searcher.search('split_on_chr');
    expect(results[0]?.symbol).toBe('Strkit.Strkit_string.split_on_char');
    expect(results.slice(0, 2).map(where).sort()).toEqual([SPLIT_ML, SPLIT_MLI]);
  });

  it('finds a nested module value by its partial path: Point.distance', async () => {
    const results = await searcher.search('Point.distance');
    expect(results[0]).toMatchObject({
      path: 'src/shapes.ml',
      startLine: 9,
      endLine: 11,
      name: 'distance',
      symbol: 'Strkit.Shapes.Geometry.Point.distance',
      kind: 'value',
      doc: 'Euclidean distance between two points.',
    });
    expect(results[0]!.snippet).toBe(
      ['    let distance a b =', '      let dx = a.x -. b.x and dy = a.y -. b.y in', '      sqrt ((dx *. dx) +. (dy *. dy))'].join('\n'),
    );
  });

  it('finds camelCase spellings of snake_case names: concatMap', async () => {
    const results = await searcher.search('concatMap');
    expect(results.slice(0, 2).map((r) => r.symbol)).toEqual(['Strkit.Strkit_string.concat_map', 'Strkit.Strkit_string.concat_map']);
    expect(results.slice(0, 2).map(where).sort()).toEqual(['src/strkit_string.ml:14-16', 'src/strkit_string.mli:7-7']);
  });

  it.each([
    ['is_odd', 'Strkit.Shapes.is_odd', 'value'],
    ['SHAPE', 'Strkit.Shapes.SHAPE', 'module_type'],
    ['Invalid_shape', 'Strkit.Shapes.Invalid_shape', 'exception'],
    ['hypot', 'Strkit.Shapes.hypot', 'external'],
    ['counter', 'Strkit.Shapes.counter', 'class'],
    ['Make', 'Strkit.Shapes.Make', 'module'],
    ['Geometry.Point.t', 'Strkit.Shapes.Geometry.Point.t', 'type'],
  ])('%s finds %s (%s) first', async (query, symbol, kind) => {
    const [first] = await searcher.search(query);
    expect(first).toMatchObject({ symbol, kind });
  });

  it('finds definitions on both sides of a syntax error', async () => {
    expect((await searcher.search('good_before'))[0]).toMatchObject({ path: 'src/broken.ml', startLine: 1, symbol: 'Strkit.Broken.good_before' });
    expect((await searcher.search('good_after'))[0]).toMatchObject({ path: 'src/broken.ml', startLine: 5, symbol: 'Strkit.Broken.good_after' });
  });
});

describe('Searcher: a qualified name typed with spaces for dots', () => {
  it('reads "In_channel fold_lines" as In_channel.fold_lines when the index defines it, in both readers', async () => {
    // Prose ranks the documented neighbours first: their docs repeat every word typed.
    const lines = (verb: string) => `(** Like fold_lines: ${verb}s the lines of an in channel, each line of the channel in turn, as fold lines does. *)\nlet ${verb}_lines ic = ic\n`;
    const { db: spacedDb } = await indexedFiles(
      {
        'src/in_channel.ml': `${lines('input')}\n${lines('iter')}\nlet fold_lines ic ~init ~f = f init ic\n`,
        'src/mime.ml': '(** Folds the lines of a header. *)\nlet fold_lines s = s\n',
      },
      'cs-spaced-name-',
    );
    await withEachSearcher(spacedDb, async (s, resident) => {
      const [first] = await s.search('In_channel fold_lines', { k: 3 });
      expect(first, `resident: ${resident}`).toMatchObject({ symbol: 'In_channel.fold_lines', path: 'src/in_channel.ml' });
      const [lower] = await s.search('in_channel fold_lines', { k: 3 });
      expect(lower, `resident: ${resident}`).toMatchObject({ symbol: 'In_channel.fold_lines' });
      // A name the index does not define under those modules is read as the words typed.
      const prose = await s.search('Mime iter_lines', { k: 3 });
      expect(prose[0], `resident: ${resident}`).toMatchObject({ symbol: 'In_channel.iter_lines' });
    });
  });
});

describe('Searcher: a bare name in a question that names one module', () => {
  it("looks it up in that module first (`filter_map` beside `Base.List`), in both readers", async () => {
    const { db: moduleDb } = await indexedFiles(
      {
        // Nested, so that without the module it would rank below the other one.
        'base/list.ml': 'module Inner = struct\n  let filter_map f l = List.filter_map f l\nend\n',
        'other/m.ml': 'let filter_map f a = Array.map f a\n',
      },
      'cs-named-module-',
    );
    const query = parseQuery('Base.List has indexed variants of filter_map; add one for partitioning');
    expect(query.namedModule).toEqual(['Base', 'List']);
    expect(parseQuery('Lwt_list has map_s and Base.List has map').namedModule).toBeUndefined();
    await withBothReaders(moduleDb, async (store, chunks) => {
      for (const reader of [store, chunks]) {
        const found = await symbolRetriever.retrieve(query, { store: reader, shown: 10 }, 10);
        expect(found.filter((c) => c.chunk?.name === 'filter_map').map((c) => c.chunk!.path)).toEqual(['base/list.ml', 'other/m.ml']);
      }
    });
  });
});

describe('Searcher: a name defined thousands of times', () => {
  it('finds the one under the typed qualifiers, however late in the table it comes', async () => {
    // More `t`s than one lookup reads (2,000), as a large monorepo has; the one asked for comes last.
    const modules = Array.from({ length: 2100 }, (_, i) => `module M${i} = struct type t = int end\n`).join('');
    const { root, db: manyDb } = await indexedFiles({ 'src/many.ml': modules, 'src/wanted_err.ml': 'type t = { message : string }\n' }, 'cs-many-t-');
    await withEachSearcher(manyDb, async (s, resident) => {
      const [first] = await s.search('Wanted_err.t', { k: 3 });
      expect(first, `resident: ${resident}`).toMatchObject({ symbol: 'Wanted_err.t', path: 'src/wanted_err.ml' });
    });
    // Under a path prefix, such a list is read by path: the same definitions, in table order.
    await withBothReaders(manyDb, async (store, chunks) => {
      for (const [prefix, limit] of [['src/', 3], ['src/wanted', 10], ['src/many', 2200], ['src/none', 5]] as const) {
        const expected = (await store.byName(['t'], limit, { pathPrefix: prefix })).map((c) => c.id);
        expect((await chunks.byName(['t'], limit, { pathPrefix: prefix })).map((c) => c.id), prefix).toEqual(expected);
      }
      expect((await chunks.byName(['t'], 10, { pathPrefix: 'src/wanted' })).map((c) => c.path)).toEqual(['src/wanted_err.ml']);
      // A version patched for a new file of the directory: the sorted list is not the earlier one.
      writeFiles(root, { 'src/wanted_more.ml': 'type t = string\n' });
      await indexRepo({ root, db: manyDb });
      const newer = await IndexStore.openForSearch(manyDb);
      try {
        const patched = await ResidentChunks.load(newer, chunks);
        expect((await patched.byName(['t'], 10, { pathPrefix: 'src/wanted' })).map((c) => c.path)).toEqual(['src/wanted_err.ml', 'src/wanted_more.ml']);
      } finally {
        newer.close();
      }
    });
  });
});

describe('Searcher: a library named in a question', () => {
  it('is not looked up as a misspelt identifier, while a misspelt name still is', async () => {
    const { db: libDb } = await indexedFiles({
      'strkit_lib/trim.ml': '(** Removes blanks at both ends. *)\nlet trim_blanks s = String.trim s\n',
      'other/near.ml': 'let strkit_lab x = x\n',
    }, 'cs-libname-');
    const s = await Searcher.open(libDb);
    try {
      const symbolHits = async (query: string) =>
        (await s.searchRanked(query, { explain: true })).filter((h) => h.trace.some(([what]) => what === 'symbol')).map((h) => h.chunk.name);
      expect(await symbolHits('strkit_lib: remove blanks at both ends')).toEqual([]);
      expect(await symbolHits('strkit_lob')).toEqual(['strkit_lab']);
    } finally {
      s.close();
    }
  });
});

describe('Searcher: a misspelt name close to many', () => {
  it('expands it to the same first 20 names as LanceDB does, in memory', async () => {
    const names = 'bcdefghijklmnopqrstuvwxyz'.split('').map((c) => `ka${c}`);
    const { db: fuzzyDb } = await indexedFiles({ 'src/many.ml': names.map((n) => `let ${n} x = x\n`).join('') }, 'cs-fuzzy-');
    await withBothReaders(fuzzyDb, async (store, resident) => {
      const [expected, actual] = [await store.fuzzyName('kaa', 100, 1), await resident.fuzzyName('kaa', 100, 1)];
      expect(expected.map((h) => h.name).sort()).toEqual(names.slice(0, 20));
      expect(actual.map((h) => h.name).sort()).toEqual(names.slice(0, 20));
    });
  });
});

describe('Searcher: a long definition holding every word of a short question', () => {
  it("is found by both readers though BM25's best 200 leave it out, and only while few definitions hold the words", async () => {
    // 300 short definitions that each repeat one of the words outscore, under BM25, one long
    // definition that holds all three once.
    const noise = ['alpha', 'beta', 'gamma'].flatMap((w) => Array.from({ length: 100 }, (_, i) => `let ${w}_${i} = "${w} ${w} ${w}"\n`));
    const filler = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ');
    const { db: wordsDb } = await indexedFiles(
      {
        'src/noise.ml': noise.join(''),
        'src/report.ml': `(** Summarises the alpha run, ${filler}, then the beta run and the gamma run. *)\nlet summarise_runs runs = List.iter print_string runs\n`,
      },
      'cs-every-word-',
    );
    await withBothReaders(wordsDb, async (store, resident) => {
      const tokens = queryTokens('alpha beta gamma');
      expect((await store.fullText(tokens, 200, { name: 2, body: 1 })).map((h) => h.name)).not.toContain('summarise_runs');
      for (const reader of [store, resident]) {
        expect((await reader.holdingEvery(tokens, 50)).map((h) => h.name)).toEqual(['summarise_runs']);
        // Each word alone is held by over a hundred definitions.
        expect(await reader.holdingEvery(['alpha'], 50)).toEqual([]);
      }
    });
    await withEachSearcher(wordsDb, async (s, resident) => {
      expect((await s.search('alpha beta gamma', { k: 10 })).map((r) => r.name), `resident: ${resident}`).toContain('summarise_runs');
    });
  });

  it("asks for a word of several parts by its whole token alone, and finds the same holders as with its parts", async () => {
    const question = 'js_of_ocaml dead code elimination';
    const tokens = queryTokens(question);
    expect(tokens).toEqual(expect.arrayContaining(['jsofocaml', 'js', 'ocaml', 'dead', 'elimin']));
    expect(tokensToAsk(question, tokens).sort()).toEqual(['dead', 'elimin', 'jsofocaml']);
    // A part that is also a word of the question on its own is still implied by the whole.
    expect(tokensToAsk('ocaml dead js_of_ocaml', queryTokens('ocaml dead js_of_ocaml'))).toEqual(['dead', 'jsofocaml']);
    // A camel-case word keeps its parts: "OCaml" is also written "ocaml", in one piece.
    expect(tokensToAsk('the OCaml typechecker', queryTokens('the OCaml typechecker'))).toEqual(queryTokens('the OCaml typechecker'));
    const { db: partsDb } = await indexedFiles(
      {
        'src/dce.ml': '(** Dead code elimination for Js_of_ocaml programs. *)\nlet eliminate p = p\n',
        'src/other.ml': '(** Dead code elimination in js and ocaml, apart. *)\nlet unrelated x = x\n',
      },
      'cs-every-word-parts-',
    );
    await withBothReaders(partsDb, async (store, resident) => {
      for (const reader of [store, resident]) {
        const withParts = (await reader.holdingEvery(tokens, 50)).map((h) => h.name);
        expect(withParts).toEqual(['eliminate']);
        expect((await reader.holdingEvery(tokensToAsk(question, tokens), 50)).map((h) => h.name)).toEqual(withParts);
      }
    });
  });
});

describe('Searcher: a question saying what it does not want', () => {
  const files = {
    'src/table.mli': [
      '(** [find t k] is the binding of [k] in [t]. Raises [Not_found] if [k] is unbound. *)',
      'val find : (\'a, \'b) t -> \'a -> \'b',
      '(** [find_opt t k] is the binding of [k] in [t], or [None] if [k] is unbound. *)',
      'val find_opt : (\'a, \'b) t -> \'a -> \'b option',
      '',
    ].join('\n'),
  };

  it('does not search for the words after "instead of" or "without"', async () => {
    const { db: negDb } = await indexedFiles(files, 'cs-negation-');
    await withEachSearcher(negDb, async (s, resident) => {
      const first = async (query: string) => (await s.search(query, { k: 5 }))[0]?.name;
      expect(await first('binding of a key as an option instead of raising Not_found'), `resident: ${resident}`).toBe('find_opt');
      expect(await first('binding of a key as an option without raising Not_found'), `resident: ${resident}`).toBe('find_opt');
      // The words alone, with nothing negated, still find what holds them.
      expect(await first('binding of a key as an option, raising Not_found'), `resident: ${resident}`).toBe('find');
    });
  });
});

describe('Searcher: a vendored copy of a library', () => {
  it('shows a definition once when another directory holds the same code, in both readers', async () => {
    const trim = '(** [trim_blanks s] is [s] without its leading and trailing blanks. *)\nlet trim_blanks s = String.trim s\n';
    const { db: copyDb } = await indexedFiles(
      {
        'strlib/trim.ml': trim,
        'vendor/strlib/trim.ml': trim,
        // The same name with other code is another answer.
        'other/trim.ml': '(** [trim_blanks s] drops the blanks at both ends of [s]. *)\nlet trim_blanks s = String.trim (String.trim s)\n',
      },
      'cs-copies-',
    );
    await withEachSearcher(copyDb, async (s, resident) => {
      const paths = (await s.search('trim leading and trailing blanks', { k: 10 })).filter((r) => r.name === 'trim_blanks').map((r) => r.path);
      expect(paths, `resident: ${resident}`).toHaveLength(2);
      expect(paths, `resident: ${resident}`).toContain('other/trim.ml');
      // Naming the vendored directory ranks its copy first, and the original is the one left out.
      const vendored = (await s.search('vendor: trim leading and trailing blanks', { k: 10 })).filter((r) => r.name === 'trim_blanks').map((r) => r.path);
      expect(vendored[0], `resident: ${resident}`).toBe('vendor/strlib/trim.ml');
      expect(vendored, `resident: ${resident}`).not.toContain('strlib/trim.ml');
    });
  });

  it('keeps the copy of a library the question calls by a short name ("the re library")', async () => {
    const start = '(** [start g i] is the start position of group [i]. *)\nlet start g i = fst g.(i)\n';
    // Paths of as many tokens, each holding `re`, and the vendored copy sorts first: only the
    // named scope puts the original first.
    const { db: shortDb } = await indexedFiles({ 're/dune/xy/group.ml': start, 'dune_re/group.ml': start }, 'cs-short-library-');
    await withEachSearcher(shortDb, async (s, resident) => {
      const paths = (await s.search('in the re library, the start position of a group', { k: 5 })).filter((r) => r.name === 'start').map((r) => r.path);
      expect(paths, `resident: ${resident}`).toEqual(['re/dune/xy/group.ml']);
    });
  });

  it('reads a word as the family of a camel-case library directory (menhir for menhirLib)', async () => {
    const range = '(** [range r] formats a location as File, line and characters. *)\nlet range (p1, p2) = Printf.sprintf "File %s, line %d" p1 p2\n';
    // A vendored copy in a `menhir` directory: unless `menhir` names `menhirLib` too, the copy alone is in the named scope.
    const { db: camelDb } = await indexedFiles({ 'menhirLib/lexer_util.ml': range, 'vendor/menhir/lexer_util.ml': range }, 'cs-camel-library-');
    await withEachSearcher(camelDb, async (s, resident) => {
      const paths = (await s.search('the menhir runtime helper that formats a location', { k: 5 })).filter((r) => r.name === 'range').map((r) => r.path);
      expect(paths, `resident: ${resident}`).toEqual(['menhirLib/lexer_util.ml']);
    });
    const { camelFamily } = await import('../indexer/modules.js');
    expect(['menhirLib', 'menhirSdk', 'lib', 'js_of_ocaml', 'XLib', 'abC'].map(camelFamily)).toEqual(['menhir', 'menhir', undefined, undefined, undefined, undefined]);
  });
});

describe('Searcher: paths with LIKE wildcards in them', () => {
  it('looks names up under a directory whose name holds `_`, and only under it, in both readers', async () => {
    const { db: likeDb } = await indexedFiles({
      'my_lib/a.ml': 'let helper x = x + 1\n',
      'myXlib/b.ml': 'let helper x = x - 1\n',
      'test_suite/t.ml': 'let check () = assert (My_lib.A.helper 1 = 2)\n',
      'testXsuite/u.ml': 'let other () = My_lib.A.helper 2\n',
    }, 'cs-underscore-');
    await withBothReaders(likeDb, async (store, resident) => {
      for (const reader of [store, resident]) {
        expect((await reader.byName(['helper'], 10, { pathPrefix: 'my_lib/' })).map((c) => c.path)).toEqual(['my_lib/a.ml']);
        expect((await reader.usersOf('helper', 10, { pathContains: 'test_' })).map((c) => c.path)).toEqual(['test_suite/t.ml']);
      }
    });
  });
});

describe("Searcher: a module's description", () => {
  it("finds the module's type `t` by the words of the file's leading doc comment, in both readers", async () => {
    const { db: preambleDb } = await indexedFiles({
      'src/cst.mli': '(** Concrete syntax of s-expressions, keeping comments and locations. *)\n\nopen! Stdlib\n\ntype t = Atom of string | List of t list\n\nval atom : string -> t\n',
      'src/cst.ml': 'type t = Atom of string | List of t list\n\nlet atom s = Atom s\n',
      'src/other.ml': '(** Keeps a list of things. *)\nlet keep xs = xs\n',
    }, 'cs-preamble-');
    await withEachSearcher(preambleDb, async (s, resident) => {
      const [first] = await s.search('syntax tree that keeps comments', { k: 3 });
      expect(first, `resident: ${resident}`).toMatchObject({ symbol: 'Cst.t' });
    });
  });
});

describe('Searcher: questions in plain English', () => {
  it('has split_on_char in the top 3 for "split a string at every occurrence of a character"', async () => {
    const results = await searcher.search('split a string at every occurrence of a character');
    expect(results.slice(0, 3).map((r) => r.name)).toContain('split_on_char');
  });

  it('has trim in the top 3 for "remove leading and trailing whitespace"', async () => {
    const results = await searcher.search('remove leading and trailing whitespace');
    expect(results.slice(0, 3).map((r) => r.name)).toContain('trim');
  });

  it('has distance in the top 3 for "euclidean distance between two points"', async () => {
    const results = await searcher.search('euclidean distance between two points');
    expect(results.slice(0, 3).map((r) => r.symbol)).toContain('Strkit.Shapes.Geometry.Point.distance');
  });
});

describe('Searcher: search by type', () => {
  it.each([
    ['char -> string -> string list', 'split_on_char'],
    ['string -> char -> string list', 'split_on_char'],
    ['string -> bool', 'is_blank'],
    ['string -> string', 'trim'],
  ])('%s finds %s first', async (query, name) => {
    const [first] = await searcher.search(query);
    expect(first).toMatchObject({ name, path: 'src/strkit_string.mli' });
  });
});

describe('Searcher: one answer per definition for questions', () => {
  it('folds an .mli declaration into its definition, naming it as counterpart', async () => {
    const results = await searcher.search('split a string at every occurrence of a character', { k: 10 });
    const splits = results.filter((r) => r.name === 'split_on_char');
    expect(splits).toHaveLength(1);
    const other = splits[0]!.path === 'src/strkit_string.ml' ? SPLIT_MLI : SPLIT_ML;
    const c = splits[0]!.counterpart!;
    expect(`${c.path}:${c.startLine}-${c.endLine}`).toBe(other);
    // The declaration's doc is shown even when the definition itself has none.
    expect(splits[0]!.doc).toMatch(/^Split a string into substrings/);
  });

  it('pairs a declaration with the last of two bindings of its name, the one the interface exports', async () => {
    const { db } = await indexedFiles({
      'src/glob.ml': 'let glob ~pathname s = if pathname then s else "*" ^ s\n\nlet glob ?(anchored = false) s =\n  let re = glob ~pathname:true s in\n  if anchored then "^" ^ re else re\n',
      'src/glob.mli': '(** Compile a shell glob pattern. *)\nval glob : ?anchored:bool -> string -> string\n',
    });
    const shadowed = await Searcher.open(db);
    try {
      const [first] = await shadowed.search('compile a shell glob pattern', { k: 5 });
      expect(first?.name).toBe('glob');
      const definition = first!.path === 'src/glob.ml' ? first! : first!.counterpart!;
      expect(definition).toMatchObject({ path: 'src/glob.ml', startLine: 3, endLine: 5 });
    } finally {
      shadowed.close();
    }
  });

  it('shows the definition and its declaration as two results when asked to', async () => {
    const results = await searcher.search('split a string at every occurrence of a character', { k: 10, pairs: 'separate' });
    const splits = results.filter((r) => r.name === 'split_on_char');
    expect(splits.map((r) => `${r.path}:${r.startLine}-${r.endLine}`).sort()).toEqual([SPLIT_ML, SPLIT_MLI].sort());
    expect(splits.every((r) => r.counterpart === undefined)).toBe(true);
  });

  it('leads with the implementation when the question asks where something is done, with the same doc and place', async () => {
    const split = async (query: string) => (await searcher.search(query, { k: 10 })).find((r) => r.name === 'split_on_char')!;
    const asked = await split('split a string at every occurrence of a character');
    const where = await split('where does the code split a string at every occurrence of a character');
    expect(`${where.path}:${where.startLine}-${where.endLine}`).toBe(SPLIT_ML);
    expect(`${where.counterpart!.path}:${where.counterpart!.startLine}-${where.counterpart!.endLine}`).toBe(SPLIT_MLI);
    expect(where.doc).toMatch(/^Split a string into substrings/);
    // Without "where", the better-ranked side leads: here the declaration, whose doc matched.
    expect(asked.path).toBe('src/strkit_string.mli');
  });

  it('lets no file hold more than 3 of the first results while other files have hits', async () => {
    const results = await searcher.search('string character point shape', { k: 6, mode: 'lexical' });
    const perFile = new Map<string, number>();
    for (const r of results) perFile.set(r.path, (perFile.get(r.path) ?? 0) + 1);
    expect(Math.max(...perFile.values())).toBeLessThanOrEqual(3);
    expect(perFile.size).toBeGreaterThan(1);
  });
});

describe('Searcher: explained scores', () => {
  it.each(['split_on_char', 'Strkit_string.split_on_chr', 'where does the code split a string at every occurrence of a character', 'string -> bool'])(
    '%s: the parts of each score add up to it, through pairing and implementation-first reordering',
    async (query) => {
      const results = await searcher.search(query, { explain: true });
      expect(results.length).toBeGreaterThan(1);
      for (const r of results) expect(r.explain!.reduce((sum, p) => sum + p.points, 0)).toBeCloseTo(r.score, 3);
    },
  );
});

describe('Searcher: the vector neighbourhood', () => {
  it('gives the same bonus to the 200 nearest definitions, however many results are asked for', async () => {
    const [colours, animals] = [['red', 'green', 'blue', 'yellow', 'black', 'white', 'purple'], ['cat', 'dog', 'cow', 'fox', 'owl', 'bee', 'ant', 'elk', 'yak', 'emu', 'gnu']];
    const defs = Array.from({ length: 260 }, (_, i) => `(** Adds ${i} to the ${colours[i % 7]} counter of the ${animals[i % 11]}. *)\nlet add_${i} counter = counter + ${i}\n`);
    const { db: manyDb } = await indexedFiles({ 'src/counters.ml': defs.join('') }, 'cs-neighbourhood-');
    const s = await Searcher.open(manyDb);
    try {
      // Both lists hold all 260 definitions; the vector retriever is asked for 300 and 1000.
      for (const k of [300, 1000]) {
        const hits = await s.searchRanked('add to the red counter of the cat', { k, explain: true });
        const bonuses = hits.flatMap((h) => h.trace.filter(([what]) => what === 'vector').map(([, points]) => points));
        expect(bonuses.filter((p) => p > 0), `k = ${k}`).toHaveLength(200);
        expect(new Set(bonuses.filter((p) => p > 0)), `k = ${k}`).toEqual(new Set([0.3]));
      }
    } finally {
      s.close();
    }
  });
});

describe("Searcher: BM25's deeper ranks in hybrid search", () => {
  it('reads the first ranks and, down to 600, those the vector places near; all of its list without a neighbour or for a kind', async () => {
    // One definition per rank: each holds 'gizmo' once, in a doc longer by one word than the last.
    const defs = Array.from({ length: 150 }, (_, i) => `(** The gizmo${' filler'.repeat(i)}. *)\nlet g${i} x = x + ${i}\n`);
    const { db: gizmoDb } = await indexedFiles({ 'src/gizmos.ml': defs.join('') }, 'cs-deeper-');
    const query = parseQuery('where is the gizmo');
    // What fusion reads of a candidate (token sets are objects of each reader's own making).
    const read = (cs: Candidate[]) => cs.map(({ id, score, chunk }) => ({ id, score, chunk: chunk && { ...chunk, tokens: ['gizmo', 'filler', 'zzz'].filter((t) => chunk.tokens?.has(t)) } }));
    await withBothReaders(gizmoDb, async (...readers) => {
      const lists: string[][] = [];
      for (const store of readers) {
        const lexical = await fullTextRetriever.retrieve(query, { store, shown: 10 }, 200);
        expect(lexical.map((c) => c.chunk?.name)).toEqual(defs.map((_, i) => `g${i}`));
        const [deep, early] = [lexical[120]!, lexical[5]!];
        const neighbours = async () => [deep, early].map((c) => ({ id: c.id, similarity: 0.5 }));
        const hybrid = await fullTextRetriever.retrieve(query, { store, shown: 10, neighbours }, 200);
        expect(read(hybrid)).toEqual(read([...lexical.slice(0, ALWAYS_READ), deep]));
        // Asked for more than the first ranks, it reads as many.
        expect((await fullTextRetriever.retrieve(query, { store, shown: 80, neighbours }, 200)).map((c) => c.id)).toEqual([...lexical.slice(0, 80), deep].map((c) => c.id));
        // A question asking for a kind of definition reads BM25's list as far as without vectors:
        // the kind bonus lifts definitions the vector does not place near.
        const typeQuery = parseQuery('where is the gizmo type defined');
        expect(typeQuery.askedKinds).toEqual(['type']);
        expect(read(await fullTextRetriever.retrieve(typeQuery, { store, shown: 10, neighbours }, 200))).toEqual(read(await fullTextRetriever.retrieve(typeQuery, { store, shown: 10 }, 200)));
        // Nothing near the question (no word the model knows): nothing to vouch, BM25's list stands.
        expect(read(await fullTextRetriever.retrieve(query, { store, shown: 10, neighbours: async () => [] }, 200))).toEqual(read(lexical));
        lists.push(hybrid.map((c) => c.id));
      }
      expect(lists[1]).toEqual(lists[0]);
    });
  });
});

describe("Searcher: BM25's deeper ranks for a long question", () => {
  it('reads, besides the first ranks and the vouched, those of its first 200 that BM25 scores at least half its best', async () => {
    // 70 definitions hold two of the question's words, 30 one of them, 100 none.
    const defs = Array.from({ length: 200 }, (_, i) => `(** The ${i < 70 ? 'gizmo sprocket' : i < 100 ? 'gizmo' : 'other thing'}${' filler'.repeat(i % 5)}. *)\nlet g${i} x = x + ${i}\n`);
    const { db: gizmoDb } = await indexedFiles({ 'src/gizmos.ml': defs.join('') }, 'cs-long-question-');
    const query = parseQuery('where is the gizmo that the sprocket, flange, bracket, spindle, lever, pulley, ratchet, axle, crank and winch turn');
    expect(new Set(query.tokens).size).toBeGreaterThanOrEqual(12);
    await withBothReaders(gizmoDb, async (...readers) => {
      for (const store of readers) {
        const lexical = await fullTextRetriever.retrieve(query, { store, shown: 10 }, 200);
        expect(lexical.filter((c) => c.score > 0.1)).toHaveLength(100);
        // Past the first 60: ten near the best, thirty far below it.
        expect(lexical.slice(ALWAYS_READ).filter((c) => c.score >= 0.5)).toHaveLength(10);
        const neighbours = async () => [lexical[90]!].map((c) => ({ id: c.id, similarity: 0.5 }));
        const hybrid = await fullTextRetriever.retrieve(query, { store, shown: 10, neighbours }, 200);
        expect(hybrid.map((c) => c.id)).toEqual(lexical.filter((_, rank) => rank < 70 || rank === 90).map((c) => c.id));
      }
    });
  });
});

describe('Searcher: result shape', () => {
  it('returns at most k results, best first, with contract fields', async () => {
    const results = await searcher.search('string', { k: 3 });
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(Object.keys(r)).toEqual(expect.arrayContaining(['path', 'startLine', 'endLine', 'name', 'symbol', 'kind', 'score']));
      expect(r.path).toMatch(/^src\/[a-z_]+\.mli?$/);
      expect(r.startLine).toBeGreaterThanOrEqual(1);
      expect(r.endLine).toBeGreaterThanOrEqual(r.startLine);
      expect(Number.isFinite(r.score)).toBe(true);
    }
    const scores = results.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(await searcher.search('string', { k: 1 })).toEqual(results.slice(0, 1));
  });

  it('returns nothing for a name that is not defined anywhere', async () => {
    expect(await searcher.search('zzqx_not_defined_anywhere')).toEqual([]);
  });

  it('refuses to open a directory without an index', async () => {
    await expect(Searcher.open(makeTempDir('cs-empty-'))).rejects.toBeInstanceOf(IndexMissingError);
  });
});

describe('Searcher: resident chunks (a server keeps them in memory)', () => {
  let resident: Searcher;
  let store: IndexStore;
  let chunks: ResidentChunks;
  beforeAll(async () => {
    resident = await Searcher.open(db, { resident: true });
    store = await IndexStore.openForSearch(db);
    chunks = await ResidentChunks.load(store);
  });
  afterAll(() => {
    resident?.close();
    store?.close();
  });
  /** Hits with their tokens as those they hold among a few: the store and the term index answer through different objects. */
  const held = (hits: ChunkHit[]) => hits.map(({ tokens, ...h }) => ({ ...h, holds: tokens && ['split', 'char', 'string', 'bool', 'distance', 'added', 'later', 'point', 'geometry', 'hypot', 'nowhere'].filter((t) => tokens.has(t)) }));

  it.each(['split_on_char', 'split_on_chr', 'Point.distance', 'concatMap', 'remove leading and trailing whitespace', 'string -> bool', '"caml_hypot_float"', 'string character point shape'])(
    'ranks %s exactly as the one-shot searcher does',
    async (query) => {
      const expected = await searcher.search(query, { k: 20 });
      expect(expected.length).toBeGreaterThan(0);
      expect(await resident.search(query, { k: 20 })).toEqual(expected);
    },
  );

  it('looks symbols up exactly as the one-shot searcher does', async () => {
    expect(await resident.lookupSymbol('trim')).toEqual(await searcher.lookupSymbol('trim'));
  });

  it('answers every chunk read as the store does', async () => {
    const ids = (await store.byName(['split_on_char', 'distance'], 10)).map((c) => c.id);
    // The nearest vectors by row id, once this version's row ids are read.
    await chunks.rowsRead;
    const vector = await searcher.readFresh(async (view) => (await view.queryEmbedder()).embedQuery('split a string at a character'));
    const reads: [string, (r: IndexStore | ResidentChunks) => Promise<unknown>][] = [
      ['typeCandidates', (r) => r.typeCandidates(['string', 'bool'], 10)],
      // Callers are looked up in memory, in BM25's order; their score is not used.
      ['usersOf', async (r) => (await r.usersOf('trim', 10)).map((c) => ({ ...c, rawScore: 0 }))],
      ['usersOf in paths', async (r) => (await r.usersOf('trim', 10, { pathContains: 'strkit' })).map((c) => ({ ...c, rawScore: 0 }))],
      ['chunksByIds', (r) => r.chunksByIds(ids)],
      // Ranked by each reader, read by row id from LanceDB and by id from memory.
      ['readRanked', async (r) => (await r.readRanked((await r.fullTextRanks(['split', 'char'], 10, { name: 2, body: 1 })).slice(2, 7))).sort((a, b) => a.id.localeCompare(b.id))],
      ['nearest', (r) => r.nearest(vector, 10)],
      ['chunksOfFile', (r) => r.chunksOfFile('src/shapes.ml')],
      ['referencesOf', (r) => r.referencesOf(ids)],
      ['typesNamed', (r) => r.typesNamed('t', 10, { symbolSuffix: 'Point.t' })],
      ['typesNamed in paths', (r) => r.typesNamed('t', 10, { paths: ['src/shapes.ml'] })],
      ['chunksContaining', (r) => r.chunksContaining(['caml_hypot'], 10)],
      // The words narrow where a term index looks, never what is found.
      ['chunksContaining words', (r) => r.chunksContaining(['caml_hypot'], 10, r === store ? [] : ['caml_hypot'])],
      ['chunksContaining words in identifiers', (r) => r.chunksContaining(['distance between'], 10, r === store ? [] : ['distance', 'between'])],
      ['siblings', (r) => r.siblings('Strkit_string', 'spl', 10)],
      ['byName', (r) => r.byName(['trim', 'is_blank'], 10)],
      ['byName without text', (r) => r.byName(['distance'], 10, { withText: false, pathPrefix: 'src/' })],
      ['byName of some kinds', (r) => r.byName(['distance', 'trim', 't'], 10, { withText: false, kinds: ['value', 'external'], lang: 'ml' })],
      ['byName under a qualified name', (r) => r.byName(['t'], 10, { symbolSuffix: 'Point.t' })],
    ];
    for (const [what, read] of reads) {
      const expected = await read(store);
      expect(expected instanceof Map ? expected.size : (expected as unknown[]).length, what).toBeGreaterThan(0);
      const comparable = (x: unknown) => (Array.isArray(x) ? held(x as ChunkHit[]) : x);
      expect(comparable(await read(chunks)), what).toEqual(comparable(expected));
    }
    // The store narrows its scan by the words (through its full-text index) to the same answer.
    for (const [fragments, words] of [[['caml_hypot'], ['caml_hypot']], [['distance between'], ['distance', 'between']], [['nowhere at all'], ['nowhere', 'all']]]) {
      expect(held(await store.chunksContaining(fragments!, 10, words)), fragments![0]).toEqual(held(await store.chunksContaining(fragments!, 10)));
    }
  });

  /** The same hits with the same scores (to LanceDB's float32 rounding); equal scores may come in either order. */
  function expectSameScoredHits(actual: ChunkHit[], expected: ChunkHit[], label: string, tokens: readonly string[]) {
    const byId = new Map(actual.map((h) => [h.id, h]));
    expect(actual.map((h) => h.id).sort(), label).toEqual(expected.map((h) => h.id).sort());
    for (const want of expected) {
      const { rawScore, tokens: held, ...rest } = byId.get(want.id)!;
      const { rawScore: wantedScore, tokens: stored, ...wanted } = want;
      expect(rest).toEqual(wanted);
      expect(Math.abs(rawScore - wantedScore) / wantedScore).toBeLessThan(1e-5);
      // The index answers for the tokens it holds as the stored ones do.
      for (const t of [...tokens, 'string', 'char', 'nowhere']) expect(held?.has(t), `${want.id} ${t}`).toBe(stored?.has(t));
    }
    for (let i = 1; i < actual.length; i++) expect(actual[i]!.rawScore).toBeLessThanOrEqual(actual[i - 1]!.rawScore);
  }

  it("scores full-text matches as LanceDB's index does (to its float32 rounding)", async () => {
    for (const tokens of [['split', 'char'], ['string', 'point', 'distance', 'trim'], ['shape'], queryTokens('remove leading and trailing whitespace')]) {
      // Every match (the fixture has a few dozen): a cut could fall between equal scores.
      const expected = await store.fullText(tokens, 1000, { name: 2, body: 1 });
      expect(expected.length, tokens.join(' ')).toBeGreaterThan(0);
      expectSameScoredHits(await chunks.fullText(tokens, 1000, { name: 2, body: 1 }), expected, tokens.join(' '), tokens);
    }
  });

  it("finds and scores misspelt names as LanceDB's fuzzy match does", async () => {
    for (const [token, edits, found] of [['splitonchr', 2, true], ['distanse', 2, true], ['trm', 1, true], ['pont', 1, true], ['xplitonchar', 2, false], ['zzzzzz', 2, false]] as const) {
      const expected = await store.fuzzyName(token, 1000, edits);
      expect(expected.length > 0, token).toBe(found);
      expectSameScoredHits(await chunks.fuzzyName(token, 1000, edits), expected, token, []);
    }
  });

  it('reads only the changed files of a new version, and ends up with what a full read gives', async () => {
    const root = copyFixture('mini');
    const liveDb = path.join(makeTempDir('cs-db-'), 'index');
    await indexRepo({ root, db: liveDb });
    const before = await IndexStore.openForSearch(liveDb);
    const earlier = await ResidentChunks.load(before);
    // Lookups that keep what they worked out (ranked callers, sorted names), asked once before the update.
    const lookups = async (r: ResidentChunks) => [
      await r.usersOf('distance', 10),
      await r.siblings('Shapes', 'added', 10),
      await r.byName(['added_later', 'distance'], 10),
      held(await r.chunksContaining(['distance'], 50)),
      held(await r.fullText(['distance', 'added', 'later', 'point'], 50, { name: 2, body: 1 })),
    ];
    await lookups(earlier);
    fs.appendFileSync(path.join(root, 'src/shapes.ml'), '\nlet added_later a b = Geometry.Point.distance a b\n');
    fs.rmSync(path.join(root, 'src/broken.ml'));
    // The library's new name re-chunks every file beside the dune file, contents unchanged.
    fs.writeFileSync(path.join(root, 'src/dune'), '(library (name strkit2))\n');
    await indexRepo({ root, db: liveDb });
    const after = await IndexStore.openForSearch(liveDb);
    try {
      const [updated, whole] = [await ResidentChunks.load(after, earlier), await ResidentChunks.load(after)];
      expect(updated.size).toBe(whole.size);
      const everything = async (r: ResidentChunks) => (await Promise.all([...(await after.fileVersions()).keys()].sort().map((p) => r.chunksOfFile(p)))).flat();
      const all = await everything(whole);
      expect(all.some((c) => c.name === 'added_later')).toBe(true);
      expect(all.every((c) => c.symbol.startsWith('Strkit2.') && c.path !== 'src/broken.ml')).toBe(true);
      expect(await everything(updated)).toEqual(all);
      const [users, siblings, , , matches] = await lookups(whole);
      expect(users.map((c) => c.name)).toContain('added_later');
      expect(siblings.map((c) => c.name)).toEqual(['added_later']);
      expect(matches.map((c) => c.name)).toContain('added_later');
      // Table order too: a scan of the patched lookups meets the re-read file's chunks last, as a full
      // read does; BM25 over the patched postings (changed ones gone, new ones beside) scores as a full read's.
      expect(await lookups(updated)).toEqual([users, siblings, await whole.byName(['added_later', 'distance'], 10), held(await whole.chunksContaining(['distance'], 50)), matches]);
    } finally {
      before.close();
      after.close();
    }
  });
});


describe('Searcher: a reader whose version an update cleaned up', () => {
  it.each([
    ['from LanceDB', false],
    ['resident', true],
  ])('answers from the newest version (%s)', async (_label, resident) => {
    const root = copyFixture('mini');
    const db = path.join(makeTempDir('cs-vanished-'), 'db');
    const defs = (n: number) => Array.from({ length: 40 }, (_, j) => `(** Pads value ${j}. *)\nlet pad_${n}_${j} s = s ^ "${j}"\n`).join('\n');
    for (let n = 0; n < 6; n++) fs.writeFileSync(path.join(root, 'src', `pad_${n}.ml`), defs(n));
    await indexRepo({ root, db });
    const searcher = await Searcher.open(db, { resident });
    try {
      expect((await searcher.search('pad_3_7'))[0]?.symbol).toMatch(/pad_3_7$/);
      // Rewrite and remove files: the update compacts the table, rebuilds its indexes and
      // deletes every older version's files, the ones this searcher is reading.
      for (let n = 0; n < 3; n++) fs.writeFileSync(path.join(root, 'src', `pad_${n}.ml`), defs(n + 10));
      fs.rmSync(path.join(root, 'src', 'pad_5.ml'));
      await indexRepo({ root, db });
      const dataFiles = fs.readdirSync(path.join(db, 'chunks.lance', 'data'));
      expect(dataFiles.length).toBeGreaterThan(0);
      // A resident reader answers a name from memory, never reading the cleaned-up files: it
      // moves to the newest version when it next looks.
      if (resident) await searcher.refresh({ now: true });
      expect((await searcher.search('pad_11_7'))[0]?.symbol).toMatch(/pad_11_7$/);
      expect(await searcher.search('pad_5_7')).not.toContainEqual(expect.objectContaining({ symbol: expect.stringMatching(/pad_5_7$/) }));
    } finally {
      searcher.close();
    }
  });
});

describe('Searcher: a reader whose static model a newer run replaced', () => {
  it('answers a question from the newest version instead of failing on the dropped model', async () => {
    const root = copyFixture('mini');
    const db = path.join(makeTempDir('cs-model-'), 'db');
    await indexRepo({ root, db });
    const searcher = await Searcher.open(db, { resident: true });
    try {
      const before = searcher.embedderId;
      // A retrained model replaces the old one's tables; the searcher has not looked yet.
      writeFiles(root, { 'src/rotate.ml': '(** Rotates a string left by n characters. *)\nlet rotate_left n s = s\n' });
      await indexRepo({ root, db, retrain: true });
      const results = await searcher.search('rotate a string left', { mode: 'hybrid' });
      expect(results[0]?.symbol).toMatch(/rotate_left$/);
      expect(searcher.embedderId).not.toBe(before);
    } finally {
      searcher.close();
    }
  });
});

describe('Searcher: a replaced version', () => {
  it('stays open while a request still reads it, and closes when the last one is done', async () => {
    const { root, db } = await indexedFixture('mini');
    const searcher = await Searcher.open(db);
    try {
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      let held!: IndexView;
      const request = searcher.readFresh(async (view) => {
        held = view;
        await finished;
      });
      await new Promise((r) => setImmediate(r));
      fs.writeFileSync(path.join(root, 'src', 'later.ml'), '(** Added after the request began. *)\nlet added_later x = x\n');
      // Unoptimized, as `watch` writes: the held version's files stay on disk.
      await indexRepo({ root, db, deferOptimize: true });
      await searcher.refresh({ now: true });
      expect((await searcher.search('added_later'))[0]?.symbol).toMatch(/added_later$/);
      // The request's own version still answers, without the newer file.
      expect((await searcher.searchView(held, 'added_later')).map((h) => h.chunk.name)).not.toContain('added_later');
      finish();
      await request;
      // Its last reader gone, the replaced version is closed: it no longer reads LanceDB.
      await expect(searcher.searchView(held, 'added_later')).rejects.toThrow(/closed/i);
      expect((await searcher.search('added_later'))[0]?.symbol).toMatch(/added_later$/);
    } finally {
      searcher.close();
    }
  });

  it('is read by one request per core at a time, the others in order, while a newer version opens and symbol lookups answer without waiting for them', async () => {
    const { root, db } = await indexedFixture('mini');
    const searcher = await Searcher.open(db);
    try {
      const cores = os.availableParallelism();
      const started: number[] = [];
      const finish: (() => void)[] = [];
      const requests = Array.from({ length: cores + 2 }, (_, i) =>
        searcher.readFresh(async () => {
          started.push(i);
          await new Promise<void>((resolve) => (finish[i] = resolve));
        }),
      );
      const settle = () => new Promise((r) => setTimeout(r, 20));
      await settle();
      expect(started).toEqual(Array.from({ length: cores }, (_, i) => i));
      // A symbol lookup does not wait for a turn.
      expect((await searcher.lookupSymbol('Strkit_string.trim'))[0]?.symbol).toMatch(/trim$/);
      // Every turn taken: an update is still picked up.
      fs.writeFileSync(path.join(root, 'src', 'later.ml'), 'let opened_meanwhile x = x\n');
      await indexRepo({ root, db, deferOptimize: true });
      await searcher.refresh({ now: true });
      finish[1]!();
      await settle();
      expect(started).toEqual([...Array.from({ length: cores }, (_, i) => i), cores]);
      for (let i = 0; i < cores + 2; i++) {
        finish[i]?.();
        await settle();
      }
      await Promise.all(requests);
      expect(started).toHaveLength(cores + 2);
      expect((await searcher.search('opened_meanwhile'))[0]?.symbol).toMatch(/opened_meanwhile$/);
    } finally {
      searcher.close();
    }
  });

  it.each([
    ['one per core', false, 1],
    ['four per core with resident chunks (LanceDB then answers only their nearest vectors)', true, 4],
  ])('reads %s at a time, one request fewer than the cores while an update runs beside it, and as many again after', async (_label, resident, perCore) => {
    const { db } = await indexedFixture('mini');
    const searcher = await Searcher.open(db, { resident });
    try {
      const cores = os.availableParallelism();
      /** How many of `n` requests, each held until the next tick of a timer, read at once at most. */
      const mostAtOnce = async (n: number) => {
        let reading = 0;
        let most = 0;
        await Promise.all(
          Array.from({ length: n }, () =>
            searcher.readFresh(async () => {
              most = Math.max(most, ++reading);
              await new Promise((r) => setTimeout(r, 20));
              reading--;
            }),
          ),
        );
        return most;
      };
      expect(await mostAtOnce(perCore * cores + 1)).toBe(perCore * cores);
      searcher.yieldToWriter(true);
      expect(await mostAtOnce(perCore * cores + 1)).toBe(Math.max(1, cores - 1));
      searcher.yieldToWriter(false);
      expect(await mostAtOnce(perCore * cores + 1)).toBe(perCore * cores);
    } finally {
      searcher.close();
    }
  });

  it('looks again when asked to look now while a look is under way: that one may have read the index before the update committed', async () => {
    const { root, db } = await indexedFixture('mini');
    // Looks only when told to: a lookup's own look would hide the missed version.
    const searcher = await Searcher.open(db, { refreshIntervalMs: 600_000 });
    try {
      // The real store, its answer held back: the look under way has read the old version's stamp.
      const store = searcher.store;
      const latestMeta = store.latestMeta.bind(store);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      store.latestMeta = async (key: string) => {
        const value = await latestMeta(key);
        await held;
        return value;
      };
      const underWay = searcher.refresh({ now: true });
      fs.writeFileSync(path.join(root, 'src', 'later.ml'), 'let committed_during_a_look x = x\n');
      await indexRepo({ root, db, deferOptimize: true });
      const now = searcher.refresh({ now: true });
      release();
      await Promise.all([underWay, now]);
      expect((await searcher.lookupSymbol('committed_during_a_look'))[0]?.name).toBe('committed_during_a_look');
    } finally {
      searcher.close();
    }
  });
});
