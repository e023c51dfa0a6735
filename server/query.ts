// A user query, read once: its full-text tokens and the identifiers it names.
import { queryTokens, splitIdentifier } from '../indexer/text.js';

export interface IdentifierRef {
  /** Bare name: the last component (`concat_map` of `List.concat_map`). */
  name: string;
  /** Module qualifiers as typed (`['List']`). */
  qualifiers: string[];
}

export interface ParsedQuery {
  raw: string;
  tokens: string[];
  identifiers: IdentifierRef[];
  /** The whole query is one identifier or qualified name: a symbol lookup. */
  isSymbol: boolean;
}

const QUALIFIED = /[A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*/g;

/** Looks like code rather than an English word: `find_opt`, `Hashtbl.find`, `sexpOfList`. */
function isCodeLike(word: string): boolean {
  return word.includes('_') || word.includes('.') || /[a-z][A-Z]/.test(word);
}

export function parseQuery(raw: string): ParsedQuery {
  const query = raw.trim();
  const words = query.match(QUALIFIED) ?? [];
  const isSymbol = words.length === 1 && words[0] === query;
  const identifiers = words
    .filter((w) => isSymbol || isCodeLike(w))
    .map((w) => {
      const parts = w.split('.').filter(Boolean);
      return { name: parts[parts.length - 1]!, qualifiers: parts.slice(0, -1) };
    })
    .filter((id) => splitIdentifier(id.name).length > 0);
  return { raw: query, tokens: queryTokens(query), identifiers, isSymbol };
}
