// Where a file sits in the module namespace: `base/string.ml` of the wrapped dune library
// `base` is `Base.String`. Reads `(library (name ..) (wrapped ..))` from dune files and,
// for installed trees without dune files, recognises dune's alias module `lib__.ml`.
import { posix } from 'node:path';

export interface LibraryInfo {
  name: string;
  wrapped: boolean;
}

/** Parses the library stanzas of a dune file (an s-expression with `;`, `#| |#` and `#;` comments). */
export function parseDuneLibraries(text: string): { libraries: LibraryInfo[]; includeSubdirs: boolean } {
  const forms = topLevelForms(text);
  const libraries: LibraryInfo[] = [];
  for (const stanza of forms) {
    if (!/^\(\s*library\b/.test(stanza)) continue;
    const name = /\(\s*name\s+([A-Za-z0-9_]+)\s*\)/.exec(stanza)?.[1];
    if (!name) continue;
    libraries.push({ name, wrapped: !/\(\s*wrapped\s+false\s*\)/.test(stanza) });
  }
  return { libraries, includeSubdirs: forms.some((f) => /^\(\s*include_subdirs\s+(unqualified|qualified)\s*\)/.test(f)) };
}

/** Top-level forms of an s-expression text, comments removed, strings kept intact. */
function topLevelForms(src: string): string[] {
  const forms: string[] = [];
  let depth = 0;
  let current = '';
  let skipNextDatum = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '"') {
      const end = stringEnd(src, i);
      if (depth > 0) current += src.slice(i, end);
      i = end - 1;
      continue;
    }
    if (c === ';') {
      const nl = src.indexOf('\n', i);
      i = nl < 0 ? src.length : nl;
      continue;
    }
    if (c === '#' && src[i + 1] === '|') {
      const close = src.indexOf('|#', i + 2);
      i = close < 0 ? src.length : close + 1;
      continue;
    }
    if (c === '#' && src[i + 1] === ';' && depth === 0) {
      skipNextDatum = true;
      i++;
      continue;
    }
    if (c === '(') depth++;
    if (depth > 0) current += c;
    if (c === ')' && depth > 0 && --depth === 0) {
      if (!skipNextDatum) forms.push(current);
      skipNextDatum = false;
      current = '';
    }
  }
  return forms;
}

/** Index just past the closing quote of the string starting at `start`. */
function stringEnd(src: string, start: number): number {
  for (let i = start + 1; i < src.length; i++) {
    if (src[i] === '\\') i++;
    else if (src[i] === '"') return i + 1;
  }
  return src.length;
}

export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `string_split.ml` → `String_split`. */
export function moduleNameOfFile(path: string): string {
  const base = posix.basename(path).replace(/\.mli?$/, '');
  return capitalize(base.replace(/[^A-Za-z0-9_']/g, '_'));
}

/** `ocaml/stdlib/hashtbl.ml` → `hashtbl`: the compilation unit a file defines, lower-cased. */
export function unitOfFile(path: string): string {
  return posix.basename(path).replace(/\.mli?$/, '').toLowerCase();
}

export interface ModuleResolver {
  /** Qualifier of a source file: library module (if wrapped) then the file module. */
  qualifierOf(path: string): string[];
}

/**
 * @param sourcePaths all .ml/.mli paths of the repo (relative, '/')
 * @param duneFiles dune file path → its text
 */
export function createModuleResolver(sourcePaths: readonly string[], duneFiles: ReadonlyMap<string, string>): ModuleResolver {
  const dirs = new Map<string, { libraries: LibraryInfo[]; includeSubdirs: boolean }>();
  for (const [path, text] of duneFiles) dirs.set(posix.dirname(path), parseDuneLibraries(text));
  const aliasLibrary = new Map<string, string>();
  const filesByDir = new Map<string, Set<string>>();
  for (const p of sourcePaths) {
    const dir = posix.dirname(p);
    const base = posix.basename(p).replace(/\.mli?$/, '');
    let set = filesByDir.get(dir);
    if (!set) filesByDir.set(dir, (set = new Set()));
    set.add(base);
    const alias = /^(.+)__$/.exec(base)?.[1];
    if (alias) aliasLibrary.set(dir, alias);
  }
  const memo = new Map<string, LibraryInfo | undefined>();

  function libraryOfDir(dir: string): LibraryInfo | undefined {
    if (memo.has(dir)) return memo.get(dir);
    let found: LibraryInfo | undefined;
    const own = dirs.get(dir);
    if (own && own.libraries.length > 0) found = own.libraries[0];
    if (!found) {
      // A library in an ancestor covers this directory only with (include_subdirs ...).
      for (let d = dir; d !== '.' && d !== '/' && d !== ''; ) {
        d = posix.dirname(d);
        const anc = dirs.get(d);
        if (anc?.includeSubdirs && anc.libraries[0]) {
          found = anc.libraries[0];
          break;
        }
      }
    }
    if (!found) {
      // Installed dune libraries have no dune file but keep the alias module `lib__.ml`
      // or a main module named like the directory.
      const alias = aliasLibrary.get(dir);
      const dirModule = posix.basename(dir).replace(/-/g, '_');
      if (alias) found = { name: alias, wrapped: true };
      else if (filesByDir.get(dir)?.has(dirModule)) found = { name: dirModule, wrapped: true };
    }
    memo.set(dir, found);
    return found;
  }

  return {
    qualifierOf(path) {
      const fileModule = moduleNameOfFile(path);
      const lib = libraryOfDir(posix.dirname(path));
      if (!lib || !lib.wrapped) return [fileModule];
      const libModule = capitalize(lib.name);
      return libModule === fileModule ? [libModule] : [libModule, fileModule];
    },
  };
}

/** The first word of a camel-case directory name (`menhir` of `menhirLib`), its family; undefined for others. */
export function camelFamily(dir: string): string | undefined {
  return /^([a-z][a-z0-9]{2,})[A-Z]/.exec(dir)?.[1];
}
