// Reading a question: which of its words are searched for.
import { describe, it, expect } from 'vitest';
import { parseQuery, signatureIn, spacedQualifiedName } from '../server/query.js';
import { shape } from '../indexer/signature.js';

describe('spacedQualifiedName: a qualified name typed with spaces for dots', () => {
  it.each([
    ['In_channel fold_lines', { name: 'fold_lines', qualifiers: ['In_channel'] }],
    ['Dom_html addEventListener', { name: 'addEventListener', qualifiers: ['Dom_html'] }],
    ['lwt_unix sleep', { name: 'sleep', qualifiers: ['Lwt_unix'] }],
    ['Base String split', { name: 'split', qualifiers: ['Base', 'String'] }],
  ])('reads %s', (query, expected) => {
    expect(spacedQualifiedName(query)).toEqual(expected);
  });

  it.each(['fold_lines', 'list map', 'how do I read a file', 'String.split', 'A B C D e', 'Lwt (fun x)'])('leaves %s alone', (query) => {
    expect(spacedQualifiedName(query)).toBeUndefined();
  });
});

describe('parseQuery: the libraries a question names', () => {
  it("takes a short word for a library when the question calls it one or it owns something (re's)", () => {
    expect(parseQuery('in the re library, an option-returning group accessor').scopeWords).toContain('re');
    expect(parseQuery('ocaml-re: all the matches').scopeWords).toContain('re');
    expect(parseQuery('re-read the file after a change').scopeWords).not.toContain('re');
    expect(parseQuery('is there a library for it').scopeWords).not.toContain('a');
    // A short word owning something is a name too, but not "it's".
    expect(parseQuery("Support a DOTALL flag in re's PCRE-compatible interface").scopeWords).toContain('re');
    expect(parseQuery("Re's shell-glob compiler treats a backslash as an escape").scopeWords).toContain('re');
    expect(parseQuery("it's a flag of the parser").scopeWords).not.toContain('it');
  });

  it('takes the modules it names: a word with an underscore, or one it calls a module', () => {
    expect(parseQuery("Lwt_list has map_s but no concat_map_s").moduleWords).toEqual(['lwt_list', 'map_s', 'concat_map_s']);
    expect(parseQuery("add a filter to the standard library's Option module").moduleWords).toEqual(['option']);
    expect(parseQuery('a find_or_add for module Hashtbl').moduleWords).toEqual(['find_or_add', 'hashtbl']);
    // A module it names is what it is about, not a kind of definition it asks for.
    expect(parseQuery("add a filter to the Option module").askedKinds).toEqual([]);
    expect(parseQuery('which module implements strongly connected components').askedKinds).toEqual(['module']);
  });

  it('looks for quoted messages, not quoted code of one word and a variable', () => {
    expect(parseQuery('keep `Some v` only when the predicate holds').phrases).toEqual([]);
    expect(parseQuery('fails with "Not Found" on a missing key').phrases).toEqual(['Not Found']);
  });
});

describe('parseQuery: negated clauses', () => {
  it.each([
    ['hashtable lookup that returns an option instead of raising Not_found', 'hashtable lookup that returns an option'],
    ['apply a function to every list element sequentially, not in parallel', 'apply a function to every list element sequentially'],
    ['pause for 2 seconds without blocking the other threads', 'pause for 2 seconds'],
    ['sort a list rather than an array, keeping equal elements in order', 'sort a list , keeping equal elements in order'],
    ['parse a number but not a float', 'parse a number'],
    ['where are two terms compared by lazy reduction (not the VM or native path) in the kernel', 'where are two terms compared by lazy reduction in the kernel'],
  ])('%s asks for: %s', (query, wanted) => {
    expect(parseQuery(query).wanted).toBe(wanted);
  });

  it('leaves out the negated words from what is searched, thesaurus expansions included', () => {
    const q = parseQuery('lookup that returns an option instead of raising Not_found');
    expect(q.tokens).not.toContain('rais');
    expect(q.terms).not.toContain('exn');
    expect(q.tokens).toContain('option');
    expect(q.terms).toContain('opt');
  });

  it.each([
    'where does ppxlib report attributes that no rewriter consumed',
    'not found',
    'functions that are not tail recursive',
    'sort a list without duplicates',
    'convert a string to an int without an exception',
  ])('keeps "%s" whole: "no", a plain "not" and "without" a verb in -ing describe, they do not exclude', (query) => {
    expect(parseQuery(query).wanted).toBe(query);
  });

  it('keeps a long clause after "without": it describes rather than excludes one thing', () => {
    const query = 'run a command without waiting for it to finish writing all of its output to the pipe';
    expect(parseQuery(query).wanted).toBe(query);
  });
});

describe('parseQuery: the kinds of definition asked for', () => {
  it.each([
    ['the record type of a point in the plane', ['type']],
    ['the signature a hashable key must implement', ['module_type']],
    ['where are record fields converted to sexp', []],
    ['where is the record type of a point defined', ['type']],
    ['load a value from a file, raising an exception if it fails to parse', []],
    ['the exception raised when a file fails to load', ['exception']],
    ['run cleanup code whether my function returns or blows up with an exception', []],
    ['a module with a signature of its own', ['module_type', 'module']],
    ['split a string on a character', []],
    ['compare Left/Right values the way the result testable handles Ok/Error', []],
    ['the error message lists the missing fields of a record read from an s-expression', ['type']],
    ['Error values of the parser, as an exception', ['exception']],
    ['Type of a point in the plane', ['type']],
    ['a change to the plane geometry:\nType of a point in the plane', ['type']],
  ])('%s: %j', (query, kinds) => {
    expect(parseQuery(query).askedKinds).toEqual(kinds);
  });
});

describe('signatureIn: the type a prompt gives a new function', () => {
  it.each([
    ["Add Option.filter : ('a -> bool) -> 'a option -> 'a option to the stdlib, with a test", 'Option.filter', "(('a -> bool) -> ('a option -> 'a option))"],
    ["add Hashtbl.find_or_add : ('a, 'b) t -> 'a -> default:(unit -> 'b) -> 'b, for both functors", 'Hashtbl.find_or_add', "(('a, 'b) t -> ('a -> ((unit -> 'b) -> 'b)))"],
    ['add CString.strip_prefix : prefix:string -> string -> string option, returning the rest', 'CString.strip_prefix', '(string -> (string -> string option))'],
    ["Add Alcotest.seq : 'a testable -> 'a Seq.t testable that compares sequences", 'Alcotest.seq', "('a testable -> 'a seq testable)"],
    ['csexp: add to_string_many: sexp list -> string, the inverse of parse_string_many', 'to_string_many', '(sexp list -> string)'],
    ["add `Stack.drop : 'a t -> unit` to the stdlib", 'Stack.drop', "('a t -> unit)"],
    ["add `Stack.drop` : 'a t -> unit, like pop", 'Stack.drop', "('a t -> unit)"],
  ])('%s', (prompt, name, type) => {
    const found = signatureIn(prompt)!;
    expect([...found.ref.qualifiers, found.ref.name].join('.')).toBe(name);
    expect(shape(found.type, new Map())).toBe(type);
  });

  it('is none without a function type after a name', () => {
    expect(signatureIn('Base.List.chunks_of: add an optional ?drop_partial:bool argument')).toBeUndefined();
    expect(signatureIn('add a field count : int to the record')).toBeUndefined();
    expect(signatureIn('give String.concat a ~sep:string -> unit argument')).toBeUndefined();
    expect(signatureIn('how do I split a string on a character')).toBeUndefined();
  });
});
