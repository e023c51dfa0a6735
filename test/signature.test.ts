// The OCaml type reader behind search by type: parsing, canonical shapes, matching.
import { describe, it, expect } from 'vitest';
import { parseType, shape, signatureText, typeLikeness, typeMatch, typeTokens } from '../indexer/signature.js';

const canonical = (t: string) => {
  const parsed = parseType(t);
  return parsed ? shape(parsed, new Map()) : undefined;
};

describe('parseType', () => {
  it.each([
    ['string -> char -> string list', '(string -> (char -> string list))'],
    ["'x list -> ('x -> bool) -> 'x list", "('a list -> (('a -> bool) -> 'a list))"],
    ['?sep:string -> string list -> string', '(string -> (string list -> string))'],
    ['(int, string) result -> int option', '((int, string) result -> int option)'],
    ['int * string -> unit', '((int * string) -> unit)'],
    ["'a 'b. ('a -> 'b) -> 'a -> 'b", "(('a -> 'b) -> ('a -> 'b))"],
    ['Base.String.t -> Unix.file_descr', '(string -> file_descr)'],
  ])('reads %s as %s', (text, expected) => {
    expect(canonical(text)).toBe(expected);
  });

  it.each(['', 'how do I split a string, then join it?', '[ `A | `B ] -> int', 'int ->', '(int, string)'])('refuses %j', (text) => {
    expect(parseType(text)).toBeUndefined();
  });
});

describe('signatureText', () => {
  it('takes the type of a val or external, without attributes, comments or primitive names', () => {
    expect(signatureText('val split : char -> string -> string list [@@deprecated "use x"]')).toBe('char -> string -> string list');
    expect(signatureText('external length : string -> int = "%string_length"')).toBe('string -> int');
    expect(signatureText('val ( >>= ) : (* bind *) \'a t -> (\'a -> \'b t) -> \'b t')).toBe("'a t -> ('a -> 'b t) -> 'b t");
    expect(signatureText('let f x = x')).toBeUndefined();
  });
});

describe('typeMatch', () => {
  const m = (q: string, c: string) => typeMatch(parseType(q)!, parseType(c)!);
  it('is 1 for the same type up to variable names, 0.9 for reordered arguments, less for near misses', () => {
    expect(m("'b list -> ('b -> bool) -> 'b list", "'a list -> ('a -> bool) -> 'a list")).toBe(1);
    expect(m("'b list -> ('b -> bool) -> 'b list", "('a -> bool) -> 'a list -> 'a list")).toBe(0.9);
    const nearMiss = m('string -> char -> string list', 'string -> string list');
    expect(nearMiss).toBeGreaterThan(0.3);
    expect(nearMiss).toBeLessThan(0.9);
    expect(m('string -> int', 'float -> unit')).toBeLessThan(0.3);
  });

  it('typeLikeness also takes the same skeleton with other constructors, more alike the more they share', () => {
    const like = (q: string, c: string) => typeLikeness(parseType(q)!, parseType(c)!);
    expect(like("'a testable -> 'a Seq.t testable", "'b testable -> 'b Seq.t testable")).toBe(1);
    const container = like("'a testable -> 'a Seq.t testable", "'a testable -> 'a list testable");
    expect(container).toBeGreaterThan(0.55);
    expect(container).toBeGreaterThan(like("'a testable -> 'a Seq.t testable", "'a t -> 'a list t"));
    expect(like("'a testable -> 'a Seq.t testable", "'a testable -> 'b testable -> ('a * 'b) testable")).toBeLessThan(0.55);
    expect(like('string -> int', 'float -> unit')).toBe(m('string -> int', 'float -> unit'));
  });

  it('indexes constructors, result head and arity as search tokens', () => {
    expect(typeTokens(parseType('string -> char -> string list')!)).toEqual(['string', 'char', 'list', 'resultlist', 'arity2']);
  });
});

describe('search by type over an index', () => {
  it("finds a polymorphic val whatever its argument order and variable names: 'b list -> ('b -> bool) -> 'b list", async () => {
    const { indexRepo } = await import('../indexer/pipeline.js');
    const { Searcher } = await import('../server/search.js');
    const { cleanupTempDirs, copyFixture, makeTempDir } = await import('./helpers.js');
    const db = `${makeTempDir('cs-db-')}/index`;
    await indexRepo({ root: copyFixture('netkit'), db, embedder: null });
    const searcher = await Searcher.open(db);
    try {
      expect((await searcher.search("'b list -> ('b -> bool) -> 'b list"))[0]).toMatchObject({ name: 'keep', path: 'src/listx.mli' });
      expect((await searcher.search("('x -> 'y option) -> 'x list -> 'y list"))[0]).toMatchObject({ name: 'filter_map' });
      expect((await searcher.search("'a list -> int"))[0]).toMatchObject({ name: 'count' });
    } finally {
      searcher.close();
      cleanupTempDirs();
    }
  });
});
