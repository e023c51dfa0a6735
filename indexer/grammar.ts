// Loads the declarative OCaml grammar description (grammars/ocaml/definitions.json).
// The chunker reads node types from here; no node-type lists live in the TypeScript.
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ChunkKind, FileRelation, SourceLang } from './types.js';

export type NameRule = { field: string } | { child: string } | { descend: string[] };

export interface DefinitionRule {
  kind: ChunkKind;
  /** Node type of each binding when one definition binds several names (`let ... and ...`). */
  each?: string;
  name: NameRule;
  /** Has a body whose items are chunks of their own (modules, classes). */
  nested?: boolean;
}

export interface GrammarSpec {
  grammar: string;
  languages: Record<SourceLang, string>;
  containers: string[];
  definitions: Record<string, DefinitionRule>;
  nestedBodyPath: string[];
  relations: Record<string, FileRelation['kind']>;
  docComment: { node: string; prefix: string; notPrefix: string };
  errorNode: string;
  limits: { maxChunkLines: number; moduleHeaderLines: number };
}

/** grammars/ sits at the package root: one level up from the sources, two from dist/. */
function grammarFile(name: string): string {
  for (const up of ['../grammars/ocaml/', '../../grammars/ocaml/']) {
    const path = fileURLToPath(new URL(up + name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`codesearch is installed without grammars/ocaml/${name}`);
}

let cached: { spec: GrammarSpec; hash: string } | undefined;

function load(): { spec: GrammarSpec; hash: string } {
  if (!cached) {
    const raw = readFileSync(grammarFile('definitions.json'), 'utf8');
    cached = { spec: JSON.parse(raw) as GrammarSpec, hash: createHash('sha1').update(raw).digest('hex').slice(0, 12) };
  }
  return cached;
}

export function grammarSpec(): GrammarSpec {
  return load().spec;
}

/** Part of the index fingerprint: a changed grammar description forces a rebuild. */
export function grammarHash(): string {
  return load().hash;
}

let thesaurusCache: Map<string, string[]> | undefined;

/** English word → identifiers OCaml code uses for it (grammars/ocaml/thesaurus.json). */
export function thesaurus(): Map<string, string[]> {
  if (!thesaurusCache) {
    const raw = JSON.parse(readFileSync(grammarFile('thesaurus.json'), 'utf8')) as Record<string, string[] | string>;
    thesaurusCache = new Map(Object.entries(raw).filter((e): e is [string, string[]] => Array.isArray(e[1])));
  }
  return thesaurusCache;
}
