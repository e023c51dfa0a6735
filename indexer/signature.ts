// OCaml type expressions, read well enough to search by type (the idea of sherlodoc): a `val`
// or `external` signature and a query such as `string -> char -> string list` are parsed into a
// small tree and compared modulo argument order, labels and type-variable names. Shared by the
// indexer (which stores each signature's type constructors for candidate lookup) and the query side.

export type TypeExpr =
  | { t: 'var'; name: string }
  | { t: 'con'; name: string; args: TypeExpr[] }
  | { t: 'tuple'; items: TypeExpr[] }
  | { t: 'arrow'; label: string; from: TypeExpr; to: TypeExpr }
  | { t: 'other'; what: string };

const TOKEN = /\s*(->|'[A-Za-z_][\w']*|[~?]?[a-z_][\w']*\s*:(?!:)|[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*|[()*,_]|\S)/y;

function lex(text: string): string[] | undefined {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  for (;;) {
    const at = TOKEN.lastIndex;
    if (/^\s*$/.test(text.slice(at))) return tokens;
    const m = TOKEN.exec(text);
    if (!m) return undefined;
    tokens.push(m[1]!.replace(/\s+/g, ''));
  }
}

/**
 * Longer types are not searched by type: the parser and the functions over its trees recurse
 * once per level, and a generated `a -> a -> ...` of 100,000 arrows overflowed the stack (the
 * corpus's longest `val` type has about 260 tokens).
 */
const MAX_TYPE_TOKENS = 1000;

/** Parses a type expression; undefined for what this reader does not understand. */
export function parseType(text: string): TypeExpr | undefined {
  // `'a 'b. t` (explicit polymorphism) quantifies; the body is the type.
  const body = text.replace(/^\s*(?:'[A-Za-z_][\w']*\s*)+\.\s*/, '');
  const lexed = lex(body);
  if (!lexed || lexed.length === 0 || lexed.length > MAX_TYPE_TOKENS) return undefined;
  const tokens: string[] = lexed;
  let i = 0;
  const peek = () => tokens[i];
  const isName = (s: string | undefined) => !!s && /^[A-Za-z_][\w'.]*$/.test(s) && s !== '_';

  function arrow(): TypeExpr | undefined {
    let label = '';
    const t = peek();
    if (t && /^[~?]?[a-z_][\w']*:$/.test(t)) {
      label = t.slice(0, -1);
      i++;
    }
    const from = tuple();
    if (!from) return undefined;
    if (peek() !== '->') return label ? undefined : from;
    i++;
    const to = arrow();
    return to ? { t: 'arrow', label, from, to } : undefined;
  }
  function tuple(): TypeExpr | undefined {
    const items = [application()];
    while (peek() === '*') {
      i++;
      items.push(application());
    }
    if (items.some((x) => !x)) return undefined;
    return items.length === 1 ? items[0] : { t: 'tuple', items: items as TypeExpr[] };
  }
  function application(): TypeExpr | undefined {
    let args = atom();
    if (!args) return undefined;
    // Postfix constructors: `'a list option`, `(int, string) result`.
    let current: TypeExpr | undefined;
    if (args.length === 1) current = args[0];
    while (isName(peek())) {
      current = { t: 'con', name: tokens[i++]!, args: current ? [current] : args };
      args = [current];
    }
    return current;
  }
  /** One atom, or a parenthesised argument list `(a, b)` awaiting its constructor. */
  function atom(): TypeExpr[] | undefined {
    const t = peek();
    if (t === undefined) return undefined;
    if (t.startsWith("'")) {
      i++;
      return [{ t: 'var', name: t.slice(1) }];
    }
    if (t === '_') {
      i++;
      return [{ t: 'var', name: '_' }];
    }
    if (isName(t)) {
      i++;
      return [{ t: 'con', name: t, args: [] }];
    }
    if (t === '(') {
      i++;
      const items = [arrow()];
      while (peek() === ',') {
        i++;
        items.push(arrow());
      }
      if (peek() !== ')' || items.some((x) => !x)) return undefined;
      i++;
      return items as TypeExpr[];
    }
    return undefined;
  }

  const result = arrow();
  return result && i === tokens.length ? result : undefined;
}

/**
 * The type of a `val`/`external` chunk's text (`val split : t -> char -> t list`), or undefined.
 * Attributes (`[@@deprecated]`) and an external's primitive names are left out.
 */
export function signatureText(text: string): string | undefined {
  const m = /^\s*(?:val|external)\s+(?:\([^)]*\)|[a-z_][\w']*)\s*:([\s\S]*)$/.exec(text);
  if (!m) return undefined;
  let type = m[1]!;
  type = blankSpans(type, '(*', '*)');
  type = blankSpans(type, '[@', ']');
  const eq = type.indexOf('=');
  if (eq >= 0) type = type.slice(0, eq);
  return type.trim() || undefined;
}

/** The parsed type of a `val`/`external` chunk's text, or undefined. */
export function signatureType(text: string): TypeExpr | undefined {
  const type = signatureText(text);
  return type === undefined ? undefined : parseType(type);
}

/**
 * `text` with each span from `open` to the next `close` replaced by a space; an unclosed one is
 * kept. A scan rather than a lazy regexp, which rescans to the end from every unclosed `open`:
 * quadratic on a long line of them.
 */
function blankSpans(text: string, open: string, close: string): string {
  let out = '';
  let from = 0;
  for (let start = text.indexOf(open); start >= 0; start = text.indexOf(open, from)) {
    const end = text.indexOf(close, start + open.length);
    if (end < 0) break;
    out += `${text.slice(from, start)} `;
    from = end + close.length;
  }
  return out + text.slice(from);
}

/** A constructor's comparable name: `String.t` → `string` (Base style), `Unix.file_descr` → `file_descr`. */
function constructorName(path: string): string {
  const parts = path.split('.');
  const last = parts[parts.length - 1]!;
  if (last === 't' && parts.length > 1) return parts[parts.length - 2]!.toLowerCase();
  return last.toLowerCase();
}

/** Arguments (labels dropped) and result of a function type; a non-function has no arguments. */
export function flatten(type: TypeExpr): { args: TypeExpr[]; result: TypeExpr } {
  const args: TypeExpr[] = [];
  let t = type;
  while (t.t === 'arrow') {
    args.push(t.from);
    t = t.to;
  }
  return { args, result: t };
}

/**
 * A canonical spelling of a type. With `vars` a map, type variables are renamed in order of
 * appearance (`'x list` and `'a list` agree); without, every variable is `'_`.
 */
export function shape(type: TypeExpr, vars?: Map<string, string>, nameOf: (path: string) => string = constructorName): string {
  switch (type.t) {
    case 'var': {
      if (!vars) return "'_";
      if (!vars.has(type.name)) vars.set(type.name, `'${String.fromCharCode(97 + (vars.size % 26))}${vars.size >= 26 ? vars.size : ''}`);
      return vars.get(type.name)!;
    }
    case 'con': {
      const name = nameOf(type.name);
      if (type.args.length === 0) return name;
      const args = type.args.map((a) => shape(a, vars, nameOf));
      return args.length === 1 ? `${args[0]} ${name}` : `(${args.join(', ')}) ${name}`;
    }
    case 'tuple':
      return `(${type.items.map((x) => shape(x, vars, nameOf)).join(' * ')})`;
    case 'arrow':
      return `(${shape(type.from, vars, nameOf)} -> ${shape(type.to, vars, nameOf)})`;
    default:
      return type.what;
  }
}

/** Every constructor a type mentions, as written (`Error.t`, `string`). */
export function constructorPaths(type: TypeExpr, out: Set<string> = new Set()): Set<string> {
  if (type.t === 'con') {
    out.add(type.name);
    for (const a of type.args) constructorPaths(a, out);
  } else if (type.t === 'tuple') for (const x of type.items) constructorPaths(x, out);
  else if (type.t === 'arrow') {
    constructorPaths(type.from, out);
    constructorPaths(type.to, out);
  }
  return out;
}

/** Every constructor a type mentions, comparable-named: what candidate lookup searches. */
export function constructors(type: TypeExpr): Set<string> {
  return new Set([...constructorPaths(type)].map(constructorName));
}

/**
 * Search tokens of a signature: its constructors, its result's head (`resultlist`) and its
 * arity (`arity2`), so lookup ranks same-result, same-arity signatures first.
 */
export function typeTokens(type: TypeExpr): string[] {
  const { args, result } = flatten(type);
  const head = result.t === 'con' ? constructorName(result.name) : result.t === 'var' ? 'var' : result.t;
  return [...[...constructors(type)].map((c) => c.replace(/[^a-z0-9]/g, '')), `result${head.replace(/[^a-z0-9]/g, '')}`, `arity${args.length}`].filter(Boolean);
}

/**
 * How well a definition's type answers a type query, in [0, 1]: 1 for the same type up to
 * variable names, 0.9 for the same arguments in another order, less for near misses.
 */
export function typeMatch(query: TypeExpr, candidate: TypeExpr): number {
  if (shape(query, new Map()) === shape(candidate, new Map())) return 1;
  const q = flatten(query);
  const c = flatten(candidate);
  const sameResult = shape(q.result) === shape(c.result);
  const qArgs = q.args.map((a) => shape(a)).sort();
  const cArgs = c.args.map((a) => shape(a)).sort();
  const common = multisetOverlap(qArgs, cArgs);
  if (sameResult && common === qArgs.length && common === cArgs.length) return 0.9;
  if (sameResult) return 0.4 + (0.4 * common) / Math.max(qArgs.length, cArgs.length, 1) - 0.05 * Math.abs(qArgs.length - cArgs.length);
  const qc = constructors(query);
  const cc = constructors(candidate);
  const shared = [...qc].filter((x) => cc.has(x)).length;
  return (0.3 * shared) / Math.max(1, new Set([...qc, ...cc]).size);
}

function multisetOverlap(a: string[], b: string[]): number {
  const counts = new Map<string, number>();
  for (const x of a) counts.set(x, (counts.get(x) ?? 0) + 1);
  let n = 0;
  for (const x of b) {
    const k = counts.get(x) ?? 0;
    if (k > 0) {
      n++;
      counts.set(x, k - 1);
    }
  }
  return n;
}

/**
 * How alike two types are for writing one function after another: `typeMatch`, or for the same
 * skeleton (every constructor a placeholder: `'a testable -> 'a list testable` and `'a testable
 * -> 'a Seq.t testable`) and a constructor in common, 0.5 plus 0.3 × the share of constructors
 * both name.
 */
export function typeLikeness(query: TypeExpr, candidate: TypeExpr): number {
  const exact = typeMatch(query, candidate);
  const placeholder = () => 'C';
  if (shape(query, new Map(), placeholder) !== shape(candidate, new Map(), placeholder)) return exact;
  const q = constructors(query);
  const c = constructors(candidate);
  const shared = [...q].filter((x) => c.has(x)).length;
  // `string -> int` and `float -> unit` share a skeleton and nothing else.
  return shared === 0 ? exact : Math.max(exact, 0.5 + (0.3 * shared) / new Set([...q, ...c]).size);
}
