// Identifier-aware tokens: the indexer and the query side must agree on them.
import { describe, it, expect } from 'vitest';
import { compoundTokens, tokenize, tokenizeProse, queryTokens, splitIdentifier, identifierTokens } from '../indexer/text.js';

describe('splitIdentifier', () => {
  it('splits snake_case, camelCase, acronyms and digits, lower-cased', () => {
    expect(splitIdentifier('concat_map')).toEqual(['concat', 'map']);
    expect(splitIdentifier('concatMap')).toEqual(['concat', 'map']);
    expect(splitIdentifier('HTTPServer')).toEqual(['http', 'server']);
    expect(splitIdentifier('utf8Decode')).toEqual(['utf', '8', 'decode']);
  });
});

describe('tokenize', () => {
  it('gives snake_case and camelCase the same tokens: the whole identifier, then its parts', () => {
    expect(tokenize('concat_map')).toEqual(['concatmap', 'concat', 'map']);
    expect(tokenize('concatMap')).toEqual(['concatmap', 'concat', 'map']);
    expect(tokenize('concat_map')).toEqual(tokenize('concatMap'));
  });

  it('splits qualified names into their module path and name', () => {
    expect(tokenize('Base.String.split')).toEqual(['base', 'string', 'split']);
  });

  it('drops English stop words and OCaml keywords', () => {
    expect(tokenize('how do I split the string with a char')).toEqual(['split', 'string', 'char']);
    expect(tokenize('let rec f = fun x -> match x with _ -> x')).toEqual([]);
    expect(tokenize('the of a an')).toEqual([]);
  });

  it('keeps OCaml keywords that are English words inside names: `Re.matches`, `open_in`, `Lazy.force`', () => {
    expect(tokenize('Re.matches')).toEqual(['re', 'match']);
    expect(tokenize('open_in')).toEqual(['openin', 'open']);
    expect(tokenize('Lazy.force')).toEqual(['lazi', 'forc']);
    expect(identifierTokens('new_buffer')).toEqual(['newbuffer', 'new', 'buffer']);
    // A keyword standing alone in code is syntax.
    expect(tokenize('match open_in name with exception Not_found -> lazy x')).toEqual(['openin', 'open', 'name', 'notfound', 'found']);
    // Keywords inside names that say nothing about the code stay out: `type_expr` is an `expr`.
    expect(tokenize('type_expr')).toEqual(['typeexpr', 'expr']);
  });

  it('stems English words, so "splitting" meets `split`', () => {
    expect(tokenize('splitting')).toEqual(['split']);
    expect(tokenize('splitting')).toEqual(tokenize('split'));
    expect(tokenize('splits strings')).toEqual(['split', 'string']);
  });

  it('stems without merging unrelated words: "generalized" meets `generalize`, not `generate`', () => {
    expect(tokenize('generalized')).toEqual(tokenize('generalize'));
    expect(tokenize('generalized')).not.toEqual(tokenize('generate'));
    expect(tokenize('generic')).not.toEqual(tokenize('generate'));
  });

  it('reads British spellings as American ones: "specialised" meets "specialization", "colour" meets `color`', () => {
    for (const [british, american] of [['specialised', 'specialization'], ['normalise_path', 'normalize_path'], ['colour', 'color'], ['behaviours', 'behaviors'], ['analyse', 'analyze'], ['catalogue', 'catalog'], ['serialisation', 'serialize']]) {
      expect(tokenize(british!), british).toEqual(tokenize(american!));
    }
    expect(compoundTokens('normalise path')).toEqual(compoundTokens('normalize path'));
    // Short words keep their ending: `raise` is not `raize`, "four" not "for".
    expect(tokenize('raise four rogue')).toEqual(['rais', 'four', 'rogu']);
  });

  it('appends to the array it is given', () => {
    const out = ['x'];
    expect(tokenize('concat_map', out)).toBe(out);
    expect(out).toEqual(['x', 'concatmap', 'concat', 'map']);
  });
});

describe('queryTokens', () => {
  it('agrees with tokenize and removes duplicates', () => {
    expect(queryTokens('concat_map')).toEqual(['concatmap', 'concat', 'map']);
    expect(queryTokens('concatMap')).toEqual(['concatmap', 'concat', 'map']);
    expect(queryTokens('Base.String.split')).toEqual(['base', 'string', 'split']);
    expect(queryTokens('split splitting splits')).toEqual(['split']);
  });

  it('drops stop words from a question', () => {
    expect(queryTokens('split a string at every occurrence of a character')).not.toContain('a');
    expect(queryTokens('split a string at every occurrence of a character')).not.toContain('of');
    expect(queryTokens('how do I split the string')).toEqual(['split', 'string']);
  });

  it('reads keywords in questions and doc comments as the English words they are', () => {
    expect(queryTokens('all substrings that match a regular expression')).toEqual(['all', 'substr', 'match', 'regular', 'express']);
    expect(queryTokens('open a file lazily')).toEqual(['open', 'file', 'lazili']);
    expect(tokenizeProse('Raises an exception if the object is new')).toEqual(['rais', 'except', 'object', 'new']);
    // The same words in code are syntax.
    expect(tokenize('match x with exception e -> new object')).toEqual([]);
    // Words that only describe code in general stay out of both.
    expect(queryTokens('the type of a module function that returns a unit')).toEqual(['return']);
  });

  it('keeps the words of a query made only of stop words', () => {
    expect(queryTokens('module type')).toEqual(['module', 'type']);
  });
});
