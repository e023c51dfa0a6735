// The grammar description must load however the indexer is run: compiled (dist/) or from the
// TypeScript sources (vitest, tsx), as pool.ts already allows for its worker.
import { describe, it, expect } from 'vitest';
import { grammarSpec, grammarHash } from '../indexer/grammar.js';

describe('grammarSpec', () => {
  // Regression: grammar.ts once resolved '../../grammars/...' from its own URL, which is right
  // for dist/indexer/grammar.js but points outside the repository for indexer/grammar.ts.
  it('loads grammars/ocaml/definitions.json when run from the TypeScript sources', () => {
    const spec = grammarSpec();
    expect(spec.languages).toEqual({ ml: 'ocaml', mli: 'ocaml_interface' });
    expect(spec.definitions.value_definition?.kind).toBe('value');
    expect(grammarHash()).toMatch(/^[0-9a-f]{12}$/);
  });
});
