import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { walkRepo, type WalkOptions, type WalkResult } from '../indexer/walk.js';
import { parseHgignore, globToRegexSource } from '../indexer/hgignore.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-walk-'));
  tempDirs.push(dir);
  return dir;
}

/** Creates a repo from { 'rel/path': contents }; returns its root. */
function makeRepo(files: Record<string, string>): string {
  const root = tempDir();
  writeFiles(root, files);
  return root;
}

function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, contents] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, contents);
  }
}

async function walk(root: string, extra: Partial<WalkOptions> = {}) {
  const warnings: string[] = [];
  const result: WalkResult = await walkRepo({
    root,
    onWarning: (m) => warnings.push(m),
    ...extra,
  });
  return { ...result, paths: result.files.map((f) => f.path), warnings };
}

describe('walkRepo: file selection', () => {
  it('returns only .ml, .mli and dune files, sorted, with relative / paths', async () => {
    const root = makeRepo({
      'dune': '(dirs lib)',
      'dune-project': '(lang dune 3.0)',
      'README.md': '# hi',
      'main.ml': 'let () = ()',
      'main.mli': '',
      'lexer.mll': '',
      'parser.mly': '',
      'lib/dune': '(library (name lib))',
      'lib/a.ml': 'let a = 1',
      'lib/a.ml.bak': '',
      'lib/sub/b.mli': 'val b : int',
      'lib/sub/notdune': '',
      'lib.ml': '',
    });
    const { files, paths, skipped, warnings } = await walk(root);
    expect(paths).toEqual([
      'dune',
      'lib.ml',
      'lib/a.ml',
      'lib/dune',
      'lib/sub/b.mli',
      'main.ml',
      'main.mli',
    ]);
    expect(files.map((f) => f.kind)).toEqual(['dune', 'ml', 'ml', 'dune', 'mli', 'ml', 'mli']);
    const a = files.find((f) => f.path === 'lib/a.ml');
    expect(a?.absPath).toBe(path.join(root, 'lib', 'a.ml'));
    expect(a?.size).toBe('let a = 1'.length);
    expect(a?.mtimeMs).toBe(fs.statSync(path.join(root, 'lib/a.ml')).mtimeMs);
    expect(skipped).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('throws a clear error when root is missing or not a directory', async () => {
    const dir = tempDir();
    await expect(walkRepo({ root: path.join(dir, 'nope') })).rejects.toThrow(/cannot be accessed/);
    fs.writeFileSync(path.join(dir, 'file'), '');
    await expect(walkRepo({ root: path.join(dir, 'file') })).rejects.toThrow(/not a directory/);
  });
});

describe('walkRepo: ignore files', () => {
  it('honours .gitignore in root and subdirectories, including negation', async () => {
    const root = makeRepo({
      '.gitignore': '*.gen.ml\nvendor/\n/top.ml\n',
      'a.ml': '',
      'top.ml': '',
      'x.gen.ml': '',
      'vendor/v.ml': '',
      'sub/.gitignore': '!keep.gen.ml\nlocal.ml\n',
      'sub/top.ml': '',
      'sub/keep.gen.ml': '',
      'sub/drop.gen.ml': '',
      'sub/local.ml': '',
      'sub/deep/local.ml': '',
      'sub/deep/vendor/v.ml': '',
      'other/local.ml': '',
    });
    const { paths } = await walk(root);
    expect(paths).toEqual(['a.ml', 'other/local.ml', 'sub/keep.gen.ml', 'sub/top.ml']);
  });

  it('honours .codesearchignore, which overrides .gitignore at the same level', async () => {
    const root = makeRepo({
      '.gitignore': 'generated.ml\n',
      '.codesearchignore': 'tests/\n*.pp.ml\n!generated.ml\n',
      'generated.ml': '',
      'a.ml': '',
      'a.pp.ml': '',
      'tests/t.ml': '',
      'lib/tests/t.ml': '',
      'lib/.codesearchignore': 'secret.mli\n',
      'lib/secret.mli': '',
      'lib/public.mli': '',
      'secret.mli': '',
    });
    const { paths } = await walk(root);
    expect(paths).toEqual(['a.ml', 'generated.ml', 'lib/public.mli', 'secret.mli']);
  });

  it('honours .hgignore with the default regexp syntax', async () => {
    const root = makeRepo({
      '.hgignore': '# default syntax is regexp\n\\.pp\\.ml$\n^scratch\n',
      'a.ml': '',
      'b.pp.ml': '',
      'lib/c.pp.ml': '',
      'scratch/s.ml': '',
      'scratchpad.ml': '',
      'lib/scratch/x.ml': '',
    });
    const { paths } = await walk(root);
    expect(paths).toEqual(['a.ml', 'lib/scratch/x.ml']);
  });

  it('honours .hgignore syntax sections and per-line prefixes', async () => {
    const root = makeRepo({
      '.hgignore': [
        'syntax: glob',
        '*.tmp.ml',
        'build',
        'syntax: regexp',
        '^old/',
        'glob:gen_*.ml',
        'path:docs/api',
        'rootglob:only_root.ml',
      ].join('\n'),
      'a.ml': '',
      'x.tmp.ml': '',
      'lib/y.tmp.ml': '',
      'build/b.ml': '',
      'lib/build/b.ml': '',
      'lib/builder.ml': '',
      'old/o.ml': '',
      'lib/old/o.ml': '',
      'gen_parser.ml': '',
      'lib/gen_lexer.ml': '',
      'docs/api/d.ml': '',
      'docs/guide/g.ml': '',
      'lib/docs/api/d.ml': '',
      'only_root.ml': '',
      'lib/only_root.ml': '',
    });
    const { paths, warnings } = await walk(root);
    expect(paths).toEqual([
      'a.ml',
      'docs/guide/g.ml',
      'lib/builder.ml',
      'lib/docs/api/d.ml',
      'lib/old/o.ml',
      'lib/only_root.ml',
    ]);
    expect(warnings).toEqual([]);
  });

  it('applies a .hgignore in a subdirectory to that subdirectory only', async () => {
    const root = makeRepo({
      'private.ml': '',
      'sub/.hgignore': '^private\n',
      'sub/private.ml': '',
      'sub/public.ml': '',
      'sub/inner/private.ml': '',
    });
    const { paths } = await walk(root);
    expect(paths).toEqual(['private.ml', 'sub/inner/private.ml', 'sub/public.ml']);
  });

  it('warns about an invalid .hgignore regexp and keeps the other lines', async () => {
    const root = makeRepo({
      '.hgignore': '(unclosed\n\\.gen\\.ml$\n',
      'a.ml': '',
      'a.gen.ml': '',
    });
    const { paths, warnings } = await walk(root);
    expect(paths).toEqual(['a.ml']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\.hgignore: line 1: invalid pattern "\(unclosed"/);
  });
});

describe('walkRepo: skipped directories', () => {
  it('never enters _build, .hg, .git, _opam, node_modules, .codesearch or excludePaths', async () => {
    const root = makeRepo({
      'a.ml': '',
      '_build/default/a.ml': '',
      'lib/_build/x.ml': '',
      '.hg/store/x.ml': '',
      '.git/x.ml': '',
      '_opam/lib/x.ml': '',
      'node_modules/pkg/x.ml': '',
      '.codesearch/x.ml': '',
      'index/x.ml': '',
      'lib/keep.ml': '',
      'lib/excluded/x.ml': '',
    });
    const { paths } = await walk(root, {
      excludePaths: [path.join(root, 'index'), path.join(root, 'lib', 'excluded')],
    });
    expect(paths).toEqual(['a.ml', 'lib/keep.ml']);
  });

  it.skipIf(process.getuid?.() === 0)('warns once about an unreadable directory', async () => {
    const root = makeRepo({ 'a.ml': '', 'locked/x.ml': '' });
    fs.chmodSync(path.join(root, 'locked'), 0o000);
    try {
      const { paths, warnings } = await walk(root);
      expect(paths).toEqual(['a.ml']);
      expect(warnings).toEqual(['cannot read directory locked: EACCES']);
    } finally {
      fs.chmodSync(path.join(root, 'locked'), 0o755);
    }
  });
});

describe('walkRepo: symlinks', () => {
  it('terminates on symlink loops and lists each file once under its real path', async () => {
    const root = makeRepo({ 'top.ml': '', 'src/a.ml': '', 'src/nested/b.mli': '' });
    fs.symlinkSync('..', path.join(root, 'src', 'up'));
    fs.symlinkSync('.', path.join(root, 'src', 'nested', 'self'));
    // Sorts before `src`, but the real directory must still win.
    fs.symlinkSync('src', path.join(root, 'alias'));
    const { paths, warnings } = await walk(root);
    expect(paths).toEqual(['src/a.ml', 'src/nested/b.mli', 'top.ml']);
    expect(warnings).toEqual([]);
  });

  it('follows symlinked files and directories that stay inside root', async () => {
    const root = makeRepo({ 'src/a.ml': '', 'hidden/h.ml': '', '.gitignore': 'hidden/\n' });
    fs.symlinkSync(path.join('..', 'src', 'a.ml'), path.join(root, 'src', 'link.ml'));
    fs.symlinkSync('hidden', path.join(root, 'shown'));
    const { paths, files } = await walk(root);
    expect(paths).toEqual(['shown/h.ml', 'src/a.ml', 'src/link.ml']);
    expect(files.find((f) => f.path === 'src/link.ml')?.absPath).toBe(
      path.join(root, 'src', 'link.ml'),
    );
  });

  it('does not follow symlinks leading outside root, and reports broken ones', async () => {
    const outside = makeRepo({ 'o.ml': '', 'deep/p.ml': '' });
    const root = makeRepo({ 'a.ml': '' });
    fs.symlinkSync(outside, path.join(root, 'ext'));
    fs.symlinkSync(path.join(outside, 'o.ml'), path.join(root, 'ext.ml'));
    fs.symlinkSync('missing.ml', path.join(root, 'broken.ml'));
    const { paths, skipped, warnings } = await walk(root);
    expect(paths).toEqual(['a.ml']);
    expect(skipped).toEqual([
      { path: 'broken.ml', reason: 'broken symlink (ENOENT)' },
      { path: 'ext', reason: 'symlink target is outside the repository' },
      { path: 'ext.ml', reason: 'symlink target is outside the repository' },
    ]);
    expect(warnings).toEqual([
      'skipped broken.ml: broken symlink (ENOENT)',
      'skipped ext: symlink target is outside the repository',
      'skipped ext.ml: symlink target is outside the repository',
    ]);
  });
});

describe('walkRepo: file size limit', () => {
  it('skips files over 1 MB, dune files too, with exactly one warning each', async () => {
    const root = makeRepo({
      'small.ml': 'let x = 1',
      'big.ml': 'x'.repeat(2_300_000),
      'edge.ml': 'x'.repeat(1_000_000),
      'dune': 'x'.repeat(1_500_000),
    });
    const { paths, skipped, warnings } = await walk(root);
    expect(paths).toEqual(['edge.ml', 'small.ml']);
    expect(skipped).toEqual([
      { path: 'big.ml', reason: 'larger than 1 MB (2.3 MB)' },
      { path: 'dune', reason: 'larger than 1 MB (1.5 MB)' },
    ]);
    expect(warnings).toEqual(['skipped big.ml: larger than 1 MB (2.3 MB)', 'skipped dune: larger than 1 MB (1.5 MB)']);
  });

  it('respects a custom maxFileBytes', async () => {
    const root = makeRepo({ 'a.mli': 'x'.repeat(2_000), 'b.ml': 'x'.repeat(100) });
    const { paths, skipped } = await walk(root, { maxFileBytes: 1_500 });
    expect(paths).toEqual(['b.ml']);
    expect(skipped).toEqual([{ path: 'a.mli', reason: 'larger than 1.5 KB (2 KB)' }]);
  });
});

describe('parseHgignore', () => {
  const ignored = (hgignore: string, paths: string[]): string[] => {
    const m = parseHgignore(hgignore);
    return paths.filter((p) => m.ignores(p, false));
  };

  it('defaults to unanchored regexps, anchored with ^', () => {
    expect(ignored('\\.o$\n^tmp\n', ['a.o', 'x/b.o', 'a.ol', 'tmp.ml', 'tmpdir/a.ml', 'x/tmp'])).toEqual(
      ['a.o', 'x/b.o', 'tmp.ml', 'tmpdir/a.ml'],
    );
  });

  it('applies a regexp to parent directories as well', () => {
    expect(ignored('^gen$\n', ['gen', 'gen/a.ml', 'gen/x/b.ml', 'generic.ml', 'x/gen/a.ml'])).toEqual(
      ['gen', 'gen/a.ml', 'gen/x/b.ml'],
    );
  });

  it('matches unrooted globs against any trailing path or directory prefix', () => {
    const m = 'syntax: glob\n*.o\nbuild\n';
    expect(ignored(m, ['x.o', 'a/b/x.o', 'x.ol', 'build', 'build/y.ml', 'x/build/y.ml', 'rebuild/y.ml'])).toEqual(
      ['x.o', 'a/b/x.o', 'build', 'build/y.ml', 'x/build/y.ml'],
    );
  });

  it('supports *, **, ?, classes and alternation in globs', () => {
    const m = parseHgignore('syntax: glob\nsrc/*.ml\ndocs/**/api\nv?.ml\n[!a-c]x.ml\n*.{cmi,cmo}\n');
    const check = (p: string) => m.ignores(p, false);
    expect(check('src/a.ml')).toBe(true);
    expect(check('src/x/a.ml')).toBe(false); // * does not cross '/'
    expect(check('docs/api/i.ml')).toBe(true); // **/ may match nothing
    expect(check('docs/a/b/api/i.ml')).toBe(true);
    expect(check('v1.ml')).toBe(true);
    expect(check('v12.ml')).toBe(false);
    expect(check('dx.ml')).toBe(true);
    expect(check('bx.ml')).toBe(false);
    expect(check('lib/a.cmi')).toBe(true);
    expect(check('lib/a.cmo')).toBe(true);
    expect(check('lib/a.cmx')).toBe(false);
  });

  it('switches syntax back and forth and honours per-line prefixes', () => {
    const text = [
      'syntax: glob',
      'a*.ml', // glob: 'abc.ml'
      're:^re_',
      'syntax: regexp',
      'b.*\\.mli$', // regexp: 'lib/bz.mli'
      'glob:c?.ml',
      'relglob:d.ml',
      'relre:e_[0-9]',
      'syntax: re',
      'f\\d',
      'syntax: relglob',
      'g.ml',
    ].join('\n');
    expect(
      ignored(text, [
        'abc.ml',
        'x/a.ml',
        'xa.ml',
        're_x.ml',
        'x/re_x.ml',
        'lib/bz.mli',
        'c1.ml',
        'x/c2.ml',
        'x/d.ml',
        'e_1.ml',
        'f9.ml',
        'x/g.ml',
        'h.ml',
      ]),
    ).toEqual([
      'abc.ml',
      'x/a.ml',
      're_x.ml',
      'lib/bz.mli',
      'c1.ml',
      'x/c2.ml',
      'x/d.ml',
      'e_1.ml',
      'f9.ml',
      'x/g.ml',
    ]);
  });

  it('roots path: and rootglob: patterns at the .hgignore directory', () => {
    const text = 'path:vendor/lib\nrootglob:*.tmp\n';
    expect(
      ignored(text, ['vendor/lib', 'vendor/lib/a.ml', 'vendor/library.ml', 'x/vendor/lib/a.ml', 'a.tmp', 'x/a.tmp']),
    ).toEqual(['vendor/lib', 'vendor/lib/a.ml', 'a.tmp']);
  });

  it('handles comments, escaped #, blank lines and CRLF', () => {
    const m = parseHgignore('# comment\r\n\r\nsyntax: glob  # trailing\r\nx\\#y.ml\r\nplain.ml # why\r\n');
    expect(m.ignores('x#y.ml', false)).toBe(true);
    expect(m.ignores('plain.ml', false)).toBe(true);
    expect(m.ignores('comment', false)).toBe(false);
    expect(m.warnings).toEqual([]);
  });

  it('refuses a regexp whose repeated group repeats inside, which could hang the walk, and keeps the rest', () => {
    const m = parseHgignore('^(a+)+$\n(x*y)*z\n^build/(foo|bar)+/\n[(+]+q\n');
    expect(m.warnings).toHaveLength(2);
    expect(m.warnings[0]).toMatch(/^line 1: invalid pattern "\^\(a\+\)\+\$": .*exponential time/);
    expect(m.warnings[1]).toMatch(/^line 2: /);
    // With the refused line kept, this call alone would run for hours.
    expect(m.ignores(`${'a'.repeat(40)}!`, false)).toBe(false);
    expect(m.ignores('build/foobar/x.ml', false)).toBe(true);
    expect(m.ignores('(+q', false)).toBe(true);
  });

  it('reports invalid regexps, unknown syntaxes and include: lines as warnings', () => {
    const m = parseHgignore('a[\nsyntax: bogus\ninclude:other\n\\.ok$\n');
    expect(m.warnings).toHaveLength(3);
    expect(m.warnings[0]).toMatch(/^line 1: invalid pattern "a\[": /);
    expect(m.warnings.slice(1)).toEqual([
      'line 2: unknown syntax "bogus", ignored',
      'line 3: "include:" patterns are not supported, ignored',
    ]);
    expect(m.ignores('x.ok', false)).toBe(true);
    expect(m.ignores('a', false)).toBe(false);
  });

  it('translates Python-only inline flags and named groups', () => {
    const m = parseHgignore('(?i)\\.BAK$\n(?P<n>tmp)_(?P=n)?\n');
    expect(m.ignores('A.bak', false)).toBe(true);
    expect(m.warnings).toHaveLength(1); // (?P=n) has no JS equivalent
  });

  it('ignores nothing when empty', () => {
    expect(ignored('', ['a.ml', 'b/c.ml'])).toEqual([]);
  });
});

describe('globToRegexSource', () => {
  it('ports Mercurial _globre', () => {
    expect(globToRegexSource('*.ml')).toBe('[^/]*\\.ml');
    expect(globToRegexSource('a/**/b')).toBe('a/(?:.*/)?b');
    expect(globToRegexSource('a**')).toBe('a.*');
    expect(globToRegexSource('{x,y}?')).toBe('(?:x|y).');
    expect(globToRegexSource('[!ab]')).toBe('[^ab]');
    expect(globToRegexSource('[]x]')).toBe('[\\]x]');
    expect(globToRegexSource('[oops')).toBe('\\[oops');
    expect(globToRegexSource('a,b}')).toBe('a,b\\}');
  });
});
