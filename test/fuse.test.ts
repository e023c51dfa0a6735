// Fusion alone: candidates from several retrievers become one ranked list.
import { describe, it, expect } from 'vitest';
import type { ChunkHit } from '../indexer/store.js';
import { fuse } from '../server/fuse.js';
import { parseQuery } from '../server/query.js';
import type { Candidate } from '../server/retrieve/types.js';

function hit(id: string, path: string, counterpart = ''): ChunkHit {
  return { id, path, lang: path.endsWith('.mli') ? 'mli' : 'ml', startLine: 1, endLine: 3, name: id, symbol: `M.${id}`, kind: 'value', doc: '', text: `let ${id} = ()`, part: 0, parts: 0, depth: 0, counterpart, rawScore: 0 };
}

const context = { directories: new Set<string>(), explain: true };

/** Ranks the same full-text candidates, scored as given, for each question asked. */
function rankerOver(candidates: [chunk: ChunkHit, score: number][]): (query: string) => string[] {
  const byRetriever = new Map<string, Candidate[]>([['fulltext', candidates.map(([chunk, score]) => ({ id: chunk.id, chunk, score }))]]);
  return (query) => fuse(parseQuery(query), byRetriever, context).map((h) => h.chunk.id);
}

describe('fuse', () => {
  it('scores a definition and its declaration for what either side was found by', () => {
    const decl = hit('decl', 'src/m.mli', 'impl');
    const impl = hit('impl', 'src/m.ml', 'decl');
    const other = hit('other', 'src/n.mli');
    const byRetriever = new Map<string, Candidate[]>([
      // The declaration's doc matched the words, as did another declaration's, equally well.
      ['fulltext', [{ id: 'decl', chunk: decl, score: 0.8 }, { id: 'other', chunk: other, score: 0.8 }]],
      // Only the definition's code was near the question's vector, found without its row.
      ['vector', [{ id: 'impl', score: 1 }]],
    ]);
    const ranked = fuse(parseQuery('open a connection'), byRetriever, context);
    expect(ranked.map((h) => h.chunk.id)).toEqual(['decl', 'other']);
    expect(ranked[0]!.trace).toContainEqual(['vector', 0.3]);
    expect(ranked[1]!.trace.some(([what]) => what === 'vector')).toBe(false);
  });

  it('favours the library a question names, or the family of libraries a word starts (coq for coq-core)', () => {
    const inCoq = hit('coq', 'coq-core/lib/cWarnings.ml');
    const inOcaml = hit('ocaml', 'ocaml/testsuite/warning-flags/location.ml');
    const byRetriever = new Map<string, Candidate[]>([['fulltext', [{ id: 'ocaml', chunk: inOcaml, score: 0.9 }, { id: 'coq', chunk: inCoq, score: 0.8 }]]]);
    const directories = new Set(['coq-core', 'lib', 'ocaml', 'testsuite', 'ocamlgraph', 'warning-flags']);
    const libraries = new Set(['coq-core', 'ocaml', 'ocamlgraph']);
    const ranked = (query: string) => fuse(parseQuery(query), byRetriever, { directories, libraries, explain: true }).map((h) => h.chunk.id);
    expect(ranked('how are warning flags parsed')).toEqual(['ocaml', 'coq']);
    expect(ranked('how are Coq warning flags parsed')).toEqual(['coq', 'ocaml']);
    // Only a library's name starts a family: a deeper `warning-flags` directory does not make "warning" one.
    expect(fuse(parseQuery('how are warning flags parsed'), byRetriever, { directories, libraries, explain: true })[0]!.trace.some(([what]) => what === 'scope')).toBe(false);
    expect(ranked('how does the OCaml parser report warning flags')).toEqual(['ocaml', 'coq']);
    // Both named: both favoured.
    expect(ranked('how are Coq warning flags parsed, in ocaml')).toEqual(['ocaml', 'coq']);
  });

  it('does not favour a test directory a question names, unless it asks about tests', () => {
    const code = hit('code', 'ocaml/parsing/parse.ml');
    const test = hit('test', 'ocaml/testsuite/tests/parsetree/source.ml');
    const byRetriever = new Map<string, Candidate[]>([['fulltext', [{ id: 'test', chunk: test, score: 0.9 }, { id: 'code', chunk: code, score: 0.8 }]]]);
    const scoped = { directories: new Set(['ocaml', 'parsing', 'testsuite', 'tests', 'parsetree']), libraries: new Set(['ocaml']), explain: true };
    const scopeOf = (query: string, id: string) => fuse(parseQuery(query), byRetriever, scoped).find((h) => h.chunk.id === id)!.trace.some(([what]) => what === 'scope');
    expect(scopeOf('parse OCaml source code into a Parsetree', 'test')).toBe(false);
    expect(scopeOf('parse OCaml source code into a Parsetree', 'code')).toBe(true);
    expect(scopeOf('the tests that print a Parsetree back as source', 'test')).toBe(true);
  });

  it('favours the file a module name with an underscore names (Lwt_list), not the files of a bare word', () => {
    const lwtList = hit('lwt', 'lwt/lwt_list.ml');
    const baseList = hit('base', 'base/list.ml');
    const byRetriever = new Map<string, Candidate[]>([['fulltext', [{ id: 'base', chunk: baseList, score: 0.9 }, { id: 'lwt', chunk: lwtList, score: 0.8 }]]]);
    const scoped = { directories: new Set(['lwt', 'base']), libraries: new Set(['lwt', 'base']), units: new Set(['lwt_list', 'list']), explain: true };
    const ranked = (query: string) => fuse(parseQuery(query), byRetriever, scoped).map((h) => h.chunk.id);
    expect(ranked('sequential and concurrent map over a list')).toEqual(['base', 'lwt']);
    expect(ranked('Lwt_list has sequential and concurrent map')).toEqual(['lwt', 'base']);
  });

  it('leaves the vectors out of a symbol lookup', () => {
    const byRetriever = new Map<string, Candidate[]>([
      ['symbol', [{ id: 'a', chunk: hit('a', 'a.ml'), score: 0.5 }]],
      ['vector', [{ id: 'b', chunk: hit('b', 'b.ml'), score: 1 }, { id: 'a', score: 1 }]],
    ]);
    const ranked = fuse(parseQuery('Conn.open_connection'), byRetriever, context);
    expect(ranked.map((h) => h.chunk.id)).toEqual(['a']);
    expect(ranked[0]!.trace.some(([what]) => what === 'vector')).toBe(false);
  });

  it('scores a definition holding every word as the last of the full-text list when the list left it out', () => {
    const [a, b, whole] = [hit('a', 'a.mli'), hit('b', 'b.mli'), hit('whole', 'w.mli')];
    const byRetriever = new Map<string, Candidate[]>([
      ['fulltext', [{ id: 'a', chunk: a, score: 1 }, { id: 'b', chunk: b, score: 0.4 }]],
      ['every-word', [{ id: 'whole', chunk: whole, score: 1 }, { id: 'b', chunk: b, score: 1 }]],
    ]);
    const ranked = fuse(parseQuery('connection pool size'), byRetriever, context);
    const traceOf = (id: string) => ranked.find((h) => h.chunk.id === id)!.trace;
    expect(traceOf('whole')).toContainEqual(['fulltext', 0.4]);
    // A definition the list holds keeps its own score.
    expect(traceOf('b').filter(([what]) => what === 'fulltext')).toEqual([['fulltext', 0.4]]);
    expect(traceOf('a')).toContainEqual(['fulltext', 1]);
  });

  it('ranks a long module below an equally matched member unless the question asks for a module or names one', () => {
    const container: ChunkHit = { ...hit('Pool', 'src/pool.mli'), kind: 'module', startLine: 1, endLine: 60 };
    const member: ChunkHit = { ...hit('resize', 'src/pool.mli'), startLine: 20, endLine: 22 };
    const rank = rankerOver([[container, 1], [member, 0.95]]);
    expect(rank('grow the connection pool')).toEqual(['resize', 'Pool']);
    expect(rank('change Conn.Pool to grow')).toEqual(['Pool', 'resize']);
    expect(rank('module of the connection pool')).toEqual(['Pool', 'resize']);
    // A short module is an answer of its own.
    expect(rankerOver([[{ ...container, endLine: 5 }, 1], [member, 0.95]])('grow the connection pool')).toEqual(['Pool', 'resize']);
  });

  it('gives a "where" question the code that works on the kind it names, unless it asks where that is defined', () => {
    const type: ChunkHit = { ...hit('field', 'src/record.ml'), kind: 'type' };
    const converter: ChunkHit = hit('convert_field', 'src/record.ml');
    const rank = rankerOver([[type, 1], [converter, 0.95]]);
    expect(rank('where are record fields converted')).toEqual(['convert_field', 'field']);
    expect(rank('record type of the fields')).toEqual(['field', 'convert_field']);
    expect(rank('where is the record of fields defined')).toEqual(['field', 'convert_field']);
  });

  it('takes "raising an exception" for what the code does, "the exception raised" for what is asked', () => {
    const failure: ChunkHit = { ...hit('Parse_failure', 'src/load.ml'), kind: 'exception' };
    const loader: ChunkHit = hit('load_value', 'src/load.ml');
    // Without the kind bonus the loader leads; with it (0.75) the exception does.
    const rank = rankerOver([[failure, 0.7], [loader, 1]]);
    expect(rank('load a value from a file, raising an exception if it fails to parse')).toEqual(['load_value', 'Parse_failure']);
    expect(rank('load a value, returns an error when the file is bad')).toEqual(['load_value', 'Parse_failure']);
    expect(rank('check that loading a bad value throws one particular exception')).toEqual(['load_value', 'Parse_failure']);
    expect(rank('the exception raised when a file fails to load')).toEqual(['Parse_failure', 'load_value']);
  });
});
