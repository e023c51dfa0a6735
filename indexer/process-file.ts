// One compilation unit (a .ml and/or its .mli) through read → parse → chunk → link → tokenize.
// Runs in worker threads (or in-process for small jobs); everything it returns is plain data
// that can cross a thread boundary.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chunkTree } from './chunk.js';
import { langOf, type OcamlParser } from './parse.js';
import { compound, tokenize } from './text.js';
import { parseType, signatureText, typeTokens } from './signature.js';
import type { StoredChunk } from './store.js';
import type { Chunk, ChunkedFile } from './types.js';

export interface FileJob {
  path: string;
  absPath: string;
  size: number;
  mtimeMs: number;
  qualifier: string[];
  /** Hash of the indexed version; when the content still has it, parsing is skipped. */
  knownHash?: string;
}

/** The files of one compilation unit, processed together so that they can be linked. */
export type UnitJob = FileJob[];

export interface FileOutcome extends Omit<ChunkedFile, 'chunks'> {
  chunks: StoredChunk[];
  /** Content identical to `knownHash`: nothing to rewrite. */
  unchanged: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function hashContent(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

interface ParsedFile extends Omit<FileOutcome, 'chunks'> {
  chunks: Chunk[];
}

async function parseFile(job: FileJob, parser: OcamlParser): Promise<ParsedFile> {
  const base = { path: job.path, size: job.size, mtimeMs: job.mtimeMs, relations: [], hasErrors: false, lines: 0, chunks: [] };
  let bytes: Uint8Array;
  try {
    // Synchronous: this runs on a worker thread of its own, and a thread-pool hop per file costs more.
    bytes = readFileSync(job.absPath);
  } catch (err) {
    return { ...base, hash: '', unchanged: false, skipped: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  const hash = hashContent(bytes);
  if (hash === job.knownHash) return { ...base, hash, unchanged: true };
  if (bytes.subarray(0, 8192).includes(0)) return { ...base, hash, unchanged: false, skipped: 'binary file' };
  let source: string;
  try {
    source = utf8.decode(bytes);
  } catch {
    return { ...base, hash, unchanged: false, skipped: 'not valid UTF-8' };
  }
  const lang = langOf(job.path);
  if (!lang) return { ...base, hash, unchanged: false, skipped: 'not an OCaml source file' };
  const tree = parser.parse(source, lang);
  const result = chunkTree(tree, source, { path: job.path, lang, qualifier: job.qualifier });
  return { ...base, hash, lines: countLines(source), chunks: result.chunks, relations: result.relations, hasErrors: result.hasErrors, unchanged: false };
}

/** Lines as `wc -l` counts them, plus a last line that lacks its newline. */
function countLines(source: string): number {
  let n = 0;
  for (let i = source.indexOf('\n'); i >= 0; i = source.indexOf('\n', i + 1)) n++;
  return source.length > 0 && !source.endsWith('\n') ? n + 1 : n;
}

/** Links each definition to its declaration (same qualified symbol) and back. */
function linkCounterparts(a: Chunk[], b: Chunk[]): void {
  const bySymbol = new Map<string, Chunk>();
  for (const c of b) if (c.part <= 1 && !bySymbol.has(`${c.kind}:${c.symbol}`)) bySymbol.set(`${c.kind}:${c.symbol}`, c);
  for (const c of a) {
    if (c.part > 1) continue;
    const other = bySymbol.get(`${c.kind}:${c.symbol}`);
    if (other && !other.counterpart && !c.counterpart) {
      c.counterpart = other.id;
      other.counterpart = c.id;
    }
  }
}

function withTokens(chunk: Chunk, counterpartDoc: string, dirTokens: readonly string[]): StoredChunk {
  // Qualifiers and directories go into the name column too, so `String.split` finds
  // `Base.String.split` and "coq kernel" finds `coq-core/kernel/...`.
  const nameTokens = [...tokenize(chunk.symbol), ...dirTokens].join(' ');
  // Doc comments count twice: they describe the code in prose. A definition without one
  // borrows its declaration's, which is where OCaml code keeps its documentation.
  const doc = chunk.doc || counterpartDoc;
  const docTokens = tokenize(doc).join(' ');
  const bodyTokens = `${docTokens} ${docTokens} ${tokenize(chunk.text).join(' ')}`;
  const contentHash = createHash('sha1').update(`${chunk.kind}\0${chunk.symbol}\0${doc}\0${chunk.text}`).digest('hex').slice(0, 20);
  // Field by field: spreading the chunk cost more than tokenizing its code.
  return {
    id: chunk.id,
    path: chunk.path,
    lang: chunk.lang,
    startLine: chunk.startLine,
    endLine: chunk.endLine,
    name: chunk.name,
    symbol: chunk.symbol,
    kind: chunk.kind,
    doc: chunk.doc,
    text: chunk.text,
    part: chunk.part,
    parts: chunk.parts,
    depth: chunk.depth,
    counterpart: chunk.counterpart,
    nameTokens,
    docTokens,
    bodyTokens,
    typeTokens: signatureTokens(chunk),
    refs: referencesOf(chunk),
    contentHash,
  };
}

/** A value name, with the module path that qualifies it (`List.map`): the name is what follows the last dot. */
const VALUE_NAME = /(?<![\w'.])(?:[A-Z][\w']*\.)*[a-z_][\w']*/g;
const KEYWORDS = new Set(
  'and as assert begin class constraint do done downto else end exception external false for fun function functor if in include inherit initializer lazy let match method module mutable new nonrec object of open or private rec sig struct then to true try type val virtual when while with'.split(' '),
);

/**
 * The value names a definition's code uses, as identifier compounds (`concat_map` →
 * `concatmap`): the symbol graph's edges, looked up by name (callers) and resolved by module
 * proximity (dependencies). Its own name is left out.
 */
function referencesOf(chunk: Chunk): string {
  const out = new Set<string>();
  const own = compound(chunk.name);
  // `match` yields plain strings: far cheaper than `matchAll`'s match objects.
  for (const m of chunk.text.match(VALUE_NAME) ?? []) {
    const name = m.slice(m.lastIndexOf('.') + 1);
    if (name.length < 2 || KEYWORDS.has(name)) continue;
    const c = compound(name);
    if (c && c !== own) out.add(c);
  }
  return [...out].join(' ');
}


/** Type-search tokens of a `val` or `external` (see signature.ts); '' for anything else. */
function signatureTokens(chunk: Chunk): string {
  if (chunk.kind !== 'value' && chunk.kind !== 'external') return '';
  const text = signatureText(chunk.text);
  const type = text === undefined ? undefined : parseType(text);
  return type ? typeTokens(type).join(' ') : '';
}

export async function processUnit(unit: UnitJob, parser: OcamlParser): Promise<FileOutcome[]> {
  const parsed: ParsedFile[] = [];
  for (const job of unit) parsed.push(await parseFile(job, parser));
  const [first, second] = parsed;
  if (first && second) linkCounterparts(first.chunks, second.chunks);
  const byId = new Map(parsed.flatMap((p) => p.chunks.map((c) => [c.id, c] as const)));
  return parsed.map((p) => {
    const dirTokens = tokenize(p.path.slice(0, Math.max(0, p.path.lastIndexOf('/'))));
    return { ...p, chunks: p.chunks.map((c) => withTokens(c, byId.get(c.counterpart)?.doc ?? '', dirTokens)) };
  });
}
