// Context windows over a real index of the shop fixture (a library, its .mli, a caller module and
// a test), with the real tokenizer: what an edit needs, cursor anchoring, budgets.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Searcher } from '../server/search.js';
import { ContextBuilder, ContextRequestError, searchableQuery } from '../server/context/build.js';
import { head, MAX_ITEMS_PER_FILE, mergeSpans, packToBudget } from '../server/context/pack.js';
import { EXPANDED_SEEDS, expand } from '../server/context/expand.js';
import { tokenCounter } from '../server/context/tokens.js';
import type { ContextItem } from '../server/context/item.js';
import type { ChunkHit } from '../indexer/store.js';
import { cleanupTempDirs, indexedFiles, indexedFixture, makeTempDir, runCli, withEachSearcher } from './helpers.js';
import { indexRepo } from '../indexer/pipeline.js';

let root: string;
let db: string;
let searcher: Searcher;
let builder: ContextBuilder;

beforeAll(async () => {
  ({ root, db } = await indexedFixture('shop'));
  searcher = await Searcher.open(db);
  builder = await ContextBuilder.create(searcher);
});

afterAll(() => {
  searcher?.close();
  cleanupTempDirs();
});

const where = (i: ContextItem) => `${i.path}:${i.startLine}-${i.endLine}`;
const covers = (items: ContextItem[], file: string, line: number) => items.some((i) => i.path === file && i.startLine <= line && line <= i.endLine);

/** A searcher over a small repo of `files`, closed once `use` is done. */
async function withSearcherOver<T>(files: Record<string, string>, prefix: string, use: (searcher: Searcher) => Promise<T>): Promise<T> {
  const { db } = await indexedFiles(files, prefix);
  const opened = await Searcher.open(db);
  try {
    return await use(opened);
  } finally {
    opened.close();
  }
}

/** One definition of each of `names`, with its text, as the searcher's store reads it. */
function definitionsNamed(searcher: Searcher, names: readonly string[]): Promise<ChunkHit[]> {
  return Promise.all(names.map(async (name) => (await searcher.store.byName([name], 1, { withText: true }))[0]!));
}

/** The shop fixture's real reader, telling `record` the fragments and words of each literal lookup. */
function recordingLiteralLookups(record: (fragments: string[], words: string[]) => void): Searcher['store'] {
  const store = searcher.store;
  return Object.create(store, {
    chunksContaining: { value: (fragments: string[], limit: number, words: string[] = []) => (record(fragments, words), store.chunksContaining(fragments, limit, words)) },
  }) as Searcher['store'];
}

describe('context windows for an edit', () => {
  it('holds the definition, its declaration, the type it uses, a caller and the test', async () => {
    const w = await builder.build({ prompt: 'add a discount argument to Cart.total' });
    expect(w.items[0]).toMatchObject({ symbol: 'Shop.Cart.total', reason: 'match' });
    expect(covers(w.items, 'src/cart.ml', 11)).toBe(true); // let total
    expect(covers(w.items, 'src/cart.mli', 16)).toBe(true); // val total
    expect(covers(w.items, 'src/cart.mli', 7)).toBe(true); // type t
    expect(covers(w.items, 'src/checkout.ml', 3)).toBe(true); // the caller, charge
    expect(covers(w.items, 'test/test_cart.ml', 3)).toBe(true); // the test
    expect(w.items.find((i) => i.path === 'test/test_cart.ml')?.reason).toBe('test');
    expect(w.items.find((i) => i.symbol === 'Shop.Cart.line_price')?.reason).toBe('dependency');
    // Items carry the exact source lines of their span.
    expect(w.items.find((i) => where(i) === 'src/cart.ml:11-11')?.text).toBe('let total cart = List.fold_left (fun acc item -> acc + line_price item) 0 cart');
  });

  it('puts the definition at the cursor first, then prefers what is near it', async () => {
    const w = await builder.build({ prompt: 'waive the shipping fee for large orders', file: 'src/checkout.ml', line: 3 });
    expect(w.items[0]).toMatchObject({ reason: 'cursor', symbol: 'Shop.Checkout.charge', startLine: 2, endLine: 5 });
    // charge calls Cart.total: the dependency is in the window.
    expect(covers(w.items, 'src/cart.ml', 11)).toBe(true);
  });

  it('rejects a file that is not in the index and a budget out of range', async () => {
    await expect(builder.build({ prompt: 'x', file: 'src/nope.ml', line: 1 })).rejects.toThrow(ContextRequestError);
    await expect(builder.build({ prompt: 'x', budget: 10 })).rejects.toThrow(/budget must be an integer between/);
  });

  it.each([200, 400, 1000, 3000, 8000, 20000])('stays within a budget of %i tokens, counted exactly, with no line twice', async (budget) => {
    const count = await tokenCounter();
    const w = await builder.build({ prompt: 'add a discount argument to Cart.total', budget });
    expect(w.budget).toBe(budget);
    expect(w.tokens).toBe(count(w.text));
    expect(w.tokens).toBeLessThanOrEqual(budget);
    expect(w.items.length).toBeGreaterThan(0);
    const lines = new Set<string>();
    for (const i of w.items) {
      for (let l = i.startLine; l <= i.endLine; l++) {
        expect(lines.has(`${i.path}:${l}`)).toBe(false);
        lines.add(`${i.path}:${l}`);
      }
    }
  });

  it('brings the future neighbours of a name the prompt wants to add', async () => {
    const siblings = await searcher.store.siblings('Cart', 'total', 10);
    expect(siblings.map((c) => `${c.symbol} ${c.path}`).sort()).toEqual(['Shop.Cart.total src/cart.ml', 'Shop.Cart.total src/cart.mli']);
    expect(await searcher.store.siblings('Checkout', 'total', 10)).toEqual([]);
    const w = await builder.build({ prompt: 'Add Cart.total_with_vat, like the total but with 20% VAT added' });
    expect(covers(w.items, 'src/cart.ml', 11)).toBe(true);
  });

  it('brings the bare names the prompt quotes, from the library of its best match', async () => {
    const { quotedNameSeeds } = await import('../server/context/build.js');
    const others = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`lib${i}/m${i}.ml`, 'let list x = x\n\nlet array x = x\n']));
    const testables = [
      "type 'a t = { pp : Format.formatter -> 'a -> unit; equal : 'a -> 'a -> bool }",
      'let testable pp equal = { pp; equal }',
      'let list e = testable (fun ppf l -> List.iter (e.pp ppf) l) (List.equal e.equal)',
      'let array e = testable (fun ppf a -> Array.iter (e.pp ppf) a) (fun a b -> Array.for_all2 e.equal a b)',
    ];
    const found = await withSearcherOver({ ...others, 'testable/testable.ml': `${testables.join('\n')}\n` }, 'cs-quoted-names-', async (quoted) => {
      const [best] = await quoted.store.byName(['testable'], 1, { withText: true });
      const prompt = 'Add a `Checks.seq` testable next to the existing `list`, `array` and `testable` ones';
      return quotedNameSeeds(quoted.store, prompt, [{ chunk: best!, reason: 'match', score: 1 }]);
    });
    // Of the four `list`s and `array`s, those beside the best match; `testable` is a seed already.
    expect(found.map((s) => `${s.chunk.name} ${s.chunk.path}`)).toEqual(['list testable/testable.ml', 'array testable/testable.ml']);
    expect(found[0]!.score).toBeLessThan(1);
  });

  it('takes a quoted name that no definition near has for a case of a variant there (`warning` for `Warning`)', async () => {
    const { quotedNameSeeds } = await import('../server/context/build.js');
    const files = {
      'optcomp/token.ml': 'type directive = If | Else | Error | Warning\n\nlet of_string = function "if" -> Some If | "warning" -> Some Warning | _ -> None\n',
      'other/warn.ml': 'let warning msg = prerr_endline msg\n',
    };
    const found = await withSearcherOver(files, 'cs-quoted-case-', async (quoted) => {
      const [best] = await quoted.store.byName(['of_string'], 1, { withText: true });
      return quotedNameSeeds(quoted.store, 'add an `info` directive that prints like `warning` does', [{ chunk: best!, reason: 'match', score: 1 }]);
    });
    expect(found.map((s) => `${s.chunk.kind} ${s.chunk.name} ${s.chunk.path}`)).toEqual(['type directive optcomp/token.ml']);
  });

  it('brings what the change is modelled on: the definitions of its file named after it', async () => {
    const { modelFamilySeeds } = await import('../server/context/build.js');
    const client = [
      'class get_call : object end',
      'class put_call : object end',
      'class get : string -> get_call',
      'class put : string -> string -> put_call',
      'val output : string -> unit',
      'module Convenience : sig',
      '  val http_get : string -> string',
      '  val http_put_message : string -> string -> put_call',
      '  val http_put : string -> string -> string',
      'end',
    ];
    const files = { 'net/client.mli': `${client.join('\n')}\n`, 'net/server.mli': 'val serve : int -> unit\n', 'other/store.ml': 'let put k v = (k, v)\n' };
    const [family, none] = await withSearcherOver(files, 'cs-model-family-', async (modelled) => {
      const [best] = await modelled.store.byName(['serve'], 1, { withText: true });
      const seeds = [{ chunk: best!, reason: 'match' as const, score: 1 }];
      return Promise.all([
        modelFamilySeeds(modelled.store, 'Add PATCH support modelled on PUT: a call class, a class taking a URI and a body, and the convenience functions', seeds),
        modelFamilySeeds(modelled.store, 'Add a getter behaving like the existing single accessor', seeds),
      ]);
    });
    // The model first, then fewest name parts, then nearest; not `output`, nor another library's `put`.
    expect(family.map((s) => `${s.chunk.symbol} ${s.chunk.path}`)).toEqual([
      'Client.put net/client.mli',
      'Client.put_call net/client.mli',
      'Client.Convenience.http_put net/client.mli',
      'Client.Convenience.http_put_message net/client.mli',
    ]);
    expect(family[0]!.score).toBeLessThan(1);
    expect(none).toEqual([]);
  });

  it("looks for the model in each best seed's directory: the best match may be another library's (\"the same way the result testable\")", async () => {
    const { modelFamilySeeds } = await import('../server/context/build.js');
    const files = {
      'base/either.ml': "type ('a, 'b) t = First of 'a | Second of 'b\n",
      'alco/test.ml': 'let result ok error = (ok, error)\n\nlet option some = some\n',
      'alco/run.ml': 'let run_tests () = ()\n',
    };
    const found = await withSearcherOver(files, 'cs-model-anchors-', async (s) => {
      const [either, run] = await definitionsNamed(s, ['t', 'run_tests']);
      const seeds = [
        { chunk: either!, reason: 'match' as const, score: 1 },
        { chunk: run!, reason: 'match' as const, score: 0.9 },
      ];
      return modelFamilySeeds(s.store, 'Add a testable for either values that compares and prints them the same way the result testable handles Ok and Error', seeds);
    });
    expect(found.map((m) => `${m.chunk.name} ${m.chunk.path}`)).toEqual(['result alco/test.ml']);
  });

  it('reads "next to X" as naming a model, looked for in the best seed\'s own file first, and not a word of a hyphenated one', async () => {
    const { modelFamilySeeds } = await import('../server/context/build.js');
    // More definitions of `map` in the library than are read, all in files that sort before the seed's.
    const files: Record<string, string> = {
      'lib/result.ml': 'let map x ~f = Ok (f x)\n\nlet map_error x ~f = Error (f x)\n',
      'lib/non.ml': 'let non = 1\n',
    };
    for (let i = 0; i < 60; i++) files[`lib/a${String(i).padStart(2, '0')}.ml`] = 'let map x = x\n';
    const [placed, hyphenated] = await withSearcherOver(files, 'cs-next-to-', async (s) => {
      const [mapError] = await definitionsNamed(s, ['map_error']);
      const seeds = [{ chunk: mapError!, reason: 'match' as const, score: 1 }];
      return Promise.all([
        modelFamilySeeds(s.store, 'Add Result.map_both to the library, next to map and map_error', seeds),
        modelFamilySeeds(s.store, 'Add an indexed partition and document it next to the non-indexed version', seeds),
      ]);
    });
    expect(placed.map((m) => `${m.chunk.name} ${m.chunk.path}`)).toContain('map lib/result.ml');
    expect(placed.some((m) => m.chunk.path.startsWith('lib/a'))).toBe(false);
    expect(hyphenated).toEqual([]);
  });

  it('raises the model when it is a seed already but ranks below what a model scores, and leaves it when it ranks above', async () => {
    const { modelFamilySeeds } = await import('../server/context/build.js');
    const files = { 'lib/opt.ml': 'let map f = function Some x -> Some (f x) | None -> None\n\nlet is_some = function Some _ -> true | None -> false\n' };
    const [low, high] = await withSearcherOver(files, 'cs-model-raised-', async (s) => {
      const [isSome, map] = await definitionsNamed(s, ['is_some', 'map']);
      const prompt = 'Add Opt.filter (like map, but keeps Some v only when the predicate holds)';
      return Promise.all([
        modelFamilySeeds(s.store, prompt, [{ chunk: isSome!, reason: 'match', score: 1 }, { chunk: map!, reason: 'match', score: 0.2 }]),
        modelFamilySeeds(s.store, prompt, [{ chunk: map!, reason: 'match', score: 1 }, { chunk: isSome!, reason: 'match', score: 0.95 }]),
      ]);
    });
    expect(low.map((m) => `${m.chunk.name} ${m.score}`)).toEqual(['map 0.9']);
    expect(high.map((m) => m.chunk.name)).not.toContain('map');
  });

  it('brings the definitions a new name copies: its name with one part the model word ("typerep_of_uchar like the bytes ones")', async () => {
    const { modelFamilySeeds } = await import('../server/context/build.js');
    const files = {
      'rep/std.ml': 'let typerep_of_int = Rep.Int\nlet typerep_of_bytes = Rep.Bytes\nlet typename_of_bytes = "bytes"\nlet typename_of_int = "int"\n',
      'rep/generic.ml': 'let walk rep = rep\n',
      'other/std.ml': 'let typerep_of_bytes = ()\n',
    };
    const found = await withSearcherOver(files, 'cs-analogues-', async (s) => {
      const [best] = await s.store.byName(['walk'], 1, { withText: true });
      return modelFamilySeeds(s.store, 'Teach rep about Uchar.t: provide typerep_of_uchar and typename_of_uchar like the bytes ones', [{ chunk: best!, reason: 'match', score: 1 }]);
    });
    expect(found.map((s) => `${s.chunk.name} ${s.chunk.path}`).sort()).toEqual(['typename_of_bytes rep/std.ml', 'typerep_of_bytes rep/std.ml']);
  });

  it("brings the members of a seed's module that the prompt's words name, abbreviated or prefixed ones too", async () => {
    const { memberSeeds } = await import('../server/context/build.js');
    const builder = [
      'module Default = struct',
      '  let eint ~loc i = Const.int ~loc i',
      '  let efloat ~loc f = Const.float ~loc f',
      '  let pfloat ~loc f = Const.float_pattern ~loc f',
      '  let op_prec = function Plus -> 10 | Times -> 20',
      '  let estring ~loc s = Const.string ~loc s',
      '  module Nested = struct let float ~loc f = f end',
      'end',
      '',
      'let floaty x = x',
    ];
    const files = { 'ast/builder.ml': `${builder.join('\n')}\n`, 'ast/other.ml': 'let efloat x = x\n' };
    const [floats, precedence, none] = await withSearcherOver(files, 'cs-members-', async (s) => {
      const [module] = await s.store.byName(['Default'], 1, { withText: true });
      const seeds = [{ chunk: module!, reason: 'match' as const, score: 1 }];
      return Promise.all([
        memberSeeds(s.store, 'Add a helper that builds a float literal straight from an OCaml float', seeds),
        memberSeeds(s.store, 'Give the new operator its precedence', seeds),
        memberSeeds(s.store, 'Add a helper that builds a list literal', seeds),
      ]);
    });
    // The module's own values, shortest names first: not a nested module's, another file's, or the file's top level.
    expect(floats.map((m) => `${m.chunk.symbol} ${m.chunk.path}`)).toEqual(['Builder.Default.efloat ast/builder.ml', 'Builder.Default.pfloat ast/builder.ml']);
    expect(floats[0]!.score).toBeLessThan(1);
    expect(precedence.map((m) => m.chunk.name)).toEqual(['op_prec']);
    expect(none).toEqual([]);
  });

  it('brings the variant type of a value that is one of its constructors, and what matches on the type', async () => {
    const rep = [
      'type _ t =\n  | Int : int t\n  | Bytes : bytes t\n  | Bool : bool t',
      'let typename_of_t : type a. a t -> string = function\n  | Int -> "int"\n  | Bytes -> "bytes"\n  | Bool -> "bool"',
      'let typerep_of_bytes = Bytes',
      'let typerep_of_one_int = [ Int ]',
    ];
    const brought = await withSearcherOver({ 'rep/std.ml': `${rep.join('\n\n')}\n` }, 'cs-constructor-alias-', async (s) => {
      const seeds = await definitionsNamed(s, ['typerep_of_bytes', 'typerep_of_one_int']);
      return Promise.all(seeds.map((chunk) => expand([{ chunk, reason: 'match', score: 1 }], s.store)));
    });
    const [alias, other] = brought.map((window) => window.filter((c) => !c.seed).map((c) => c.chunk.name));
    expect(alias).toEqual(expect.arrayContaining(['t', 'typename_of_t']));
    // Building one constructor among other code names no type to change.
    expect(other).not.toContain('typename_of_t');
  });

  it('explores the definitions a change copies with the best seeds: the type behind a constructor alias', async () => {
    const files: Record<string, string> = {
      'rep/std.ml': 'type _ t =\n  | Int : int t\n  | Str : string t\n\nlet name_of_t : type a. a t -> string = function\n  | Int -> "int"\n  | Str -> "str"\n\nlet str_rep = Str\n',
      'rep/teach.ml': '(** Teach rep about uchar: the typerep and typename of uchar. *)\nlet teach_uchar_typerep_typename () = ()\n',
    };
    // More definitions than the window has seeds match the prompt better than the one it copies.
    for (let i = 0; i < 20; i++) files[`other/u${i}.ml`] = `(** Teach rep about uchar ${i}: provide its rep and str one. *)\nlet uchar_helper_${i} x = x\n`;
    const window = await withSearcherOver(files, 'cs-explore-copied-', async (s) => (await ContextBuilder.create(s)).build({ prompt: 'Teach rep about uchar: provide uchar_rep like the str one' }));
    expect(covers(window.items, 'rep/std.ml', 9)).toBe(true); // str_rep, the copied definition
    expect(covers(window.items, 'rep/std.ml', 5)).toBe(true); // name_of_t, matching on its type
  });

  it('brings the variants of a quoted compound name in its file, one part swapped', async () => {
    const { oneSwapSeeds } = await import('../server/context/build.js');
    const pp = [
      'let prlist_with_sep sep pr l = List.map pr l',
      'let prlist_sep_lastsep sep last pr l = List.map pr l',
      'let prvect_with_sep sep pr a = Array.map pr a',
      'let prvecti_with_sep sep pr a = Array.mapi pr a',
      'let prvecti pr a = Array.mapi pr a',
    ];
    const found = await withSearcherOver({ 'lib/pp.ml': `${pp.join('\n\n')}\n`, 'other/fmt.ml': 'let prlist_with_sep = ()\n' }, 'cs-one-swap-', async (s) => {
      const [quoted] = await s.store.byName(['prvecti_with_sep'], 1, { withText: true });
      const prompt = 'Add a list counterpart of `prvecti_with_sep` that passes each index, declared next to the list separator printer';
      return oneSwapSeeds(s.store, prompt, [{ chunk: quoted!, reason: 'match', score: 1 }]);
    });
    expect(found.map((s) => `${s.chunk.name} ${s.chunk.path}`)).toEqual(['prvect_with_sep lib/pp.ml', 'prlist_with_sep lib/pp.ml']);
  });

  it('brings a short value right after a seed in its file, not one further down or a long one', async () => {
    const warnings = [
      'type t = Unused_var | Missing_mli',
      'let number = function\n  | Unused_var -> 1\n  | Missing_mli -> 2\n;;',
      'let last_warning_number = 2\n;;',
      'let other_constant = 3',
      'let message = function\n  | Unused_var -> "unused"\n  | Missing_mli -> "missing"',
      'let after_message = function\n  | Unused_var -> true\n  | Missing_mli -> false',
    ];
    const brought = await withSearcherOver({ 'utils/warnings.ml': `${warnings.join('\n\n')}\n` }, 'cs-trailing-', async (s) => {
      const seeds = await definitionsNamed(s, ['number', 'message']);
      return expand(seeds.map((chunk) => ({ chunk, reason: 'match' as const, score: 1 })), s.store);
    });
    const trailing = brought.filter((c) => c.reason === 'dependency').map((c) => c.chunk.name);
    expect(trailing).toContain('last_warning_number');
    expect(trailing).not.toContain('other_constant');
    expect(trailing).not.toContain('after_message');
  });

  it('brings where the library re-exports a seed, and not a namesake of another module', async () => {
    const files = {
      'lib/out_channel.ml': 'let print_string s = output_string stdout s\n\nlet print_endline s = print_string s; print_newline ()\n',
      'lib/out_channel.mli': 'val print_string : string -> unit\nval print_endline : string -> unit\n',
      'lib/stdio.ml': 'let print_endline = Out_channel.print_endline\nlet print_string = Out_channel.print_string\n',
      'lib/stdio.mli': 'val print_endline : string -> unit\nval print_string : string -> unit\n',
      'lib/fmt.ml': 'let print_string = Format.print_string\n',
    };
    const brought = await withSearcherOver(files, 'cs-re-export-', async (s) => {
      const [seed] = await s.store.byName(['print_string'], 1, { pathPrefix: 'lib/out_channel.ml', withText: true });
      return expand([{ chunk: seed!, reason: 'match', score: 1 }], s.store);
    });
    const places = brought.map((c) => `${c.reason} ${c.chunk.path}:${c.chunk.startLine}`);
    expect(places).toContain('definition lib/stdio.ml:2');
    expect(places).toContain('signature lib/stdio.mli:2');
    expect(places.filter((p) => p.includes('fmt.ml') || p.endsWith('stdio.ml:1'))).toEqual([]);
  });

  it("brings the definition a declaration's .ml takes from an include, of a module of its directory or its own file", async () => {
    const files = {
      'lib/list1.ml': 'let partition_map t ~f = List.partition_map f t\n\nlet is_empty = function [] -> true | _ -> false\n',
      'lib/list.ml': 'include List1\n\nlet length l = List.length l\n',
      'lib/list.mli': "val partition_map : 'a list -> f:('a -> ('b, 'c) Either.t) -> 'b list * 'c list\nval length : 'a list -> int\n",
      'lib/other.ml': 'let partition_map x = x\n',
      'lib/lwt.ml': 'module Composition : sig\n  val join : unit list -> unit\nend = struct\n  let join ps = List.iter ignore ps\nend\n\ninclude Composition\n',
      'lib/lwt.mli': 'val join : unit list -> unit\n',
    };
    const { db } = await indexedFiles(files, 'cs-include-');
    await withEachSearcher(db, async (s) => {
      const seeds = await Promise.all(['lib/list.mli', 'lib/lwt.mli'].map(async (file) => (await s.store.byName(['partition_map', 'join'], 1, { pathPrefix: file, withText: true }))[0]!));
      // Twice: the resident reader answers the second from what it kept.
      await expand(seeds.map((chunk) => ({ chunk, reason: 'match' as const, score: 1 })), s.reader);
      const brought = await expand(seeds.map((chunk) => ({ chunk, reason: 'match' as const, score: 1 })), s.reader);
      const definitions = brought.filter((c) => c.reason === 'definition').map((c) => `${c.chunk.path}:${c.chunk.startLine}`);
      expect(definitions).toContain('lib/list1.ml:1');
      expect(definitions).toContain('lib/lwt.ml:4');
      // Not a namesake of a module the .ml does not include, nor the included module's own `val`.
      expect(definitions).not.toContain('lib/other.ml:1');
      expect(definitions).not.toContain('lib/lwt.ml:2');
    });
  });

  it("brings the other file's copy of a type the signature names when it lists its cases, not of an abstract one", async () => {
    const files = {
      'lib/value.mli': 'type t = Int of int | Quoted of string\n\ntype env\n\nval gen : env -> (string * t) list -> string\n',
      'lib/value.ml': 'type t = Int of int | Quoted of string\n\ntype env = { dir : string; name : string }\n\nlet gen _env defs = String.concat "\\n" (List.map fst defs)\n',
    };
    const brought = await withSearcherOver(files, 'cs-type-copy-', async (s) => {
      const [seed] = await s.store.byName(['gen'], 1, { pathPrefix: 'lib/value.mli', withText: true });
      return expand([{ chunk: seed!, reason: 'match', score: 1 }], s.store);
    });
    const places = brought.map((c) => `${c.reason} ${c.chunk.path}:${c.chunk.startLine}`);
    expect(places).toContain('type lib/value.mli:1');
    expect(places).toContain('definition lib/value.ml:1');
    expect(places).not.toContain('definition lib/value.ml:3');
  });

  it("brings a converter's other direction in its module, with its declaration, for a seed past the explored ones too", async () => {
    const files = {
      'lib/conv.mli': "val option_of_sexp : (sexp -> 'a) -> sexp -> 'a option\nval sexp_of_option : ('a -> sexp) -> 'a option -> sexp\nval of_string : string -> t\nval to_string : t -> string\n",
      'lib/conv.ml':
        "let option_of_sexp f = function List [] -> None | List [ x ] -> Some (f x) | _ -> failwith \"option\"\n\nmodule Inner = struct\n  let sexp_of_option _ = Atom \"inner\"\nend\n\nlet sexp_of_option f = function Some x -> List [ f x ] | None -> List []\n\nlet of_string s = Atom s\nlet to_string = function Atom s -> s | List _ -> \"\"\n",
      'lib/other.ml': 'let sexp_of_option _ = Atom "other"\n',
    };
    const { db } = await indexedFiles(files, 'cs-inverse-');
    await withEachSearcher(db, async (s) => {
      const [seed] = await s.store.byName(['option_of_sexp'], 1, { pathPrefix: 'lib/conv.ml', lang: 'ml', withText: true });
      const [toString] = await s.store.byName(['to_string'], 1, { pathPrefix: 'lib/conv.ml', lang: 'ml', withText: true });
      // Low seeds, past the ones whose neighbourhood is explored, still bring their inverse.
      const fillers = Array.from({ length: EXPANDED_SEEDS }, (_, i) => ({ chunk: { ...seed!, id: `filler-${i}` }, reason: 'match' as const, score: 2 }));
      const brought = await expand([...fillers, { chunk: seed!, reason: 'match', score: 1 }, { chunk: toString!, reason: 'match', score: 1 }], s.reader);
      const places = brought.filter((c) => !c.seed).map((c) => `${c.reason} ${c.chunk.path}:${c.chunk.startLine}`);
      expect(places).toContain('definition lib/conv.ml:7');
      expect(places).toContain('signature lib/conv.mli:2');
      expect(places).toContain('definition lib/conv.ml:9');
      // Only the seed's own module's: not a namesake in a nested module or another file.
      expect(places.filter((p) => p.endsWith('conv.ml:4') || p.includes('other.ml'))).toEqual([]);
    });
    // A converter the window holds as a caller brings its other direction too.
    const callerFiles = { 'lib/code.ml': 'let describe s = String.length s\n\nlet code_of_status s = describe s + 1\n\nlet unrelated x = x\n\nlet status_of_code c = string_of_int c\n' };
    const fromCaller = await withSearcherOver(callerFiles, 'cs-inverse-caller-', async (s) => {
      const [describe] = await definitionsNamed(s, ['describe']);
      return expand([{ chunk: describe!, reason: 'match', score: 1 }], s.reader);
    });
    const callerPlaces = fromCaller.map((c) => `${c.reason} ${c.chunk.name}`);
    expect(callerPlaces).toContain('caller code_of_status');
    expect(callerPlaces).toContain('definition status_of_code');
    const { inverseName } = await import('../server/context/expand.js');
    expect(['option_of_sexp', 'sexp_of_t', 'of_string', 'to_json', 'offset', 'to', 'map'].map(inverseName)).toEqual(['sexp_of_option', 't_of_sexp', 'to_string', 'of_json', undefined, undefined, undefined]);
  });

  it("brings the other converters of a type its file defines, not every converter of a word that is no type there", async () => {
    const files = {
      'lib/http.mli':
        'type status = [ `Ok | `Not_found ]\nval int_of_status : status -> int\nval status_of_int : int -> status\nval string_of_status : status -> string\nval string_of_meth : meth -> string\n',
      'lib/sexp_conv.ml': 'let sexp_of_list f l = List (List.map f l)\nlet sexp_of_int i = Atom (string_of_int i)\n\n\n\n\nlet sexp_of_option f = function Some x -> f x | None -> Atom "none"\n',
    };
    const { db } = await indexedFiles(files, 'cs-converters-');
    await withEachSearcher(db, async (s) => {
      const [status, option] = await definitionsNamed(s, ['int_of_status', 'sexp_of_option']);
      const brought = await expand([{ chunk: status!, reason: 'match', score: 1 }, { chunk: option!, reason: 'match', score: 1 }], s.reader);
      const names = brought.filter((c) => !c.seed).map((c) => c.chunk.name);
      expect(names).toContain('status_of_int');
      expect(names).toContain('string_of_status');
      // Another type's converter, and `sexp`, which is no type of its file.
      expect(names).not.toContain('string_of_meth');
      expect(names.filter((n) => n.startsWith('sexp_of_'))).toEqual([]);
    });
  });

  it('explores the module a prompt names in code before better-worded definitions of other modules', async () => {
    const files = {
      'lwt/lwt_list.ml': 'let map_s f l = List.map f l\n\nlet map_p f l = List.rev (List.rev_map f l)\n',
      'other/seqs.ml':
        '(** Sequential and concurrent concat map of versions. *)\nlet concat_map_versions f l = List.concat_map f l\n\n(** Sequential map of versions. *)\nlet sequential_map_versions f l = List.map f l\n',
    };
    const window = await withSearcherOver(files, 'cs-named-module-', async (s) => (await ContextBuilder.create(s)).build({ prompt: 'Lwt_list has sequential and concurrent versions of map. Add concat_map_s and concat_map_p to it.' }));
    const first = (path: string) => window.items.findIndex((i) => i.path === path);
    expect(first('lwt/lwt_list.ml')).toBeGreaterThanOrEqual(0);
    expect(first('lwt/lwt_list.ml')).toBeLessThan(first('other/seqs.ml'));
    // Without a module of that name in the index, the prompt names none: every seed as found.
    const unnamed = await withSearcherOver(files, 'cs-named-module-none-', async (s) => (await ContextBuilder.create(s)).build({ prompt: 'Lwt_seq has sequential and concurrent versions of map. Add concat_map_s and concat_map_p to it.' }));
    expect(unnamed.items[0]?.path).toBe('other/seqs.ml');
  });

  it('drops the instruction verb of an imperative prompt from the search', () => {
    expect(searchableQuery('Add List.concat_mapi to Stdlib.List')).toBe('List.concat_mapi to Stdlib.List');
    expect(searchableQuery('how do I add an element')).toBe('how do I add an element');
  });
});

describe('quoted messages are looked for literally', () => {
  it('finds the definition that prints a quoted message, placeholders and all', async () => {
    const [first] = await searcher.searchRanked("who fails with 'negative amount' at checkout", { explain: true });
    expect(first?.chunk.symbol).toBe('Shop.Checkout.charge');
    expect(first?.trace.some(([what]) => what === 'literal')).toBe(true);
    // Unquoted, the same words are only words.
    const [plain] = await searcher.searchRanked('who fails with negative amount at checkout', { explain: true });
    expect(plain?.trace.some(([what]) => what === 'literal')).toBe(false);
    const { literalFragments } = await import('../server/retrieve/literal.js');
    expect(literalFragments('The constructor X expects N argument(s)')).toEqual(['The constructor', 'expects', 'argument(s)']);
    // Whole words only: the quote's own first and last word may be cut (`nstructor`), not those at placeholders.
    const { literalWords } = await import('../server/retrieve/literal.js');
    expect(literalWords('The constructor X expects N argument(s)')).toEqual(['constructor', 'expects', 'argument', 's']);
    expect(literalWords('nstructor X expects N argumen')).toEqual(['expects']);
    expect(literalWords('foo X bar baz qux')).toEqual(['bar', 'baz']);
    const { parseQuery } = await import('../server/query.js');
    expect(parseQuery("Base's result type").phrases).toEqual([]);
    expect(parseQuery('fix "Unbound value foo" in the build').phrases).toEqual(['Unbound value foo']);
  });

  it('reads code in quotes as code, not as a message to look for', async () => {
    const { parseQuery } = await import('../server/query.js');
    const phrases = (prompt: string) => parseQuery(prompt).phrases;
    expect(phrases('`[@@deriving variants]` on `type a = ... and b = ...` fails with "ppx_variants_conv: not supported"')).toEqual(['ppx_variants_conv: not supported']);
    expect(phrases("Add `Stack.drop : 'a t -> unit`, like `pop` but raising `Empty` when empty")).toEqual([]);
    expect(phrases('store it in a new `install_dir : string option` field of `{ len : int; max : int }` for `\'a Seq.t`')).toEqual([]);
    // A message's own colon has no space before it; a quote without a word is data.
    expect(phrases('fails with "error: not supported" on "(a (b c))" and \'.\', \'[\'')).toEqual(['error: not supported']);
    // The most wordy quotes are looked for, not the first two.
    const { literalRetriever } = await import('../server/retrieve/literal.js');
    const asked: string[][] = [];
    const recording = recordingLiteralLookups((fragments) => asked.push(fragments));
    const prompt = "`--enable x` and `--disable x` fail with 'negative amount' at checkout";
    const found = await literalRetriever.retrieve(parseQuery(prompt), { store: recording, shown: 10 }, 10);
    expect(found.map((c) => c.chunk?.symbol)).toContain('Shop.Checkout.charge');
    expect(asked[0]).toEqual(['negative amount']);
  });

  it('looks for a quoted command-line option where the code spells it as a string', async () => {
    const { parseQuery } = await import('../server/query.js');
    const { literalFragments } = await import('../server/retrieve/literal.js');
    expect(parseQuery('add an `-install-dir` option, rejected if given twice like `-docroot`').phrases).toEqual(['-install-dir', '-docroot']);
    expect(literalFragments('--docroot')).toEqual(['"--docroot"']);
    const files = {
      'src/cli.ml': 'let rec parse proj = function\n  | "-docroot" :: p :: r -> parse { proj with docroot = Some p } r\n  | _ :: r -> parse proj r\n  | [] -> proj\n',
      'src/doc.ml': '(* the docroot is where -docroot points *)\nlet docroot_default = "."\n',
    };
    const [first] = await withSearcherOver(files, 'cs-flag-', (flags) => flags.searchRanked('reject a second `-docroot` given', { explain: true }));
    expect(first?.chunk.name).toBe('parse');
    expect(first?.trace.some(([what]) => what === 'literal')).toBe(true);
  });

  it('takes a quote as whole words first, and as cut at its edges only when that finds nothing', async () => {
    const { literalRetriever } = await import('../server/retrieve/literal.js');
    const { parseQuery } = await import('../server/query.js');
    // The words each lookup is narrowed by.
    const asked: string[][] = [];
    const recording = recordingLiteralLookups((_, words) => asked.push(words));
    const found = async (prompt: string) => (await literalRetriever.retrieve(parseQuery(prompt), { store: recording, shown: 10 }, 10)).map((c) => c.chunk?.symbol);
    expect(await found("who fails with 'negative amount' at checkout")).toContain('Shop.Checkout.charge');
    // Both words narrow the one lookup: with none left, every definition's text was scanned.
    expect(asked).toEqual([['negative', 'amount']]);
    asked.length = 0;
    expect(await found("who fails with 'egative amoun' at checkout")).toContain('Shop.Checkout.charge');
    expect(asked).toEqual([['egative', 'amoun'], []]);
  });

  it('reads a quoted name inside a quoted message as a placeholder, as the code spells it (%S, \\"%s\\")', async () => {
    const { parseQuery } = await import('../server/query.js');
    const { literalFragments } = await import('../server/retrieve/literal.js');
    const prompt = `make the 'File "f", line N, characters a-b:' header say lines N-M for a range over several lines`;
    expect(parseQuery(prompt).phrases).toEqual(['File "f", line N, characters a-b:']);
    expect(literalFragments('File "f", line N, characters a-b:')).toEqual(['File', ', line', ', characters']);
    expect(literalFragments('Library "foo" not found')).toEqual(['Library', 'not found']);
    const { db } = await indexedFiles(
      {
        'src/where.ml': 'let header file line c1 c2 = Printf.sprintf "File \\"%s\\", line %d, characters %d-%d:" file line c1 c2\n\nlet other file = Printf.sprintf "in file %s" file\n',
        'src/lib.ml': 'let missing name = failwith (Printf.sprintf "Library %S not found" name)\n',
      },
      'cs-quoted-',
    );
    const quoted = await Searcher.open(db);
    try {
      const [first] = await quoted.searchRanked(prompt, { explain: true });
      expect(first?.chunk.name).toBe('header');
      expect(first?.trace.some(([what]) => what === 'literal')).toBe(true);
      const [library] = await quoted.searchRanked('where is \'Library "dune" not found\' raised', { explain: true });
      expect(library?.chunk.name).toBe('missing');
      expect(library?.trace.some(([what]) => what === 'literal')).toBe(true);
    } finally {
      quoted.close();
    }
  });
});

describe('packToBudget', () => {
  const chunk = (id: string, start: number, end: number, lines: string[]) => ({
    id,
    path: 'a.ml',
    lang: 'ml' as const,
    startLine: start,
    endLine: end,
    name: id,
    symbol: `A.${id}`,
    kind: 'value' as const,
    doc: '',
    text: lines.join('\n'),
    part: 0,
    parts: 0,
    depth: 0,
    counterpart: '',
    rawScore: 0,
  });

  it('merges overlapping and adjacent spans of a file into one, keeping every line once', async () => {
    const count = await tokenCounter();
    const w = packToBudget(
      [
        { chunk: chunk('f', 1, 3, ['let f x =', '  x', '  + 1']), reason: 'match', score: 1, seed: true },
        { chunk: chunk('g', 4, 5, ['let g y =', '  f y']), reason: 'caller', score: 0.5, seed: false },
        { chunk: chunk('h', 2, 3, ['  x', '  + 1']), reason: 'dependency', score: 0.4, seed: false },
      ],
      1000,
      count,
    );
    expect(w.items).toHaveLength(1);
    expect(w.items[0]).toMatchObject({ startLine: 1, endLine: 5, reason: 'match', alsoReasons: ['caller', 'dependency'] });
    expect(w.items[0]!.text).toBe('let f x =\n  x\n  + 1\nlet g y =\n  f y');
  });

  it('keeps the adjacent parts of a long definition as blocks of their own', async () => {
    const count = await tokenCounter();
    const lines = (n: number, from: number) => Array.from({ length: n }, (_, i) => `  step ${from + i};`);
    const w = packToBudget(
      [
        { chunk: chunk('long-1', 1, 150, ['let long () =', ...lines(149, 2)]), reason: 'match', score: 1, seed: true },
        { chunk: chunk('long-2', 151, 240, lines(90, 151)), reason: 'match', score: 0.9, seed: true },
        { chunk: chunk('next', 241, 242, ['let next () =', '  long ()']), reason: 'caller', score: 0.5, seed: false },
      ],
      20_000,
      count,
    );
    expect(w.items.map(where)).toEqual(['a.ml:1-150', 'a.ml:151-242']);
  });

  it('takes at most MAX_ITEMS_PER_FILE of what the seeds bring from a file, however many seeds it holds', async () => {
    const count = await tokenCounter();
    // Seeds and what they bring, three lines apart: no two spans join.
    const at = (i: number, reason: 'match' | 'caller', seed: boolean) => ({ chunk: chunk(`${reason}${i}`, 3 * i + 1, 3 * i + 1, [`let ${reason}${i} = ${i}`]), reason, score: 1 - i / 100, seed });
    const seeds = Array.from({ length: MAX_ITEMS_PER_FILE + 1 }, (_, i) => at(i, 'match', true));
    const brought = Array.from({ length: MAX_ITEMS_PER_FILE + 2 }, (_, i) => at(MAX_ITEMS_PER_FILE + 1 + i, 'caller', false));
    const w = packToBudget([...seeds, ...brought], 20_000, count);
    expect(w.items.filter((i) => i.reason === 'match')).toHaveLength(MAX_ITEMS_PER_FILE + 1);
    expect(w.items.filter((i) => i.reason === 'caller')).toHaveLength(MAX_ITEMS_PER_FILE);
  });

  it('cuts a definition that does not fit to its head instead of dropping it', async () => {
    const count = await tokenCounter();
    const body = Array.from({ length: 200 }, (_, i) => `  let v${i} = compute_something_long ${i} in`);
    const long = chunk('big', 10, 212, ['let big x =', ...body, '  x']);
    const w = packToBudget([{ chunk: long, reason: 'match', score: 1, seed: true }], 120, count);
    expect(w.items).toHaveLength(1);
    expect(w.items[0]).toMatchObject({ startLine: 10, endLine: 10, truncated: true, text: 'let big x =' });
    expect(w.tokens).toBeLessThanOrEqual(120);
    expect(head({ ...w.items[0]!, text: 'type t = int', endLine: 10 })).toBeUndefined();
  });

  it.each(['o200k_base', 'cl100k_base'] as const)('counts a window as exactly the sum of its blocks (%s)', async (encoding) => {
    const count = await tokenCounter(encoding);
    // Texts that end and start the ways that could join pre-tokens across a block boundary.
    const texts = ['let f x = x;;', 'let p = "a/b/"', '(* trailing *)   ', 'let x =\n\n', '  let indented = 1', 'let u = "\u00e9t\u00e9" (* \u2192 *)', '/', 'x\r\n', '```', '12345', "let s = 'a'"];
    const candidates = texts.map((t, i) => ({ chunk: { ...chunk(`v${i}`, 10 * i + 1, 10 * i + 2, [t]), path: `f${i % 3}.ml` }, reason: 'match' as const, score: 1 - i / 100, seed: true }));
    for (const budget of [40, 90, 200, 1000]) {
      const w = packToBudget(candidates, budget, count);
      expect(w.tokens).toBe(count(w.text));
      expect(w.tokens).toBeLessThanOrEqual(budget);
    }
  });

  it('keeps the counts of recent texts, least recently used out first, long texts never', async () => {
    const { memoized } = await import('../server/context/tokens.js');
    const exact = await tokenCounter();
    const counted: string[] = [];
    const count = memoized((text) => (counted.push(text), exact(text)), 30, 12);
    const texts = ['let a = 1', 'let b = 22', 'let c = 333', 'let long_name = 4444'];
    for (const t of texts) expect(count(t)).toBe(exact(t));
    expect(count('let c = 333')).toBe(exact('let c = 333'));
    expect(count('let b = 22')).toBe(exact('let b = 22'));
    // 9 + 10 + 11 characters fill the 30; the long text was not kept, so it is counted again.
    expect(count('let long_name = 4444')).toBe(exact('let long_name = 4444'));
    expect(counted).toEqual([...texts, 'let long_name = 4444']);
    count('let d = 5'); // pushes out the least recently used, `let a = 1`
    count('let a = 1');
    expect(counted.slice(-2)).toEqual(['let d = 5', 'let a = 1']);
  });

  it('mergeSpans of a contained span adds its reason and no lines', () => {
    const outer = { path: 'a.ml', startLine: 1, endLine: 9, name: 'M', symbol: 'M', kind: 'module', score: 1, reason: 'match' as const, text: 'x' };
    const inner = { ...outer, startLine: 3, endLine: 4, reason: 'dependency' as const, text: 'y' };
    expect(mergeSpans(outer, inner)).toMatchObject({ startLine: 1, endLine: 9, text: 'x', alsoReasons: ['dependency'] });
  });
});

describe('a quoted error message', () => {
  let searcher: Searcher;
  beforeAll(async () => {
    const { db } = await indexedFixture('shop', {
      'src/check.ml': [
        'type error =',
        '  | Arity_mismatch of string * int * int',
        '  | Unknown_name of string',
        '',
        'exception Error of error',
        '',
        'let report_error ppf = function',
        '  | Unknown_name name -> Format.fprintf ppf "Unbound name %s" name',
        '  | Arity_mismatch (name, expected, got) ->',
        '      Format.fprintf ppf "The function %s expects %d argument(s), but is here applied to %d" name expected got',
        '',
        'let check_call name expected args =',
        '  let got = List.length args in',
        '  if got <> expected then raise (Error (Arity_mismatch (name, expected, got)))',
        '',
      ].join('\n'),
    });
    searcher = await Searcher.open(db);
  });
  afterAll(() => searcher?.close());

  it('brings where the constructor of the arm that prints it is built', async () => {
    const builder = await ContextBuilder.create(searcher);
    const w = await builder.build({ prompt: "Make the 'The function X expects N argument(s)' error also say where the function is defined" });
    const reasons = (name: string) => w.items.filter((i) => i.name === name).map((i) => i.reason);
    expect(reasons('report_error')).toContain('match');
    expect(reasons('check_call')).toEqual(['caller']);
  });
});

describe('where a change lands', () => {
  let searcher: Searcher;
  // Six independent definitions of one file match the request; fourteen other files match it
  // once each, a little less well. A search list shows three of a file; a window's seeds are not
  // cut that way, since the file holding the best hits is where the change goes.
  const warnings = ['type t = Unused_var | Unused_open', 'let number = function Unused_var -> 1 | Unused_open -> 2', ...['last_warning_number = 2', 'warning_descriptions = [ (1, "unused variable"); (2, "unused open") ]', 'warning_letters = "ab"', 'warning_default_set = "+a-b"'].map((d) => `let ${d}`)];
  const others = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`src/other${i}.ml`, `(** The warning of check ${i}. *)\nlet other${i} x = x + ${i}\n`]));
  beforeAll(async () => {
    const { db } = await indexedFiles({ 'src/warnings.ml': `${warnings.join('\n\n')}\n`, ...others }, 'cs-where-');
    searcher = await Searcher.open(db);
  });
  afterAll(() => searcher?.close());

  it("seeds a window with more of the best file's matches than a search list shows", async () => {
    const prompt = 'add a new warning: its number, letters, descriptions and default set';
    const listed = await searcher.search(searchableQuery(prompt), { k: 16 });
    expect(listed.filter((r) => r.path === 'src/warnings.ml')).toHaveLength(3);
    const w = await (await ContextBuilder.create(searcher)).build({ prompt });
    for (const name of ['last_warning_number', 'warning_descriptions', 'warning_letters', 'warning_default_set']) {
      expect(w.items.some((i) => i.path === 'src/warnings.ml' && i.text.includes(`let ${name} =`))).toBe(true);
    }
  });
});

describe('a definition the prompt names in code', () => {
  it('is a seed even when the prose matches many other definitions better', async () => {
    // Twenty definitions over three files say what the prompt says; the type it names says none of it.
    const wordy = (f: number) =>
      Array.from({ length: 8 }, (_, i) => `(** Keeps why parsing failed in a parse error, so callers can match on it instead of on the message string. *)\nlet parsing_failed_${f}_${i} reason = "parsing failed: " ^ reason`).join('\n\n');
    const { db } = await indexedFiles(
      {
        'src/parse_error.ml': 'type t = { position : int; text : string; line : int }\n\nlet position t = t.position\n\nlet at ~line position = { position; text = ""; line }\n',
        'src/parse_error.mli': 'type t\n\nval position : t -> int\n',
        ...Object.fromEntries([0, 1, 2].map((f) => [`src/report${f}.ml`, `${wordy(f)}\n`])),
      },
      'cs-named-',
    );
    const searcher = await Searcher.open(db);
    try {
      const prompt = 'keep why parsing failed in Parse_error.t so callers can match on it instead of on the message string';
      const listed = await searcher.search(searchableQuery(prompt), { k: 16, perFile: 8 });
      expect(listed.some((r) => r.path.startsWith('src/parse_error.'))).toBe(false);
      const w = await (await ContextBuilder.create(searcher)).build({ prompt });
      expect(w.items.find((i) => i.path === 'src/parse_error.ml' && i.name === 't')?.reason).toBe('match');
      // Explored first, as what the change is about: what builds the record comes with it.
      expect(w.items.find((i) => i.path === 'src/parse_error.ml' && i.name === 'at')?.reason).toBe('caller');
    } finally {
      searcher.close();
    }
  });
});

describe('a new function the prompt gives a type', () => {
  it('brings the existing functions of a like type from the module it names, whatever their names', async () => {
    // Twenty definitions elsewhere share more words with the prompt than the module's own do.
    const others = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`lib/seqs${i}.ml`, `(** Compares sequences element by element, seq ${i}. *)\nlet compare_seq${i} a b = Seq.equal ( = ) a b\n`]),
    );
    const { db } = await indexedFiles(
      {
        'src/check.mli': "type 'a testable\n\nval int : int testable\n\nval list : 'a testable -> 'a list testable\n\nval pair : 'a testable -> 'b testable -> ('a * 'b) testable\n",
        'src/check.ml': "type 'a testable = { eq : 'a -> 'a -> bool }\n\nlet int = { eq = Int.equal }\n\nlet list t = { eq = List.equal t.eq }\n\nlet pair a b = { eq = (fun (x, y) (x', y') -> a.eq x x' && b.eq y y') }\n",
        ...others,
      },
      'cs-alike-',
    );
    const searcher = await Searcher.open(db);
    try {
      const prompt = "Add Check.seq : 'a testable -> 'a Seq.t testable that compares sequences element by element";
      const seeds = await searcher.search(searchableQuery(prompt), { k: 16 });
      expect(seeds.some((r) => r.name === 'list')).toBe(false);
      const w = await (await ContextBuilder.create(searcher)).build({ prompt });
      expect(covers(w.items, 'src/check.mli', 5)).toBe(true); // val list
      expect(covers(w.items, 'src/check.ml', 5)).toBe(true); // let list
      expect(w.items.some((i) => i.name === 'pair')).toBe(false);
    } finally {
      searcher.close();
    }
  });
});

describe('a change to an exception', () => {
  it('brings the definitions of its file that raise and print it, the unnamed printer too', async () => {
    const { db } = await indexedFiles(
      {
        'src/guard.ml': [
          'exception Cleanup_failed of exn',
          '',
          'let () = Printexc.register_printer (function Cleanup_failed e -> Some ("cleanup: " ^ Printexc.to_string e) | _ -> None)',
          '',
          'let run ~cleanup work = match work () with',
          '  | v -> (try cleanup () with e -> raise (Cleanup_failed e)); v',
          '',
          'let unrelated x = x + 1',
          '',
        ].join('\n'),
        'src/guard.mli': "exception Cleanup_failed of exn\n\nval run : cleanup:(unit -> unit) -> (unit -> 'a) -> 'a\n",
      },
      'cs-exn-',
    );
    const searcher = await Searcher.open(db);
    try {
      const w = await (await ContextBuilder.create(searcher)).build({ prompt: 'the Cleanup_failed exception should also carry the exception the work raised' });
      const reasonOf = (line: number) => w.items.find((i) => i.path === 'src/guard.ml' && i.startLine <= line && line <= i.endLine)?.reason;
      expect(reasonOf(1)).toBe('match');
      expect(reasonOf(3)).toBe('caller'); // the printer
      expect(['caller', 'match']).toContain(reasonOf(5)); // where it is raised
    } finally {
      searcher.close();
    }
  });
});

describe('a test to add', () => {
  it("brings where the function's test is run, so the new test is registered beside it", async () => {
    const { db } = await indexedFiles(
      {
        'src/opt.ml': 'let map f = function None -> None | Some x -> Some (f x)\n\nlet join = function Some (Some x) -> Some x | _ -> None\n',
        'src/opt.mli': "val map : ('a -> 'b) -> 'a option -> 'b option\n\nval join : 'a option option -> 'a option\n",
        'test/test_opt.ml': [
          'let test_map () =',
          '  assert (Opt.map succ (Some 1) = Some 2);',
          '  assert (Opt.map succ None = None)',
          '',
          'let test_join () = assert (Opt.join (Some (Some 1)) = Some 1)',
          '',
          'let suite () =',
          '  test_join ();',
          '  test_map ()',
          '',
          'let () = suite (); print_endline "OK"',
          '',
        ].join('\n'),
      },
      'cs-runner-',
    );
    const searcher = await Searcher.open(db);
    try {
      const w = await (await ContextBuilder.create(searcher)).build({ prompt: 'Add Opt.keep_if, like map but keeping Some v only when the predicate holds, with a test' });
      expect(w.items.some((i) => i.name === 'test_map')).toBe(true);
      expect(w.items.find((i) => i.name === 'suite')?.reason).toBe('test');
    } finally {
      searcher.close();
    }
  });
  it('brings the tests of a test file or directory named after the unit, however far and through an alias', async () => {
    const use = (alias: string, of: string) => [`module ${alias} = ${of}`, '', 'let () =', `  let s = ${alias}.create () in`, `  ${alias}.push 1 s;`, `  assert (${alias}.pop s = 1)`, ''].join('\n');
    const impl = 'type \'a t = { mutable c : \'a list }\n\nlet create () = { c = [] }\n\nlet push x s = s.c <- x :: s.c\n\nlet pop s = match s.c with hd :: tl -> s.c <- tl; hd | [] -> raise Not_found\n';
    const { db } = await indexedFiles(
      {
        'lib/stdlib/stack.ml': impl,
        'lib/stdlib/bag.ml': impl,
        'testsuite/tests/lib-stack/test.ml': use('S', 'Stack'),
        'testsuite/tests/lib-bag/test.ml': use('B', 'Bag'),
      },
      'cs-named-test-',
    );
    const searcher = await Searcher.open(db);
    try {
      const [pop] = await searcher.reader.byName(['pop'], 10, { pathPrefix: 'lib/stdlib/stack.ml' });
      const tests = (await expand([{ chunk: pop!, score: 1, reason: 'match' }], searcher.reader)).filter((c) => c.reason === 'test').map((c) => c.chunk.path);
      expect(tests).toEqual(['testsuite/tests/lib-stack/test.ml']);
    } finally {
      searcher.close();
    }
  });
});

describe('expand: what a change to a definition also touches', () => {
  let paySearcher: Searcher;
  beforeAll(async () => {
    // A variant and an unannotated function matching on it, and more declared values than are explored.
    const values = Array.from({ length: EXPANDED_SEEDS + 3 }, (_, i) => `fee_${i}`);
    const { db: payDb } = await indexedFixture('shop', {
      'src/payment.ml': `type method_ = Card of string | Cash | Voucher of int\n\nlet describe = function\n  | Card last4 -> "card " ^ last4\n  | Cash -> "cash"\n  | Voucher n -> string_of_int n\n\nlet rate = function Card _ -> 2 | Cash -> 0 | Voucher _ -> 1\n\nlet is_cash = function Cash -> true | _ -> false\n\n${values.map((v, i) => `let ${v} amount = amount * ${i + 1} / 100`).join('\n')}\n`,
      'src/payment.mli': `type method_ = Card of string | Cash | Voucher of int\n\nval describe : method_ -> string\n\n${values.map((v) => `val ${v} : int -> int`).join('\n')}\n`,
      // Another library's exhaustive match, one that names a single case, and a test listing each case.
      'lib/report/ledger.ml': 'let column = function Payment.Card _ -> 1 | Payment.Cash -> 2 | Payment.Voucher _ -> 3\n\nlet cash_only = function Payment.Cash -> true | _ -> false\n',
      'test/test_payment.ml': 'let cases = [ Payment.Card "1234"; Payment.Cash; Payment.Voucher 5 ]\n\nlet () = List.iter (fun m -> print_endline (Payment.describe m)) cases\n',
      // A record, two functions that take all of it apart or build it, and an accessor of one field.
      'src/invoice.ml': 'type t = { number : int; amount : int; mutable paid : bool }\n\nlet make number amount = { number; amount; paid = false }\n\nlet pp { number; amount; paid } = Printf.sprintf "%d %d %b" number amount paid\n\nlet amount t = t.amount\n',
      // A variant of two cases, matched whole in another library.
      'src/mode.ml': 'type t = Fast | Thorough\n',
      'lib/report/speed.ml': 'let factor = function Mode.Fast -> 2 | Mode.Thorough -> 1\n',
      // Two wrappers of one helper of their file: what they have in common is done there.
      'src/refund.ml': 'let refund_message reason amount = reason ^ ": " ^ string_of_int amount\n\nlet refund_damaged amount = refund_message "damaged" amount\n\nlet refund_late amount = refund_message "late" amount\n',
    });
    paySearcher = await Searcher.open(payDb);
  });
  afterAll(() => paySearcher?.close());

  it('adds the variant type an unannotated function matches on', async () => {
    const [code] = await paySearcher.reader.byName(['describe'], 10, { pathPrefix: 'src/payment.ml' });
    const expanded = await expand([{ chunk: code!, score: 1, reason: 'match' }], paySearcher.reader);
    expect(expanded.filter((c) => c.reason === 'type').map((c) => `${c.chunk.path}:${c.chunk.name}`)).toContain('src/payment.ml:method_');
  });

  it('brings, with the variant, its declaration and the other functions that match on all its cases', async () => {
    const [code] = await paySearcher.reader.byName(['describe'], 10, { pathPrefix: 'src/payment.ml' });
    const expanded = await expand([{ chunk: code!, score: 1, reason: 'match' }], paySearcher.reader);
    const found = (reason: string) => expanded.filter((c) => c.reason === reason).map((c) => `${c.chunk.path}:${c.chunk.name}`);
    expect(found('signature')).toContain('src/payment.mli:method_');
    // `is_cash` matches one case of three: a new case does not have to go there.
    expect(found('caller')).toContain('src/payment.ml:rate');
    expect(found('caller')).not.toContain('src/payment.ml:is_cash');
  });

  it("brings other units' functions that match on every case and the tests that list them, from the variant or a function matching it", async () => {
    const [code] = await paySearcher.reader.byName(['describe'], 10, { pathPrefix: 'src/payment.ml' });
    const [variant] = await paySearcher.reader.byName(['method_'], 10, { pathPrefix: 'src/payment.ml' });
    for (const seed of [code!, variant!]) {
      const expanded = await expand([{ chunk: seed, score: 1, reason: 'match' }], paySearcher.reader);
      const found = (reason: string) => expanded.filter((c) => c.reason === reason).map((c) => `${c.chunk.path}:${c.chunk.name}`);
      expect(found('caller'), seed.name).toContain('lib/report/ledger.ml:column');
      expect(found('caller'), seed.name).not.toContain('lib/report/ledger.ml:cash_only');
      expect(found('test'), seed.name).toContain('test/test_payment.ml:cases');
    }
  });

  it('brings the matches of a two-case variant that cover both cases', async () => {
    const [variant] = await paySearcher.reader.byName(['t'], 10, { pathPrefix: 'src/mode.ml' });
    const expanded = await expand([{ chunk: variant!, score: 1, reason: 'match' }], paySearcher.reader);
    expect(expanded.filter((c) => c.reason === 'caller').map((c) => `${c.chunk.path}:${c.chunk.name}`)).toEqual(['lib/report/speed.ml:factor']);
  });

  it('brings the functions that build a record or take all of it apart, not those that read one field', async () => {
    const [record] = await paySearcher.reader.byName(['t'], 10, { pathPrefix: 'src/invoice.ml' });
    const expanded = await expand([{ chunk: record!, score: 1, reason: 'match' }], paySearcher.reader);
    const callers = expanded.filter((c) => c.reason === 'caller').map((c) => c.chunk.name);
    expect(callers).toEqual(expect.arrayContaining(['make', 'pp']));
    expect(callers).not.toContain('amount');
  });

  it('brings, with a function that updates a record, the record and what builds it', async () => {
    const files = {
      'src/project.ml': [
        'type project = { file : string option; root : string option; docs : string option; flags : string list }',
        '',
        'let empty () = { file = None; root = None; docs = None; flags = [] }',
        '',
        'let rec parse proj = function',
        '  | "-f" :: f :: r -> parse { proj with file = Some f } r',
        '  | "-R" :: d :: r -> parse { proj with root = Some d } r',
        '  | "-docroot" :: d :: r -> parse { proj with docs = Some d } r',
        '  | x :: r -> parse { proj with flags = x :: proj.flags } r',
        '  | [] -> proj',
        '',
        'let has_docs p = p.docs <> None',
        '',
      ].join('\n'),
    };
    const around = await withSearcherOver(files, 'cs-record-use-', async (searcher) => {
      const [parse] = await searcher.reader.byName(['parse'], 1, { withText: true });
      return (await expand([{ chunk: parse!, score: 1, reason: 'match' }], searcher.reader)).map((c) => `${c.chunk.name} ${c.reason}`);
    });
    expect(around).toEqual(expect.arrayContaining(['project type', 'empty caller']));
    // Reading one field is not building the record.
    expect(around).not.toContain('has_docs caller');
  });

  it("brings the other definitions of a seed's name in its file, with their declarations, but not another part of a long one", async () => {
    const long = ['let report = function', ...Array.from({ length: 170 }, (_, i) => `  | ${i} -> "case ${i}"`), '  | _ -> "other"', ''].join('\n');
    const { db } = await indexedFiles(
      {
        'src/seq.ml': 'let rec mapi i f = function [] -> [] | a :: l -> f i a :: mapi (i + 1) f l\n\nlet mapi f l = mapi 0 f l\n',
        'src/seq.mli': "val mapi : (int -> 'a -> 'b) -> 'a list -> 'b list\n",
        'src/json.ml': 'module Basic = struct\n  let index i l = List.nth l i\nend\n\nmodule Safe = struct\n  let index i l = List.nth l i\nend\n',
        'src/json.mli': "module Basic : sig\n  val index : int -> 'a list -> 'a\nend\n\nmodule Safe : sig\n  val index : int -> 'a list -> 'a\nend\n",
        'src/long.ml': long,
        // The interface's module type, repeated in the .ml, and the functor that implements it there.
        'src/csx.mli': 'module type S = sig\n  type sexp\n  val to_string : sexp -> string\nend\n\nmodule Make (X : sig type t end) : S with type sexp := X.t\n',
        'src/csx.ml': 'module type S = sig\n  type sexp\n  val to_string : sexp -> string\nend\n\nmodule Make (X : sig type t end) = struct\n  let to_string _ = "()"\nend\n',
      },
      'cs-namesakes-',
    );
    const searcher = await Searcher.open(db);
    try {
      const around = async (name: string, path: string, line: number) => {
        const [seed] = (await searcher.reader.byName([name], 10, { pathPrefix: path, withText: true })).filter((c) => c.path === path && c.startLine === line);
        return (await expand([{ chunk: seed!, score: 1, reason: 'match' }], searcher.reader)).map((c) => `${c.chunk.path}:${c.chunk.startLine} ${c.reason}`);
      };
      // The recursive helper brings the wrapper the interface exports, and its declaration.
      expect(await around('mapi', 'src/seq.ml', 1)).toEqual(expect.arrayContaining(['src/seq.ml:3 definition', 'src/seq.mli:1 signature']));
      // One module's copy brings the other's, and its declaration.
      expect(await around('index', 'src/json.ml', 2)).toEqual(expect.arrayContaining(['src/json.ml:6 definition', 'src/json.mli:6 signature']));
      // A declaration in the interface's module type brings the functor's definition in the .ml,
      // a namesake of its counterpart there (the module type's copy).
      expect(await around('to_string', 'src/csx.mli', 3)).toEqual(expect.arrayContaining(['src/csx.ml:3 definition', 'src/csx.ml:7 definition']));
      // The index split `report` (172 lines) in two: its second part is not another definition.
      expect((await searcher.reader.byName(['report'], 10)).map((c) => c.part)).toEqual(expect.arrayContaining([1, 2]));
      expect((await around('report', 'src/long.ml', 1)).filter((c) => c.startsWith('src/long.ml:') && !c.startsWith('src/long.ml:1 '))).toEqual([]);
    } finally {
      searcher.close();
    }
  });

  it("resolves a qualified call that several libraries define to the standard library's", async () => {
    const { db } = await indexedFiles(
      {
        'base/dune': '(library (name base))\n',
        'base/list.ml': 'let pairs f a b = List.iter2 f a b\n',
        'stdlib/dune': '(library (name stdlib))\n',
        'stdlib/list.ml': 'let pairs f a b = ignore (f, a, b)\n',
        'app/main.ml': 'let show a b = List.pairs (fun x y -> print_int (x + y)) a b\n',
      },
      'cs-stdlib-',
    );
    const searcher = await Searcher.open(db);
    try {
      const [show] = await searcher.reader.byName(['show'], 10, { withText: true });
      const deps = (await expand([{ chunk: show!, score: 1, reason: 'match' }], searcher.reader)).filter((c) => c.reason === 'dependency').map((c) => c.chunk.symbol);
      expect(deps).toEqual(['Stdlib.List.pairs']);
    } finally {
      searcher.close();
    }
  });

  it('brings a helper of their file that two seeds call, even when neither is explored', async () => {
    const found = await paySearcher.reader.byName(['refund_damaged', 'refund_late', 'describe'], 10, { withText: true, lang: 'ml' });
    const named = (name: string) => found.find((c) => c.name === name)!;
    // The explored seeds are elsewhere: the wrappers' own dependencies are not followed.
    const explored = Array.from({ length: EXPANDED_SEEDS }, () => ({ chunk: named('describe'), score: 1, reason: 'match' as const }));
    const helpers = async (wrappers: string[]) =>
      (await expand([...explored, ...wrappers.map((w) => ({ chunk: named(w), score: 0.5, reason: 'match' as const }))], paySearcher.reader)).filter((c) => c.chunk.name === 'refund_message').map((c) => c.reason);
    expect(await helpers(['refund_damaged', 'refund_late'])).toEqual(['dependency']);
    expect(await helpers(['refund_late'])).toEqual([]);
  });

  it('brings the declaration of every seed, also those whose neighbourhood is not explored', async () => {
    const fees = (await paySearcher.reader.byName(Array.from({ length: EXPANDED_SEEDS + 3 }, (_, i) => `fee_${i}`), 50)).filter((c) => c.lang === 'ml');
    expect(fees.length).toBeGreaterThan(EXPANDED_SEEDS);
    const expanded = await expand(fees.map((chunk, i) => ({ chunk, score: 1 - i / 100, reason: 'match' })), paySearcher.reader);
    for (const fee of fees) {
      expect(expanded.some((c) => c.reason === 'signature' && c.chunk.id === fee.counterpart), fee.name).toBe(true);
    }
  });
});

describe('kept neighbourhoods', () => {
  it('gives a seed its neighbourhood again, scaled to its score, and a new one from a new version of the index', async () => {
    const { root, db } = await indexedFiles(
      {
        'src/a.ml': 'let total l = List.fold_left ( + ) 0 l\n',
        'src/b.ml': 'let report l = Printf.sprintf "%d" (A.total l)\n',
      },
      'cs-kept-',
    );
    const searcher = await Searcher.open(db);
    try {
      const around = async (score: number) => {
        const [total] = await searcher.reader.byName(['total'], 10, { withText: true });
        return (await expand([{ chunk: total!, score, reason: 'match' }], searcher.reader)).map((c) => [c.chunk.path, c.chunk.name, c.reason, c.score] as const);
      };
      const once = await around(1);
      expect(once.some(([, name, reason]) => name === 'report' && reason === 'caller')).toBe(true);
      expect(await around(0.5)).toEqual(once.map(([path, name, reason, score]) => [path, name, reason, score * 0.5]));
      fs.writeFileSync(path.join(root, 'src/c.ml'), 'let audit l = A.total l > 100\n');
      await indexRepo({ root, db });
      await searcher.refresh({ now: true });
      expect((await around(1)).filter(([, , reason]) => reason === 'caller').map(([, name]) => name)).toEqual(expect.arrayContaining(['report', 'audit']));
    } finally {
      searcher.close();
    }
  });
});

describe('codesearch context (CLI)', () => {
  it('prints the contract JSON and honours --budget and --file PATH:LINE', async () => {
    const r = await runCli(['context', 'add a discount argument to Cart.total', '--json', '--budget', '500', '--file', 'src/checkout.ml:3', '--db', db], { cwd: root });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const w = JSON.parse(r.stdout) as { items: ContextItem[]; tokens: number; budget: number; text: string };
    expect(Object.keys(w).sort()).toEqual(['budget', 'items', 'text', 'tokens']);
    expect(w.budget).toBe(500);
    expect(w.tokens).toBeLessThanOrEqual(500);
    expect(w.items[0]).toMatchObject({ reason: 'cursor', path: 'src/checkout.ml' });
    for (const i of w.items) expect(Object.keys(i)).toEqual(expect.arrayContaining(['path', 'startLine', 'endLine', 'name', 'symbol', 'kind', 'score', 'text', 'reason']));
  });

  it('answers a --batch of prompts, one line each, and rejects a file outside the root', async () => {
    const batch = path.join(makeTempDir('cs-batch-'), 'prompts.jsonl');
    (await import('node:fs')).writeFileSync(batch, `{"id":"a","prompt":"Cart.total"}\n{"id":"b","prompt":"receipt lines","file":"src/checkout.ml:8"}\n`);
    const r = await runCli(['context', '--batch', batch, '--json', '--db', db], { cwd: root });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; items: ContextItem[]; tokens: number });
    expect(lines.map((l) => l.id)).toEqual(['a', 'b']);
    expect(lines[1]!.items[0]).toMatchObject({ reason: 'cursor', symbol: 'Shop.Checkout.receipt' });

    const outside = await runCli(['context', 'x', '--file', '/etc/passwd', '--db', db], { cwd: root });
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/outside the indexed root/);
  });
});

describe('build errors as context', () => {
  const OUTPUT = [
    'File "src/checkout.ml", line 3, characters 15-30:',
    '3 |   let amount = Cart.total cart ^ shipping in',
    '                   ^^^^^^^^^^^^^^^',
    'Error: This expression has type int but an expression was expected of type',
    '         string',
    'File "src/cart.ml", line 9, characters 4-14:',
    '9 | let line_price item = item.price * item.quantity',
    '        ^^^^^^^^^^',
    'Warning 32 [unused-value-declaration]: unused value line_price.',
    'File "_build/default/test/test_cart.ml", lines 2-3, characters 72-75:',
    'Error: This record expression is expected to have type Shop.Cart.item',
    '       There is no field qty within type Shop.Cart.item',
    'Hint: Did you mean quantity?',
  ].join('\n');

  it('reads sites and messages (multi-line, hints) and skips plain warnings', async () => {
    const { parseBuildErrors, mentionedNames, sourcePath } = await import('../server/context/errors.js');
    const errors = parseBuildErrors(OUTPUT);
    expect(errors.map((e) => [sourcePath(e.file), e.line, e.endLine])).toEqual([
      ['src/checkout.ml', 3, 3],
      ['test/test_cart.ml', 2, 3],
    ]);
    expect(errors[0]!.message).toBe('Error: This expression has type int but an expression was expected of type\n         string');
    expect(errors[1]!.message).toMatch(/Hint: Did you mean quantity\?$/);
    expect(mentionedNames(errors[1]!.message)).toEqual([{ path: 'Shop.Cart.item', kind: 'type' }]);
    expect(mentionedNames('Error: Unbound value Cart.totl')).toEqual([{ path: 'Cart.totl', kind: 'value' }]);
  });

  // dune and ocaml-nox come from Debian (.ci/run installs them); a machine without them skips this.
  const haveDune = spawnSync('dune', ['--version']).status === 0;
  it.runIf(haveDune || process.env.CI)('turns real `dune build` errors into error sites and the types they name', async () => {
    const { root: broken, db: brokenDb } = await indexedFixture('shop');
    const brokenSearcher = await Searcher.open(brokenDb);
    const edit = (rel: string, from: string, to: string) => {
      const file = path.join(broken, rel);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(from, to));
    };
    const dune = () => {
      const build = spawnSync('dune', ['build', '--root', broken], { encoding: 'utf8' });
      expect(build.status).not.toBe(0);
      return `${build.stdout}${build.stderr}`;
    };
    try {
      const builder = await ContextBuilder.create(brokenSearcher);
      // A record field that does not exist, in the test: the site and the record type.
      edit('test/test_cart.ml', 'quantity = 2', 'qty = 2');
      const fieldError = dune();
      expect(fieldError).toMatch(/There is no field qty within type Shop.Cart.item/);
      const w = await builder.build({ prompt: '', errors: fieldError });
      expect(w.items[0]).toMatchObject({ reason: 'error-site', path: 'test/test_cart.ml' });
      expect(w.items.some((i) => i.symbol === 'Shop.Cart.item' && i.reason === 'type')).toBe(true);
      expect(w.tokens).toBeLessThanOrEqual(w.budget);

      // A type mismatch in the library, through the CLI from standard input.
      edit('test/test_cart.ml', 'qty = 2', 'quantity = 2');
      edit('src/checkout.ml', 'Cart.total cart + shipping', 'Cart.total cart ^ shipping');
      const mismatch = dune();
      expect(mismatch).toMatch(/Error: This expression has type int but an expression was expected of type\s+string/);
      const viaCli = await runCli(['context', 'fix the build', '--errors', '-', '--json', '--db', brokenDb], { cwd: broken, input: mismatch });
      expect(viaCli.code).toBe(0);
      const items = (JSON.parse(viaCli.stdout) as { items: ContextItem[] }).items;
      expect(items[0]).toMatchObject({ reason: 'error-site', symbol: 'Shop.Checkout.charge' });
      // charge calls Cart.total, whose result type is the one in question.
      expect(items.some((i) => i.symbol === 'Shop.Cart.total')).toBe(true);
    } finally {
      brokenSearcher.close();
    }
  });
});
