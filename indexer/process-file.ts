// One file through read → parse → chunk → tokenize. Runs in worker threads (or in-process
// for small jobs); everything it returns is plain data that can cross a thread boundary.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { chunkTree } from './chunk.js';
import { langOf, type OcamlParser } from './parse.js';
import { tokenize } from './text.js';
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

export interface FileOutcome extends Omit<ChunkedFile, 'chunks'> {
  chunks: StoredChunk[];
  /** Content identical to `knownHash`: nothing to rewrite. */
  unchanged: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function hashContent(bytes: Uint8Array): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Why a file's bytes cannot be indexed as OCaml source, if they cannot. */
function unreadableReason(bytes: Uint8Array): string | undefined {
  if (bytes.subarray(0, 8192).includes(0)) return 'binary file';
  return undefined;
}

export function withTokens(chunk: Chunk): StoredChunk {
  // Qualifiers and directories go into the name column too, so `String.split` finds
  // `Base.String.split` and "coq kernel" finds `coq-core/kernel/...`.
  const dir = chunk.path.slice(0, Math.max(0, chunk.path.lastIndexOf('/')));
  const nameTokens = tokenize(`${chunk.symbol} ${dir}`).join(' ');
  const body: string[] = [];
  tokenize(chunk.doc, body);
  tokenize(chunk.doc, body); // doc comments count twice: they describe the code in prose
  tokenize(chunk.text, body);
  return { ...chunk, nameTokens, bodyTokens: body.join(' ') };
}

export async function processFile(job: FileJob, parser: OcamlParser): Promise<FileOutcome> {
  const base = { path: job.path, size: job.size, mtimeMs: job.mtimeMs, relations: [], hasErrors: false };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(job.absPath);
  } catch (err) {
    return { ...base, hash: '', lines: 0, chunks: [], unchanged: false, skipped: `unreadable (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  const hash = hashContent(bytes);
  if (hash === job.knownHash) return { ...base, hash, lines: 0, chunks: [], unchanged: true };
  const reason = unreadableReason(bytes);
  let source: string;
  try {
    if (reason) throw new Error(reason);
    source = utf8.decode(bytes);
  } catch (err) {
    return { ...base, hash, lines: 0, chunks: [], unchanged: false, skipped: reason ?? 'not valid UTF-8' };
  }
  const lang = langOf(job.path);
  if (!lang) return { ...base, hash, lines: 0, chunks: [], unchanged: false, skipped: 'not an OCaml source file' };
  const tree = parser.parse(source, lang);
  const result = chunkTree(tree, source, { path: job.path, lang, qualifier: job.qualifier });
  return {
    ...base,
    hash,
    lines: source.split('\n').length,
    chunks: result.chunks.map(withTokens),
    relations: result.relations,
    hasErrors: result.hasErrors,
    unchanged: false,
  };
}
