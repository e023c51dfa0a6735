// Where a file sits in the OCaml module namespace: dune library stanzas and installed layouts.
import { describe, it, expect } from 'vitest';
import { parseDuneLibraries, createModuleResolver, moduleNameOfFile } from '../indexer/modules.js';

describe('parseDuneLibraries', () => {
  it('reads one library stanza', () => {
    expect(parseDuneLibraries('(library (name strkit))')).toEqual({ libraries: [{ name: 'strkit', wrapped: true }], includeSubdirs: false });
  });

  it('reads several stanzas, skips comments and non-library stanzas, and honours (wrapped false)', () => {
    const dune = [
      '; (library (name commented_out))',
      '(library ; a trailing comment',
      ' (name real) ; the name',
      ' (public_name pkg.real)',
      ' (wrapped false)',
      ' (libraries unix str))',
      '',
      '(executable (name main) (libraries real))',
      '',
      '(library',
      ' (public_name pkg.second)',
      ' (name second)',
      ' (preprocess (pps ppx_deriving.show)))',
      '(test (name test_real))',
    ].join('\n');
    expect(parseDuneLibraries(dune)).toEqual({
      libraries: [
        { name: 'real', wrapped: false },
        { name: 'second', wrapped: true },
      ],
      includeSubdirs: false,
    });
  });

  it('sees (include_subdirs unqualified) and (include_subdirs qualified)', () => {
    expect(parseDuneLibraries('(include_subdirs unqualified)\n(library (name a))').includeSubdirs).toBe(true);
    expect(parseDuneLibraries('(include_subdirs qualified)\n(library (name a))').includeSubdirs).toBe(true);
    expect(parseDuneLibraries('(include_subdirs no)\n(library (name a))').includeSubdirs).toBe(false);
    expect(parseDuneLibraries('; (include_subdirs unqualified)\n(library (name a))').includeSubdirs).toBe(false);
  });

  it('returns nothing for a dune file without libraries', () => {
    expect(parseDuneLibraries('(executable (name main))\n(rule (targets x.ml) (action (run gen)))')).toEqual({ libraries: [], includeSubdirs: false });
    expect(parseDuneLibraries('')).toEqual({ libraries: [], includeSubdirs: false });
  });

  // Regression: `;` starts a comment only outside strings; a quoted `;` once swallowed the
  // rest of its line and the library was lost.
  it('treats `;` inside a quoted string as text, not as a comment', () => {
    const dune = ['(rule', ' (targets v.ml)', ' (action (system "echo a; echo b > v.ml")))', '', '(library (name after_rule))'].join('\n');
    expect(parseDuneLibraries(dune).libraries).toEqual([{ name: 'after_rule', wrapped: true }]);
    const flags = '(library (name flagged) (flags (:standard -w "+a;-4")))';
    expect(parseDuneLibraries(flags).libraries).toEqual([{ name: 'flagged', wrapped: true }]);
  });

  // Regression: dune's block comments `#| ... |#` hide what they contain.
  it('skips #| block comments |#', () => {
    expect(parseDuneLibraries('#| (library (name old)) |#\n(library (name current))').libraries).toEqual([{ name: 'current', wrapped: true }]);
  });
});

describe('moduleNameOfFile', () => {
  it('capitalises the file name and maps other characters to _', () => {
    expect(moduleNameOfFile('src/strkit_string.ml')).toBe('Strkit_string');
    expect(moduleNameOfFile('src/strkit_string.mli')).toBe('Strkit_string');
    expect(moduleNameOfFile('a/my-file.ml')).toBe('My_file');
  });
});

describe('createModuleResolver', () => {
  it('qualifies a file of a wrapped dune library as Lib.File', () => {
    const r = createModuleResolver(['src/strkit_string.ml', 'src/strkit_string.mli', 'src/shapes.ml'], new Map([['src/dune', '(library (name strkit))']]));
    expect(r.qualifierOf('src/strkit_string.ml')).toEqual(['Strkit', 'Strkit_string']);
    expect(r.qualifierOf('src/strkit_string.mli')).toEqual(['Strkit', 'Strkit_string']);
    expect(r.qualifierOf('src/shapes.ml')).toEqual(['Strkit', 'Shapes']);
  });

  it('qualifies the wrapper module lib/lib.ml as just Lib', () => {
    const r = createModuleResolver(['lib/mylib.ml', 'lib/util.ml'], new Map([['lib/dune', '(library (name mylib))']]));
    expect(r.qualifierOf('lib/mylib.ml')).toEqual(['Mylib']);
    expect(r.qualifierOf('lib/util.ml')).toEqual(['Mylib', 'Util']);
  });

  it('gives files of an unwrapped library their own module name only', () => {
    const r = createModuleResolver(['un/u.ml'], new Map([['un/dune', '(library (name unw) (wrapped false))']]));
    expect(r.qualifierOf('un/u.ml')).toEqual(['U']);
  });

  it('recognises an installed library by its alias module lib__.ml', () => {
    const paths = ['_opam/lib/base/base__.ml', 'opam/lib/base/base__.ml', 'opam/lib/base/string.ml', 'opam/lib/base/string.mli', 'opam/lib/base/base.ml'];
    const r = createModuleResolver(paths, new Map());
    expect(r.qualifierOf('opam/lib/base/string.ml')).toEqual(['Base', 'String']);
    expect(r.qualifierOf('opam/lib/base/string.mli')).toEqual(['Base', 'String']);
    expect(r.qualifierOf('opam/lib/base/base.ml')).toEqual(['Base']);
  });

  it('recognises an installed library by a main module named like its directory', () => {
    const r = createModuleResolver(['opam/lib/ppx-foo/ppx_foo.ml', 'opam/lib/ppx-foo/util.ml'], new Map());
    expect(r.qualifierOf('opam/lib/ppx-foo/ppx_foo.ml')).toEqual(['Ppx_foo']);
    expect(r.qualifierOf('opam/lib/ppx-foo/util.ml')).toEqual(['Ppx_foo', 'Util']);
  });

  it('uses the file module alone when no library covers the file', () => {
    const r = createModuleResolver(['main.ml', 'bin/cli.ml', 'src/x.ml'], new Map([['bin/dune', '(executable (name cli))'], ['src/dune', '(library (name strkit))']]));
    expect(r.qualifierOf('main.ml')).toEqual(['Main']);
    expect(r.qualifierOf('bin/cli.ml')).toEqual(['Cli']);
    // A library covers its own directory only, not subdirectories...
    const nested = createModuleResolver(['src/sub/y.ml'], new Map([['src/dune', '(library (name strkit))']]));
    expect(nested.qualifierOf('src/sub/y.ml')).toEqual(['Y']);
  });

  it('covers subdirectories of a library with (include_subdirs unqualified)', () => {
    const r = createModuleResolver(['inc/a/deep.ml', 'inc/top.ml'], new Map([['inc/dune', '(include_subdirs unqualified)\n(library (name incl))']]));
    expect(r.qualifierOf('inc/a/deep.ml')).toEqual(['Incl', 'Deep']);
    expect(r.qualifierOf('inc/top.ml')).toEqual(['Incl', 'Top']);
  });
});
