/**
 * Mercurial `.hgignore` parser and matcher.
 *
 * Follows Mercurial's own rules (mercurial/match.py: readpatternfile, _regex,
 * _globre) closely, so that a repository ignored by `hg status` is ignored
 * here too. Paths are '/'-separated and relative to the directory that holds
 * the `.hgignore` file.
 */

/** The pattern kinds Mercurial understands in ignore files (those we support). */
type PatternKind = 'relre' | 'relglob' | 'rootglob' | 'path';

/** Names accepted after `syntax:`; Mercurial maps bare re/glob to the unrooted kinds. */
const SYNTAX_NAMES: Readonly<Record<string, PatternKind>> = {
  re: 'relre',
  regexp: 'relre',
  relre: 'relre',
  glob: 'relglob',
  relglob: 'relglob',
  rootglob: 'rootglob',
};

/** Per-line `kind:` prefixes: the syntax names plus `path:`. */
const LINE_PREFIXES: Readonly<Record<string, PatternKind>> = { ...SYNTAX_NAMES, path: 'path' };

/** Prefixes Mercurial accepts but we cannot honour (they read other files). */
const UNSUPPORTED_PREFIXES = new Set(['include', 'subinclude']);

export interface HgMatcher {
  /**
   * Whether `relPath` is ignored. `isDir` is accepted for symmetry with the
   * gitignore matcher; Mercurial itself does not distinguish directories.
   */
  ignores(relPath: string, isDir: boolean): boolean;
  /** Problems found while parsing (bad regexps, unknown syntax), one line each. */
  readonly warnings: readonly string[];
}

export function parseHgignore(text: string): HgMatcher {
  const regexes: RegExp[] = [];
  const warnings: string[] = [];
  let syntax: PatternKind = 'relre'; // Mercurial's default syntax

  text.split(/\r?\n/).forEach((rawLine, index) => {
    const lineNo = index + 1;
    const line = stripComment(rawLine).trimEnd();
    if (line === '') return;

    if (line.startsWith('syntax:')) {
      const name = line.slice('syntax:'.length).trim();
      const kind = SYNTAX_NAMES[name];
      if (kind) syntax = kind;
      else warnings.push(`line ${lineNo}: unknown syntax "${name}", ignored`);
      return;
    }

    const parsed = splitPrefix(line, syntax);
    if ('unsupported' in parsed) {
      warnings.push(`line ${lineNo}: "${parsed.unsupported}:" patterns are not supported, ignored`);
      return;
    }
    if (parsed.pattern === '') return;
    try {
      regexes.push(compilePattern(parsed.kind, parsed.pattern));
    } catch (err) {
      warnings.push(`line ${lineNo}: invalid pattern "${line}": ${(err as Error).message}`);
    }
  });

  return {
    warnings,
    ignores(relPath: string): boolean {
      if (regexes.length === 0) return false;
      // Like Mercurial's dirstate, a path is ignored when it or any of its
      // parent directories matches; regexps in particular need this.
      return pathAndParents(relPath).some((p) => regexes.some((re) => re.test(p)));
    },
  };
}

/** Removes a `#` comment unless the `#` is escaped; then unescapes `\#`. */
function stripComment(line: string): string {
  if (!line.includes('#')) return line;
  return line.replace(/((?:^|[^\\])(?:\\\\)*)#.*/, '$1').replace(/\\#/g, '#');
}

type SplitLine = { kind: PatternKind; pattern: string } | { unsupported: string };

/** Splits an optional `kind:` prefix off a pattern line. */
function splitPrefix(line: string, syntax: PatternKind): SplitLine {
  const m = /^([a-z]+):/.exec(line);
  const prefix = m?.[1];
  if (prefix !== undefined) {
    const kind = LINE_PREFIXES[prefix];
    if (kind) return { kind, pattern: line.slice(prefix.length + 1) };
    if (UNSUPPORTED_PREFIXES.has(prefix)) return { unsupported: prefix };
  }
  // An unknown prefix is just part of the pattern, as in Mercurial.
  return { kind: syntax, pattern: line };
}

/** Mercurial's suffix for glob/path kinds: also match everything below a directory. */
const DIR_SUFFIX = '(?:/|$)';

function compilePattern(kind: PatternKind, pattern: string): RegExp {
  switch (kind) {
    case 'relre':
      // Mercurial uses re.search semantics: unanchored unless the pattern starts with ^.
      return pythonRegExp(pattern);
    case 'relglob':
      return new RegExp(`^(?:|.*/)${globToRegexSource(pattern)}${DIR_SUFFIX}`);
    case 'rootglob':
      return new RegExp(`^${globToRegexSource(pattern)}${DIR_SUFFIX}`);
    case 'path': {
      const dir = pattern.replace(/\/+$/, '');
      // `path:.` (or an empty path) names the directory itself: everything.
      if (dir === '' || dir === '.') return /(?:)/;
      return new RegExp(`^${escapeRegex(dir)}${DIR_SUFFIX}`);
    }
  }
}

/**
 * Compiles a Python regexp as a JS RegExp, translating the two Python-only
 * constructs that show up in real ignore files: leading inline flags `(?i)`
 * and named groups `(?P<name>...)`. Anything else that JS rejects throws.
 */
function pythonRegExp(source: string): RegExp {
  let flags = '';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  if (inline?.[1]) {
    flags = [...new Set(inline[1].replace(/[aLux]/g, ''))].join('');
    source = source.slice(inline[0].length);
  }
  if (hasNestedQuantifier(source)) throw new Error('a repeated group that repeats inside, like (a+)+, can take exponential time to match; rewrite it');
  return new RegExp(source.replace(/\(\?P</g, '(?<'), flags);
}

/**
 * Whether a group holding a quantifier is itself quantified (`(a+)+`, `(x*y)*`, `(a|b+){2,}`):
 * JS regexps backtrack, and such a pattern can hang the walk on one long file name.
 */
function hasNestedQuantifier(source: string): boolean {
  const groups: boolean[] = [];
  let quantifiedInside = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      // A character class: nothing in it is a group or a quantifier.
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
    } else if (c === '(') {
      groups.push(quantifiedInside);
      quantifiedInside = false;
    } else if (c === ')') {
      const repeated = /^(?:[*+]|\{\d*,)/.test(source.slice(i + 1));
      if (repeated && quantifiedInside) return true;
      quantifiedInside = (groups.pop() ?? false) || quantifiedInside || repeated;
    } else if (c === '*' || c === '+' || (c === '{' && /^\{\d*,/.test(source.slice(i)))) {
      quantifiedInside = true;
    }
  }
  return false;
}

/**
 * Translates a Mercurial glob into a regexp source (port of match._globre):
 * `*` stays within one path component, `**` crosses `/` (and `**\/` may match
 * nothing), `?` is any one character, `[...]`/`[!...]` are classes and
 * `{a,b}` is alternation. The result is not anchored.
 */
export function globToRegexSource(glob: string): string {
  let res = '';
  let groupDepth = 0;
  let i = 0;
  while (i < glob.length) {
    const c = glob[i++] as string;
    if (c === '*') {
      if (glob[i] === '*') {
        i++;
        if (glob[i] === '/') {
          i++;
          res += '(?:.*/)?';
        } else {
          res += '.*';
        }
      } else {
        res += '[^/]*';
      }
    } else if (c === '?') {
      res += '.';
    } else if (c === '[') {
      const cls = readCharClass(glob, i);
      if (cls === null) {
        res += '\\[';
      } else {
        res += cls.source;
        i = cls.end;
      }
    } else if (c === '{') {
      groupDepth++;
      res += '(?:';
    } else if (c === '}' && groupDepth > 0) {
      groupDepth--;
      res += ')';
    } else if (c === ',' && groupDepth > 0) {
      res += '|';
    } else if (c === '\\' && i < glob.length) {
      res += escapeRegex(glob[i++] as string);
    } else {
      res += escapeRegex(c);
    }
  }
  return res;
}

/**
 * Reads a `[...]` class whose body starts at `start` (just after `[`).
 * Returns null when it is unterminated, so the `[` is taken literally.
 */
function readCharClass(glob: string, start: number): { source: string; end: number } | null {
  let j = start;
  if (glob[j] === '!' || glob[j] === ']') j++;
  while (j < glob.length && glob[j] !== ']') j++;
  if (j >= glob.length) return null;

  let body = glob.slice(start, j).replace(/\\/g, '\\\\');
  if (body.startsWith('!')) body = '^' + body.slice(1);
  else if (body.startsWith('^')) body = '\\' + body;
  // Python reads a leading ']' as a literal member; JS would end the class there.
  body = body.replace(/^(\^?)\]/, '$1\\]');
  return { source: `[${body}]`, end: j + 1 };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** 'a/b/c' -> ['a', 'a/b', 'a/b/c'] */
function pathAndParents(relPath: string): string[] {
  const out: string[] = [];
  for (let i = relPath.indexOf('/'); i !== -1; i = relPath.indexOf('/', i + 1)) {
    out.push(relPath.slice(0, i));
  }
  out.push(relPath);
  return out;
}
