// Tree → symbol chunks. Walks container nodes (structures, signatures, class bodies) and the
// definitions directly inside them, as grammars/ocaml/definitions.json describes; it never
// descends into expressions, which keeps it far cheaper than a full-tree query.
import type { SyntaxNode, Tree } from './parse.js';
import { grammarSpec, type GrammarSpec, type NameRule } from './grammar.js';
import type { Chunk, FileRelation, SourceLang } from './types.js';

export interface ChunkContext {
  path: string;
  lang: SourceLang;
  /** Module qualifier of the file, e.g. ['Base', 'String']. */
  qualifier: string[];
}

/** What a definition node says about itself, before it becomes one chunk or several. */
type Definition = Pick<Chunk, 'startLine' | 'endLine' | 'name' | 'symbol' | 'kind' | 'doc' | 'depth'>;

export interface ChunkResult {
  chunks: Chunk[];
  relations: FileRelation[];
  hasErrors: boolean;
}

export function chunkTree(tree: Tree, source: string, ctx: ChunkContext, spec: GrammarSpec = grammarSpec()): ChunkResult {
  // Line start offsets: a chunk's text is one slice of the source, not a join of split lines.
  const starts = [0];
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  const chunks: Chunk[] = [];
  const relations: FileRelation[] = [];
  const containers = new Set([...spec.containers, spec.errorNode]);
  const bodyPath = new Set(spec.nestedBodyPath);
  const { maxChunkLines, moduleHeaderLines } = spec.limits;

  const textOf = (start: number, end: number) => source.slice(starts[start - 1], end < starts.length ? starts[end]! - 1 : source.length);

  // Every chunk is built with the same fields in the same order: one object shape, which made
  // this stage 2× faster than spreading a base object.
  const push = (base: Definition, startLine: number, endLine: number, part: number, parts: number) =>
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
      text: textOf(startLine, endLine),
      part,
      parts,
      depth: base.depth,
      counterpart: '',
    });

  function emit(base: Definition, isContainer: boolean, firstInnerLine: number) {
    const span = base.endLine - base.startLine + 1;
    if (span <= maxChunkLines) {
      push(base, base.startLine, base.endLine, 0, 0);
      return;
    }
    if (isContainer) {
      // A long module is represented by its header; its items are chunks of their own.
      const end = Math.min(base.endLine, base.startLine + moduleHeaderLines - 1, Math.max(base.startLine, firstInnerLine - 1));
      push(base, base.startLine, end, 0, 0);
      return;
    }
    const parts = Math.ceil(span / maxChunkLines);
    for (let p = 0; p < parts; p++) {
      const start = base.startLine + p * maxChunkLines;
      push(base, start, Math.min(base.endLine, start + maxChunkLines - 1), p + 1, parts);
    }
  }

  function walkContainer(container: SyntaxNode, path: string[], depth: number) {
    const items = container.namedChildren;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const type = item.type;
      const relation = spec.relations[type];
      if (relation) {
        const module = item.namedChildren.find((c) => c.type !== 'attribute_id' && c.type !== spec.docComment.node);
        if (module) relations.push({ kind: relation, module: module.text.replace(/\s+/g, ' '), line: item.startPosition.row + 1 });
        continue;
      }
      if (type === spec.errorNode) {
        walkContainer(item, path, depth);
        continue;
      }
      const rule = spec.definitions[type];
      if (!rule) continue;
      const doc = docCommentOf(items, i, spec);
      const bindings = rule.each ? item.namedChildren.filter((c) => c.type === rule.each) : [item];
      bindings.forEach((binding, j) => {
        const name = nameOf(binding, rule.name);
        if (!name) return;
        const startLine = (j === 0 ? item : binding).startPosition.row + 1;
        const endLine = binding.endPosition.row + 1;
        const bodies = rule.nested ? nestedBodies(binding, containers, bodyPath) : [];
        const firstInner = bodies[0]?.namedChildren[0]?.startPosition.row;
        emit(
          {
            startLine,
            endLine,
            name,
            symbol: [...ctx.qualifier, ...path, name].join('.'),
            kind: rule.kind,
            doc: j === 0 ? doc : '',
            depth,
          },
          bodies.length > 0,
          firstInner === undefined ? endLine : firstInner + 1,
        );
        for (const body of bodies) walkContainer(body, [...path, name], depth + 1);
      });
    }
  }

  const root = tree.rootNode;
  walkContainer(root, [], 0);
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
 * odoc's attachment: a `(** *)` right before an item (no blank line) is its doc; failing that,
 * one right after it, unless that comment sits right before the next item.
 */
function docCommentOf(items: SyntaxNode[], i: number, spec: GrammarSpec): string {
  const item = items[i]!;
  const isDoc = (n: SyntaxNode | undefined): n is SyntaxNode =>
    !!n && n.type === spec.docComment.node && n.text.startsWith(spec.docComment.prefix) && !n.text.startsWith(spec.docComment.notPrefix);
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

