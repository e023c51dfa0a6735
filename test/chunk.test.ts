// The real tree-sitter parser + chunker over the hand-written `mini` fixture and generated inputs.
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createOcamlParser, langOf } from '../indexer/parse.js';
import { chunkTree, type ChunkResult } from '../indexer/chunk.js';
import { grammarSpec } from '../indexer/grammar.js';
import { FIXTURES, generatedDefinitions } from './helpers.js';

const parser = createOcamlParser();
const MINI = path.join(FIXTURES, 'mini');

function chunkSource(source: string, relPath: string, qualifier: string[]): ChunkResult {
  const lang = langOf(relPath);
  if (!lang) throw new Error(`not OCaml: ${relPath}`);
  return chunkTree(parser.parse(source, lang), source, { path: relPath, lang, qualifier });
}

function chunkFixture(relPath: string, qualifier: string[]): { result: ChunkResult; source: string } {
  const source = fs.readFileSync(path.join(MINI, relPath), 'utf8');
  return { result: chunkSource(source, relPath, qualifier), source };
}

/** The exact source lines [start, end] (1-based, inclusive). */
function linesOf(source: string, start: number, end: number): string {
  return source.split('\n').slice(start - 1, end).join('\n');
}

describe('chunker limits', () => {
  it('reads the limits the tests below rely on from grammars/ocaml/definitions.json', () => {
    expect(grammarSpec().limits).toEqual({ maxChunkLines: 150, moduleHeaderLines: 12 });
  });
});

describe('chunkTree on src/shapes.ml', () => {
  const { result, source } = chunkFixture('src/shapes.ml', ['Strkit', 'Shapes']);

  it('yields every definition with kind, qualified symbol, line span and depth', () => {
    expect(result.chunks.map((c) => [c.kind, c.symbol, c.startLine, c.endLine, c.depth])).toEqual([
      ['module', 'Strkit.Shapes.Geometry', 4, 15, 0],
      ['module', 'Strkit.Shapes.Geometry.Point', 5, 12, 1],
      ['type', 'Strkit.Shapes.Geometry.Point.t', 6, 6, 2],
      ['value', 'Strkit.Shapes.Geometry.Point.distance', 9, 11, 2],
      ['value', 'Strkit.Shapes.Geometry.origin', 14, 14, 1],
      ['module', 'Strkit.Shapes.Make', 17, 26, 0],
      ['type', 'Strkit.Shapes.Make.elt', 23, 23, 1],
      ['value', 'Strkit.Shapes.Make.max_elt', 25, 25, 1],
      ['value', 'Strkit.Shapes.is_even', 28, 28, 0],
      ['value', 'Strkit.Shapes.is_odd', 29, 29, 0],
      ['module_type', 'Strkit.Shapes.SHAPE', 31, 35, 0],
      ['type', 'Strkit.Shapes.SHAPE.t', 32, 32, 1],
      ['value', 'Strkit.Shapes.SHAPE.area', 34, 34, 1],
      ['exception', 'Strkit.Shapes.Invalid_shape', 37, 37, 0],
      ['external', 'Strkit.Shapes.hypot', 39, 39, 0],
      ['class', 'Strkit.Shapes.counter', 41, 48, 0],
      ['method', 'Strkit.Shapes.counter.incr', 45, 45, 1],
      ['method', 'Strkit.Shapes.counter.get', 47, 47, 1],
      ['value', 'Strkit.Shapes.describe', 50, 50, 0],
    ]);
  });

  it('gives bare names, ids path#ordinal, whole-chunk part numbers and the exact source text', () => {
    expect(result.hasErrors).toBe(false);
    expect(result.chunks.map((c) => c.name)).toEqual([
      'Geometry', 'Point', 't', 'distance', 'origin', 'Make', 'elt', 'max_elt', 'is_even', 'is_odd',
      'SHAPE', 't', 'area', 'Invalid_shape', 'hypot', 'counter', 'incr', 'get', 'describe',
    ]);
    result.chunks.forEach((c, n) => {
      expect(c.id).toBe(`src/shapes.ml#${n}`);
      expect(c.path).toBe('src/shapes.ml');
      expect(c.lang).toBe('ml');
      expect([c.part, c.parts]).toEqual([0, 0]);
      expect(c.text).toBe(linesOf(source, c.startLine, c.endLine));
    });
  });

  it('qualifies nested module items (Geometry.Point.distance) and attaches their doc comment', () => {
    const distance = result.chunks.find((c) => c.name === 'distance')!;
    expect(distance.symbol).toBe('Strkit.Shapes.Geometry.Point.distance');
    expect(distance.doc).toBe('Euclidean distance between two points.');
    expect(distance.text).toBe(
      ['    let distance a b =', '      let dx = a.x -. b.x and dy = a.y -. b.y in', '      sqrt ((dx *. dx) +. (dy *. dy))'].join('\n'),
    );
  });

  it('chunks both bindings of `let rec ... and ...`', () => {
    const even = result.chunks.find((c) => c.name === 'is_even')!;
    const odd = result.chunks.find((c) => c.name === 'is_odd')!;
    expect(even.text).toBe('let rec is_even n = if n = 0 then true else is_odd (n - 1)');
    expect(odd.text).toBe('and is_odd n = if n = 0 then false else is_even (n - 1)');
  });

  it('does not chunk the functor parameter signature as items of the functor', () => {
    expect(result.chunks.filter((c) => c.symbol.startsWith('Strkit.Shapes.Make.')).map((c) => c.name)).toEqual(['elt', 'max_elt']);
  });

  it('records open and include as relations, not chunks', () => {
    expect(result.relations).toEqual([
      { kind: 'open', module: 'Printf', line: 1 },
      { kind: 'include', module: 'Stdlib.Fun', line: 2 },
    ]);
    expect(result.chunks.some((c) => c.startLine <= 2)).toBe(false);
  });

  it("chunks what a functor application's structure defines, and what an include of a structure defines as the including module's", () => {
    const source = [
      'include Monad.Make2 (struct',
      '  let bind x ~f = f x',
      '  let map x ~f = f x',
      'end)',
      '',
      'module Error = Monad.Make2 (struct',
      '  let bind x ~f = f x',
      'end)',
      '',
      'module Applied = F (X) (struct type t = int end)',
      '',
      'include struct',
      '  let z = 1',
      'end',
      '',
      'include Stdlib.List',
      '',
    ].join('\n');
    const { chunks, relations } = chunkSource(source, 'lib/result.ml', ['Base', 'Result']);
    expect(chunks.map((c) => `${c.symbol} ${c.kind} ${c.startLine} ${c.depth}`)).toEqual([
      'Base.Result.bind value 2 0',
      'Base.Result.map value 3 0',
      'Base.Result.Error module 6 0',
      'Base.Result.Error.bind value 7 1',
      'Base.Result.Applied module 10 0',
      'Base.Result.Applied.t type 10 1',
      'Base.Result.z value 13 0',
    ]);
    expect(relations.map((r) => r.module)).toContain('Stdlib.List');
  });
});

describe('chunkTree on src/strkit_string.mli', () => {
  const { result, source } = chunkFixture('src/strkit_string.mli', ['Strkit', 'Strkit_string']);

  it('yields one `val` chunk per specification with before- and after-style doc comments', () => {
    expect(result.chunks.map((c) => [c.kind, c.name, c.symbol, c.startLine, c.endLine, c.lang])).toEqual([
      ['value', 'split_on_char', 'Strkit.Strkit_string.split_on_char', 5, 5, 'mli'],
      ['value', 'concat_map', 'Strkit.Strkit_string.concat_map', 7, 7, 'mli'],
      ['value', 'trim', 'Strkit.Strkit_string.trim', 10, 10, 'mli'],
      ['value', 'is_blank', 'Strkit.Strkit_string.is_blank', 13, 13, 'mli'],
    ]);
    expect(result.chunks.map((c) => c.doc)).toEqual([
      // before: the comment right above the val (the file's header comment, after a blank line, is not it)
      'Split a string into substrings at every occurrence of a character.\n    [split_on_char \',\' "a,b"] is [["a"; "b"]].',
      // after: the comment right below the val
      '[concat_map sep f s] applies [f] to every character of [s] and joins the results with [sep].',
      'Remove leading and trailing whitespace.',
      '',
    ]);
    expect(result.chunks[0]!.text).toBe('val split_on_char : char -> string -> string list');
    expect(result.chunks[0]!.text).toBe(linesOf(source, 5, 5));
    expect(result.relations).toEqual([]);
    expect(result.hasErrors).toBe(false);
  });

  it('attaches a following doc comment to the val above it, not to the next val', () => {
    const src = ['val a : int', '(** About a. *)', '', '(** About b. *)', 'val b : int', 'val c : int', '(** About c. *)', ''].join('\n');
    const { chunks } = chunkSource(src, 'lib/x.mli', ['X']);
    expect(chunks.map((c) => [c.name, c.doc])).toEqual([
      ['a', 'About a.'],
      ['b', 'About b.'],
      ['c', 'About c.'],
    ]);
  });
});

describe('module preambles', () => {
  const src = [
    '(** Concrete syntax trees of s-expressions. *)',
    '',
    '(** They keep comments and locations. *)',
    '',
    'open! Import',
    '',
    '(** How atoms are quoted. *)',
    'type t = Atom of string | List of t list',
    '',
    'val parse : string -> t',
    '',
    'module Printer : sig',
    '  (** Writes trees back to text. *)',
    '',
    '  type t',
    '  val print : t -> string',
    'end',
    '',
    '(** Has its own doc. *)',
    'module Reader : sig',
    '  (** Reads trees lazily. *)',
    '',
    '  val read : string -> t',
    'end',
    '',
  ].join('\n');
  const { chunks } = chunkSource(src, 'lib/cst.mli', ['Cst']);
  const byName = (name: string, nth = 0) => chunks.filter((c) => c.name === name)[nth]!;

  it("gives a module's principal type `t` the module's leading doc comments, beside its own doc", () => {
    expect(byName('t')).toMatchObject({ doc: 'How atoms are quoted.', moduleDoc: 'Concrete syntax trees of s-expressions.\n\nThey keep comments and locations.' });
    expect(byName('t', 1)).toMatchObject({ symbol: 'Cst.Printer.t', doc: '', moduleDoc: 'Writes trees back to text.' });
  });

  it('gives a submodule without a doc of its own the preamble of its signature, and nothing to other items', () => {
    expect(byName('Printer')).toMatchObject({ doc: '', moduleDoc: 'Writes trees back to text.' });
    expect(byName('Reader')).toMatchObject({ doc: 'Has its own doc.', moduleDoc: '' });
    for (const name of ['parse', 'print', 'read']) expect(byName(name).moduleDoc).toBe('');
  });

  it('leaves a doc comment right above the first definition to that definition', () => {
    const { chunks: [only] } = chunkSource('(** Answers. *)\nval answer : int\n', 'lib/a.mli', ['A']);
    expect(only).toMatchObject({ doc: 'Answers.', moduleDoc: '' });
    const { chunks: [t] } = chunkSource('(** The type. *)\ntype t = int\n', 'lib/b.mli', ['B']);
    expect(t).toMatchObject({ doc: 'The type.', moduleDoc: '' });
  });
});

describe('chunkTree on src/strkit_string.ml', () => {
  it('yields the implementation with multi-line spans', () => {
    const { result } = chunkFixture('src/strkit_string.ml', ['Strkit', 'Strkit_string']);
    expect(result.chunks.map((c) => [c.name, c.startLine, c.endLine])).toEqual([
      ['split_on_char', 3, 12],
      ['concat_map', 14, 16],
      ['is_space', 18, 18],
      ['trim', 20, 26],
      ['is_blank', 28, 28],
    ]);
    expect(result.chunks.every((c) => c.doc === '' && c.kind === 'value' && c.depth === 0)).toBe(true);
  });
});

describe('chunkTree on a file with a syntax error', () => {
  it('still yields the well-formed definitions before and after the error', () => {
    const { result } = chunkFixture('src/broken.ml', ['Strkit', 'Broken']);
    expect(result.hasErrors).toBe(true);
    const good = result.chunks.filter((c) => c.name.startsWith('good_'));
    expect(good.map((c) => [c.name, c.symbol, c.startLine, c.endLine, c.text])).toEqual([
      ['good_before', 'Strkit.Broken.good_before', 1, 1, 'let good_before = 1'],
      ['good_after', 'Strkit.Broken.good_after', 5, 5, 'let good_after = 2'],
    ]);
  });
});

describe('chunkTree on large inputs', () => {
  it('yields every definition of a generated file over 32 KB', () => {
    const source = generatedDefinitions(2000);
    expect(source.length).toBeGreaterThan(32 * 1024);
    const { chunks, hasErrors } = chunkSource(source, 'gen/big.ml', ['Big']);
    expect(hasErrors).toBe(false);
    expect(chunks).toHaveLength(2000);
    expect(chunks.map((c) => c.name)).toEqual(Array.from({ length: 2000 }, (_, i) => `f_${i}`));
    expect(chunks.every((c, i) => c.startLine === i + 1 && c.endLine === i + 1)).toBe(true);
    expect(chunks[1999]!.text).toBe('let f_1999 x = x + 1999');
    expect(chunks[1999]!.symbol).toBe('Big.f_1999');
  });

  it('parses a ~2 MB string in one go, without errors, up to its last line', () => {
    const count = 80_000;
    const source = generatedDefinitions(count, 'g');
    expect(source.length).toBeGreaterThan(2_000_000);
    const tree = parser.parse(source, 'ml');
    const root = tree.rootNode;
    expect(root.hasError).toBe(false);
    expect(root.namedChildCount).toBe(count);
    const last = root.namedChildren[count - 1]!;
    expect(last.type).toBe('value_definition');
    expect(last.text).toBe(`let g_${count - 1} x = x + ${count - 1}`);
    expect(last.startPosition.row).toBe(count - 1);
    expect(root.endPosition.row).toBe(count);
  });

  it('keeps names, docs and line numbers right in a large file full of multi-byte characters', () => {
    let source = '';
    for (let i = 0; i < 3000; i++) source += `(** café — ü ${i} 🐫 *)\nlet h_${i} s = "naïve ${i}" ^ s\n`;
    expect(Buffer.byteLength(source)).toBeGreaterThan(32 * 1024);
    const { chunks, hasErrors } = chunkSource(source, 'u.ml', ['U']);
    expect(hasErrors).toBe(false);
    expect(chunks).toHaveLength(3000);
    expect(chunks.at(-1)).toMatchObject({
      name: 'h_2999',
      startLine: 6000,
      endLine: 6000,
      doc: 'café — ü 2999 🐫',
      text: 'let h_2999 s = "naïve 2999" ^ s',
    });
  });

  it('splits a definition longer than 150 lines into labelled parts that cover it exactly', () => {
    const body = Array.from({ length: 320 }, (_, i) => `  let y${i} = x + ${i} in`);
    const source = ['let long_fn x =', ...body, '  x', '', 'let after = 1', ''].join('\n');
    const { chunks } = chunkSource(source, 'long.ml', ['Long']);
    const parts = chunks.filter((c) => c.name === 'long_fn');
    expect(parts.map((c) => [c.startLine, c.endLine, c.part, c.parts])).toEqual([
      [1, 150, 1, 3],
      [151, 300, 2, 3],
      [301, 322, 3, 3],
    ]);
    for (const p of parts) {
      expect(p.endLine - p.startLine + 1).toBeLessThan(200);
      expect(p.symbol).toBe('Long.long_fn');
      expect(p.text).toBe(linesOf(source, p.startLine, p.endLine));
    }
    expect(parts.map((p) => p.text).join('\n')).toBe(linesOf(source, 1, 322));
    expect(chunks.at(-1)).toMatchObject({ name: 'after', startLine: 324, endLine: 324, part: 0, parts: 0 });
  });

  it('represents a long module by a short header chunk and chunks its items separately', () => {
    const items = Array.from({ length: 250 }, (_, i) => `  let v_${i} = ${i}`);
    const source = ['(** A big module. *)', 'module Big = struct', ...items, 'end', ''].join('\n');
    const { chunks } = chunkSource(source, 'big.ml', ['Top']);
    expect(chunks).toHaveLength(251);
    const header = chunks[0]!;
    expect(header).toMatchObject({ kind: 'module', name: 'Big', symbol: 'Top.Big', startLine: 2, part: 0, parts: 0, doc: 'A big module.' });
    expect(header.endLine - header.startLine + 1).toBeLessThan(200);
    expect(header.endLine - header.startLine + 1).toBeLessThanOrEqual(12);
    expect(header.text).toBe(linesOf(source, header.startLine, header.endLine));
    expect(header.text.startsWith('module Big = struct')).toBe(true);
    const values = chunks.slice(1);
    expect(values.map((c) => c.symbol)).toEqual(Array.from({ length: 250 }, (_, i) => `Top.Big.v_${i}`));
    expect(values.every((c, i) => c.kind === 'value' && c.depth === 1 && c.startLine === i + 3 && c.endLine === i + 3)).toBe(true);
  });

  it('keeps a long class as a header plus one chunk per method', () => {
    const methods = Array.from({ length: 200 }, (_, i) => `    method m_${i} = ${i}`);
    const source = ['class big_obj =', '  object', ...methods, '  end', ''].join('\n');
    const { chunks } = chunkSource(source, 'obj.ml', ['Obj']);
    expect(chunks).toHaveLength(201);
    expect(chunks[0]).toMatchObject({ kind: 'class', name: 'big_obj', startLine: 1, endLine: 2 });
    expect(chunks.slice(1).every((c, i) => c.kind === 'method' && c.symbol === `Obj.big_obj.m_${i}`)).toBe(true);
  });
});
