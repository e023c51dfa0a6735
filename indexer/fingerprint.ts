// What shapes the index: a different fingerprint on disk means the index must be rebuilt.
import { grammarHash } from './grammar.js';

/** Bump when the chunk layout or token format changes: older indexes are rebuilt. */
const INDEX_FORMAT = 13;

export function fingerprint(): string {
  return JSON.stringify({ format: INDEX_FORMAT, grammar: grammarHash() });
}
