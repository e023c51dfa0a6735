// Build errors as context: raw OCaml compiler / dune output is read into error sites (file, line,
// message) and the names the messages mention (`Shop.Cart.item`, `value foo`), so that "fix that
// error" gets the code around each error and the definitions it talks about.

export interface BuildError {
  /** As the compiler printed it (relative to the dune workspace root, or `_build/default/...`). */
  file: string;
  line: number;
  endLine: number;
  /** The message from `Error:` on, hints included, code excerpts left out. */
  message: string;
}

const LOCATION = /^File "([^"]+)", lines? (\d+)(?:-(\d+))?(?:, characters \d+-\d+)?:/;
/** `12 |   let x = ...` excerpt lines and the `^^^^` line under them. */
const EXCERPT = /^\s*(\d+\s*\||\.\.\.|\s*\^+\s*$)/;
const MAX_ERRORS = 5;

/** Errors of compiler output, in order, at most MAX_ERRORS; warnings that are not errors are skipped. */
export function parseBuildErrors(output: string): BuildError[] {
  const errors: BuildError[] = [];
  let current: { file: string; line: number; endLine: number; lines: string[] } | undefined;
  const finish = () => {
    if (!current) return;
    const text = current.lines.join('\n').trim();
    // "Error: ..." and "Error (warning 32 [unused-value-declaration]): ..." are errors; plain warnings are not.
    if (/^Error\b/m.test(text)) errors.push({ file: current.file, line: current.line, endLine: current.endLine, message: text.slice(text.search(/^Error\b/m)) });
    current = undefined;
  };
  for (const line of output.split(/\r?\n/)) {
    const m = LOCATION.exec(line);
    if (m) {
      finish();
      const start = Number(m[2]);
      current = { file: m[1]!, line: start, endLine: m[3] ? Number(m[3]) : start, lines: [] };
    } else if (current && !EXCERPT.test(line)) {
      current.lines.push(line);
    }
  }
  finish();
  return errors.slice(0, MAX_ERRORS);
}

/** A compiler path as the index knows it: dune prints sources under `_build/default/` at times. */
export function sourcePath(file: string): string {
  return file.replace(/^(?:\.\/)?_build\/default\//, '').replace(/^\.\//, '');
}

export interface MentionedName {
  /** As written: `Shop.Cart.item`, `foo`. */
  path: string;
  kind: 'type' | 'value';
}

const BUILTIN = new Set(['int', 'string', 'bool', 'unit', 'char', 'float', 'bytes', 'list', 'option', 'array', 'exn', 'ref', 'format', 'int32', 'int64', 'nativeint']);

/** Types and values an error message names: `type Shop.Cart.item`, `Unbound value foo`, `The value bar has type`. */
export function mentionedNames(message: string): MentionedName[] {
  const out = new Map<string, MentionedName>();
  const add = (path: string, kind: MentionedName['kind']) => {
    const last = path.split('.').pop()!;
    if (!BUILTIN.has(last) && !out.has(path)) out.set(path, { path, kind });
  };
  for (const m of message.matchAll(/\btype\s+((?:[A-Z][\w']*\.)*[a-z_][\w']*)/g)) add(m[1]!, 'type');
  for (const m of message.matchAll(/\b(?:value|function)\s+((?:[A-Z][\w']*\.)*[a-z_][\w']*)/g)) add(m[1]!, 'value');
  // Other qualified names (`Cart.total`) are taken for values.
  for (const m of message.matchAll(/\b((?:[A-Z][\w']*\.)+[a-z_][\w']*)/g)) add(m[1]!, 'value');
  return [...out.values()];
}
