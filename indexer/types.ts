// The shared vocabulary of the index: what the indexer writes and the query side reads.
// Imports nothing, so every stage can depend on it.

/** Contract kinds (see contract.md) plus `method` for class members. */
export type ChunkKind =
  | 'value'
  | 'type'
  | 'module'
  | 'module_type'
  | 'class'
  | 'exception'
  | 'external'
  | 'method';

export type SourceLang = 'ml' | 'mli';

/** One definition (or one labelled part of a long one): the unit of retrieval. */
export interface Chunk {
  /** Stable within a file version: `path#ordinal`. */
  id: string;
  path: string;
  lang: SourceLang;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  name: string;
  /** Qualified: library module + module path + name, e.g. `Base.String.split`. */
  symbol: string;
  kind: ChunkKind;
  /** The attached odoc comment `(** ... *)`, without delimiters; '' when none. */
  doc: string;
  /**
   * The enclosing module's preamble (its leading doc comments), for a module's principal type `t`
   * and for a module whose own doc is empty: by OCaml convention the module's description is
   * theirs. Searched with a doc's weight, never shown or stored; absent on chunks read back from the index.
   */
  moduleDoc?: string;
  /** Exact source text of [startLine, endLine]. */
  text: string;
  /** For split definitions: 1-based part number and the number of parts; 0/0 when whole. */
  part: number;
  parts: number;
  /** Nesting depth in modules (0 at file top level). */
  depth: number;
  /** Id of the matching chunk in the other file of the compilation unit (.ml ↔ .mli); '' if none. */
  counterpart: string;
}

/** `open` / `include` seen in a file: relations, not chunks. */
export interface FileRelation {
  kind: 'open' | 'include';
  module: string;
  line: number;
}

/** What the parse+chunk stage yields for one file. */
export interface ChunkedFile {
  path: string;
  hash: string;
  size: number;
  mtimeMs: number;
  lines: number;
  chunks: Chunk[];
  relations: FileRelation[];
  /** Set when the file was read but could not be indexed (binary, not UTF-8, ...). */
  skipped?: string;
  /** The tree had ERROR nodes; well-formed definitions were still chunked. */
  hasErrors: boolean;
}
