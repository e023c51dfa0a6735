// Tree → symbol chunks. Walks container nodes (structures, signatures, class bodies) and the
// definitions directly inside them, as grammars/ocaml/definitions.json describes; it never
// descends into expressions, which keeps it far cheaper than a full-tree query.
import type { SyntaxNode, Tree } from './parse.js';
import { grammarSpec, type DefinitionRule, type GrammarSpec, type NameRule } from './grammar.js';
import type { Chunk, FileRelation, SourceLang } from './types.js';

export interface ChunkContext {
  path: string;
  lang: SourceLang;
  /** Module qualifier of the file, e.g. ['Base', 'String']. */
  qualifier: string[];
}

/** What a definition node says about itself, before it becomes one chunk or several. */
type Definition = Pick<Chunk, 'startLine' | 'endLine' | 'name' | 'symbol' | 'kind' | 'doc' | 'depth'> & { moduleDoc: string };

export interface ChunkResult {
  chunks: Chunk[];
  relations: FileRelation[];
  hasErrors: boolean;
}

/**
 * Past this many characters a chunk's text is cut down to its definition's own source range, then
 * cut off: generated code can put thousands of definitions on one line, and each would otherwise
 * carry the whole line (the corpus's longest chunk is 56K characters).
 */
export const MAX_CHUNK_CHARS = 64 * 1024;

/**
 * What one file's chunks may add up to in characters, text and qualified names together. Every
 * symbol repeats the module path above it, so nesting grows quadratically: 500 levels of
 * `module Level_module_N` make 4.2M characters of symbols, 20,000 levels would make billions.
 * The corpus peaks at 3.6× the source.
 */
function chunkBudget(sourceLength: number): number {
  return 8_000_000 + 4 * sourceLength;
}

/** A file whose chunks would exceed `chunkBudget`: it is left out rather than exhaust memory. */
export class ChunkBudgetError extends Error {
  constructor(budget: number) {
    super(`nested too deeply: its chunks would exceed ${Math.round(budget / 1_000_000)}M characters`);
  }
}

/** Still to walk: a container's items, or (with `definition`) the bindings of one definition. */
interface Frame {
  nodes: SyntaxNode[];
  next: number;
  /**
   * Qualified name of the container and a dot (`Base.String.`). Symbols are concatenations that
   * share it until they are used: a file given up on the chunk budget has not copied it per level.
   */
  prefix: string;
  depth: number;
  /** The container's preamble (see `Chunk.moduleDoc`). */
  preamble: string;
  definition?: { item: SyntaxNode; rule: DefinitionRule; doc: string };
}

/** A module's description is one paragraph or a few; past this it is a tutorial, not a summary. */
const MAX_PREAMBLE_CHARS = 1200;

export function chunkTree(tree: Tree, source: string, ctx: ChunkContext, spec: GrammarSpec = grammarSpec()): ChunkResult {
  // Line start offsets: a chunk's text is one slice of the source, not a join of split lines.
  const starts = [0];
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  const chunks: Chunk[] = [];
  const relations: FileRelation[] = [];
  const containers = new Set([...spec.containers, spec.errorNode]);
  const bodyPath = new Set(spec.nestedBodyPath);
  const { maxChunkLines, moduleHeaderLines } = spec.limits;
  const budget = chunkBudget(source.length);
  let used = 0;

  const lineStart = (line: number) => starts[line - 1]!;
  const lineEnd = (line: number) => (line < starts.length ? starts[line]! - 1 : source.length);
  /** Lines [startLine, endLine], or past MAX_CHUNK_CHARS their part within [from, to), cut off. */
  const textOf = (startLine: number, endLine: number, from: number, to: number) => {
    const start = lineStart(startLine);
    const end = lineEnd(endLine);
    if (end - start <= MAX_CHUNK_CHARS) return source.slice(start, end);
    const ownStart = Math.max(start, from);
    return source.slice(ownStart, Math.min(end, to, ownStart + MAX_CHUNK_CHARS));
  };

  // Every chunk is built with the same fields in the same order: one object shape, which made
  // this stage 2× faster than spreading a base object.
  const push = (base: Definition, startLine: number, endLine: number, text: string, part: number, parts: number) => {
    used += text.length + base.symbol.length;
    if (used > budget) throw new ChunkBudgetError(budget);
    chunks.push({
      id: '',
      path: ctx.path,
      lang: ctx.lang,
      startLine,
      endLine,
      name: base.name,
      symbol: base.symbol,
      kind: base.kind,
      doc: base.doc,
      moduleDoc: base.moduleDoc,
      text,
      part,
      parts,
      depth: base.depth,
      counterpart: '',
    });
  };

  /** [from, to): the definition's own source range; `inner`: where a container's first item starts. */
  function emit(base: Definition, from: number, to: number, inner: { line: number; index: number } | undefined) {
    const { startLine, endLine } = base;
    const span = endLine - startLine + 1;
    const whole = span <= maxChunkLines && (!inner || lineEnd(endLine) - lineStart(startLine) <= MAX_CHUNK_CHARS);
    if (whole) {
      push(base, startLine, endLine, textOf(startLine, endLine, from, to), 0, 0);
      return;
    }
    if (inner) {
      // A long module is represented by its header; its items are chunks of their own.
      const end = Math.min(endLine, startLine + moduleHeaderLines - 1, Math.max(startLine, inner.line - 1));
      push(base, startLine, end, textOf(startLine, end, from, inner.index), 0, 0);
      return;
    }
    const parts = Math.ceil(span / maxChunkLines);
    for (let p = 0; p < parts; p++) {
      const start = startLine + p * maxChunkLines;
      const end = Math.min(endLine, start + maxChunkLines - 1);
      push(base, start, end, textOf(start, end, from, to), p + 1, parts);
    }
  }

  /** A container's item: an open/include, an ERROR node to look into, or a definition. */
  function visitItem(frame: Frame, i: number) {
    const item = frame.nodes[i]!;
    const type = item.type;
    const relation = spec.relations[type];
    if (relation) {
      const module = item.namedChildren.find((c) => c.type !== 'attribute_id' && c.type !== spec.docComment.node);
      if (module) relations.push({ kind: relation, module: module.text.replace(/\s+/g, ' '), line: item.startPosition.row + 1 });
      // `include struct ... end`, `include Monad.Make (struct let map ... end)`: what the structure
      // defines, the including module defines (`Base.Result.map`).
      const included = type === 'include_module' ? nestedBodies(item, containers, bodyPath) : [];
      for (let b = included.length - 1; b >= 0; b--) stack.push({ nodes: included[b]!.namedChildren, next: 0, prefix: frame.prefix, depth: frame.depth, preamble: '' });
      return;
    }
    if (type === spec.errorNode) {
      stack.push({ nodes: item.namedChildren, next: 0, prefix: frame.prefix, depth: frame.depth, preamble: frame.preamble });
      return;
    }
    const rule = spec.definitions[type];
    if (!rule) return;
    const doc = docCommentOf(frame.nodes, i, spec);
    const bindings = rule.each ? item.namedChildren.filter((c) => c.type === rule.each) : [item];
    stack.push({ nodes: bindings, next: 0, prefix: frame.prefix, depth: frame.depth, preamble: frame.preamble, definition: { item, rule, doc } });
  }

  /** One binding: its chunk, then (before the next binding) the items of its bodies. */
  function visitBinding(frame: Frame, definition: NonNullable<Frame['definition']>, j: number) {
    const binding = frame.nodes[j]!;
    const { item, rule, doc } = definition;
    const name = nameOf(binding, rule.name);
    if (!name) return;
    const first = j === 0 ? item : binding;
    const startLine = first.startPosition.row + 1;
    const endLine = binding.endPosition.row + 1;
    const bodies = rule.nested ? nestedBodies(binding, containers, bodyPath) : [];
    const firstInner = bodies[0]?.namedChildren[0];
    const inner = bodies.length === 0 ? undefined : { line: firstInner ? firstInner.startPosition.row + 1 : endLine, index: firstInner?.startIndex ?? binding.endIndex };
    const symbol = frame.prefix + name;
    const own = j === 0 ? doc : '';
    const preamble = bodies[0] ? preambleOf(bodies[0].namedChildren, spec) : '';
    const moduleDoc = rule.kind === 'type' && name === 't' ? frame.preamble : own ? '' : preamble;
    emit({ startLine, endLine, name, symbol, kind: rule.kind, doc: own, moduleDoc, depth: frame.depth }, first.startIndex, binding.endIndex, inner);
    // Pushed last first, so the first body is walked first.
    for (let b = bodies.length - 1; b >= 0; b--) {
      stack.push({ nodes: bodies[b]!.namedChildren, next: 0, prefix: `${symbol}.`, depth: frame.depth + 1, preamble: b === 0 ? preamble : '' });
    }
  }

  // An explicit stack rather than recursion: modules nested thousands deep must not overflow
  // the call stack. Frames are taken in the order recursion would (ids are `path#ordinal`).
  const root = tree.rootNode;
  const stack: Frame[] = [{ nodes: root.namedChildren, next: 0, prefix: ctx.qualifier.map((q) => `${q}.`).join(''), depth: 0, preamble: preambleOf(root.namedChildren, spec) }];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next >= frame.nodes.length) {
      stack.pop();
      continue;
    }
    const i = frame.next++;
    if (frame.definition) visitBinding(frame, frame.definition, i);
    else visitItem(frame, i);
  }
  chunks.forEach((c, n) => (c.id = `${ctx.path}#${n}`));
  return { chunks, relations, hasErrors: root.hasError };
}

function nameOf(node: SyntaxNode, rule: NameRule): string | undefined {
  let target: SyntaxNode | null | undefined;
  if ('field' in rule) target = node.childForFieldName(rule.field);
  else if ('child' in rule) target = node.namedChildren.find((c) => c.type === rule.child);
  else {
    target = node;
    for (const type of rule.descend) target = target?.namedChildren.find((c) => c.type === type);
  }
  if (!target) return undefined;
  return patternName(target);
}

/** `let (+) ...` → `(+)`; `let f, g = ...` → `f`; `let () = ...` → `()`. */
function patternName(node: SyntaxNode): string {
  const text = node.text;
  if (/^[A-Za-z_][\w']*$/.test(text)) return text;
  if (node.type === 'parenthesized_operator') return text.replace(/\s+/g, '');
  const first = firstDescendant(node, 'value_name', 3);
  if (first) return first.text;
  return text.length <= 40 ? text.replace(/\s+/g, ' ') : text.slice(0, 40);
}

function firstDescendant(node: SyntaxNode, type: string, depth: number): SyntaxNode | undefined {
  if (depth < 0) return undefined;
  for (const c of node.namedChildren) {
    if (c.type === type) return c;
    const found = firstDescendant(c, type, depth - 1);
    if (found) return found;
  }
  return undefined;
}

/** Containers reachable from a module/class binding through module-expression wrappers. */
function nestedBodies(binding: SyntaxNode, containers: Set<string>, through: Set<string>): SyntaxNode[] {
  const found: SyntaxNode[] = [];
  const visit = (node: SyntaxNode, depth: number) => {
    for (const c of node.namedChildren) {
      if (containers.has(c.type)) found.push(c);
      else if (depth < 6 && through.has(c.type)) visit(c, depth + 1);
    }
  };
  visit(binding, 0);
  return found;
}

/**
 * A container's leading doc comments, before its first definition and not attached to it: odoc's
 * preamble, the module's own description (`(** Concrete syntax tree of s-expressions *)`).
 */
function preambleOf(items: SyntaxNode[], spec: GrammarSpec): string {
  const docs: string[] = [];
  let length = 0;
  for (let i = 0; i < items.length && length < MAX_PREAMBLE_CHARS; i++) {
    const item = items[i]!;
    if (spec.definitions[item.type]) break;
    if (!isDocComment(item, spec) || claims(items, i + 1, item, spec)) continue;
    const text = stripComment(item.text).slice(0, MAX_PREAMBLE_CHARS - length);
    docs.push(text);
    length += text.length;
  }
  return docs.join('\n\n');
}

/** Whether `items[i]` is a definition that the doc comment right above it belongs to. */
function claims(items: SyntaxNode[], i: number, comment: SyntaxNode, spec: GrammarSpec): boolean {
  const next = items[i];
  return !!next && !!spec.definitions[next.type] && next.startPosition.row <= comment.endPosition.row + 1;
}

function isDocComment(n: SyntaxNode | undefined, spec: GrammarSpec): n is SyntaxNode {
  return !!n && n.type === spec.docComment.node && n.text.startsWith(spec.docComment.prefix) && !n.text.startsWith(spec.docComment.notPrefix);
}

/**
 * odoc's attachment: a `(** *)` right before an item (no blank line) is its doc; failing that,
 * one right after it, unless that comment sits right before the next item.
 */
function docCommentOf(items: SyntaxNode[], i: number, spec: GrammarSpec): string {
  const item = items[i]!;
  const isDoc = (n: SyntaxNode | undefined): n is SyntaxNode => isDocComment(n, spec);
  const prev = items[i - 1];
  if (isDoc(prev) && prev.endPosition.row >= item.startPosition.row - 1) return stripComment(prev.text);
  const next = items[i + 1];
  if (isDoc(next) && next.startPosition.row <= item.endPosition.row + 1) {
    const after = items[i + 2];
    const claimedByNext = after && after.type !== spec.docComment.node && after.startPosition.row <= next.endPosition.row + 1;
    if (!claimedByNext) return stripComment(next.text);
  }
  return '';
}

function stripComment(text: string): string {
  return text.replace(/^\(\*\*/, '').replace(/\*\)$/, '').trim();
}

