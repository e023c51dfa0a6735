// One compilation unit (a .ml and/or its .mli) through read → parse → chunk → link → tokenize.
// Runs in worker threads (or in-process for small jobs); everything it returns is plain data
// that can cross a thread boundary.
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ChunkBudgetError, chunkTree } from './chunk.js';
import { DEFAULT_MAX_FILE_BYTES, formatSize, isWithin } from './walk.js';
import { langOf, type OcamlParser } from './parse.js';
import { compound, tokenize, tokenizeProse } from './text.js';
import { signatureType, typeTokens } from './signature.js';
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

/** The real path of the root a file was walked from: its absolute path less its relative one. */
function realRootOf(file: Pick<FileJob, 'path' | 'absPath'>): string {
  return realpathSync.native(file.absPath.slice(0, file.absPath.length - file.path.length - 1));
}

/**
 * Where an open file really is. /proc names the file the descriptor holds, whatever was swapped
 * into its path since; elsewhere the path is resolved again.
 */
function realPathOf(fd: number, absPath: string): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return realpathSync.native(absPath);
  }
}

/**
 * The file's bytes, or why it is not read. The walk checked the file, but it may have changed
 * since: replaced by a FIFO (reading would block the thread for good), grown past the size limit,
 * or swapped for a symlink — or a directory on its path swapped for one — leading out of the root.
 */
export function readSource(file: Pick<FileJob, 'path' | 'absPath'>): { bytes: Uint8Array } | { skipped: string } {
  let fd: number | undefined;
  try {
    // Synchronous: this runs on a worker thread of its own, and a thread-pool hop per file costs more.
    fd = openSync(file.absPath, constants.O_RDONLY | constants.O_NONBLOCK);
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { skipped: 'not a regular file' };
    if (!isWithin(realRootOf(file), realPathOf(fd, file.absPath))) return { skipped: 'symlink target is outside the repository' };
    if (stats.size > DEFAULT_MAX_FILE_BYTES) return { skipped: `larger than ${formatSize(DEFAULT_MAX_FILE_BYTES)} (${formatSize(stats.size)})` };
    // One byte more than fstat said tells a file still being written; the next run reads it whole.
    const bytes = new Uint8Array(stats.size + 1);
    let length = 0;
    while (length < bytes.length) {
      const n = readSync(fd, bytes, length, bytes.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > stats.size) return { skipped: 'changed while being read' };
    return { bytes: bytes.subarray(0, length) };
  } catch (err) {
    return { skipped: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function parseFile(job: FileJob, parser: OcamlParser): Promise<ParsedFile> {
  const base = { path: job.path, size: job.size, mtimeMs: job.mtimeMs, relations: [], hasErrors: false, lines: 0, chunks: [] };
  const read = readSource(job);
  if ('skipped' in read) return { ...base, hash: '', unchanged: false, skipped: read.skipped };
  const { bytes } = read;
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

/**
 * Links each declaration to its definition (same kind and qualified symbol) and back. A name the
 * `.ml` binds twice (`let glob ~pathname ...` then `let glob ?anchored ...`) is declared for its
 * last binding, the one the interface exports.
 */
function linkCounterparts(a: Chunk[], b: Chunk[]): void {
  const [definitions, declarations] = a.some((c) => c.lang === 'mli') ? [b, a] : [a, b];
  const key = (c: Chunk) => `${c.kind}:${c.symbol}`;
  const bySymbol = new Map<string, Chunk>();
  for (const c of definitions) if (c.part <= 1) bySymbol.set(key(c), c);
  for (const c of declarations) {
    if (c.part > 1) continue;
    const other = bySymbol.get(key(c));
    if (other && !other.counterpart && !c.counterpart) {
      c.counterpart = other.id;
      other.counterpart = c.id;
    }
  }
}

function withTokens(chunk: Chunk, counterpart: Chunk | undefined, dirTokens: readonly string[]): StoredChunk {
  // Qualifiers and directories go into the name column too, so `String.split` finds
  // `Base.String.split` and "coq kernel" finds `coq-core/kernel/...`.
  const nameTokens = [...tokenize(chunk.symbol), ...dirTokens].join(' ');
  // Doc comments count twice: they describe the code in prose. A definition without one
  // borrows its declaration's, which is where OCaml code keeps its documentation. A module's
  // description counts the same for its type `t` (body only: taught to the static model as a
  // doc, it made the vectors worse on the dev cases).
  const doc = chunk.doc || counterpart?.doc || '';
  const moduleDoc = chunk.moduleDoc || counterpart?.moduleDoc || '';
  const docTokens = tokenizeProse(doc).join(' ');
  const moduleDocTokens = tokenizeProse(moduleDoc).join(' ');
  const bodyTokens = `${docTokens} ${docTokens} ${moduleDocTokens} ${moduleDocTokens} ${tokenize(chunk.text).join(' ')}`;
  const contentHash = createHash('sha1').update(`${chunk.kind}\0${chunk.symbol}\0${doc}\0${moduleDoc}\0${chunk.text}`).digest('hex').slice(0, 20);
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
  const type = signatureType(chunk.text);
  return type ? typeTokens(type).join(' ') : '';
}

/**
 * A file that made this stage throw is left out with the reason, rather than taking the whole
 * run down with it (a worker's uncaught error fails every file).
 */
function unindexable(file: Pick<FileJob, 'path' | 'size' | 'mtimeMs'>, hash: string, err: unknown): Omit<FileOutcome, 'chunks'> & { chunks: [] } {
  const reason = err instanceof ChunkBudgetError ? err.message : `cannot be indexed (${err instanceof Error ? err.message : String(err)})`;
  return { path: file.path, size: file.size, mtimeMs: file.mtimeMs, hash, relations: [], hasErrors: false, lines: 0, chunks: [], unchanged: false, skipped: reason };
}

export async function processUnit(unit: UnitJob, parser: OcamlParser): Promise<FileOutcome[]> {
  const parsed: ParsedFile[] = [];
  for (const job of unit) parsed.push(await parseFile(job, parser).catch((err: unknown) => unindexable(job, '', err)));
  const [first, second] = parsed;
  if (first && second) linkCounterparts(first.chunks, second.chunks);
  const byId = new Map(parsed.flatMap((p) => p.chunks.map((c) => [c.id, c] as const)));
  return parsed.map((p) => {
    const dirTokens = tokenize(p.path.slice(0, Math.max(0, p.path.lastIndexOf('/'))));
    try {
      return { ...p, chunks: p.chunks.map((c) => withTokens(c, byId.get(c.counterpart), dirTokens)) };
    } catch (err) {
      return unindexable(p, p.hash, err);
    }
  });
}
