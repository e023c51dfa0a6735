// The resident reader's BM25: Lance's formula by hand on a few documents, and a patched index
// that scores exactly as one built from scratch over the same documents.
import { describe, it, expect } from 'vitest';
import { distinctTokens } from '../indexer/store.js';
import { TermIndex, type TermDocument } from '../server/term-index.js';

interface Doc {
  id: string;
  termDoc: number;
}

function indexOf(docs: readonly { id: string; name: string; body: string }[]): { index: TermIndex<Doc>; held: Doc[] } {
  const builder = TermIndex.builder<Doc>();
  const held = docs.map(({ id, name, body }) => {
    const doc: Doc = { id, termDoc: -1 };
    builder.add({ doc, name, body });
    return doc;
  });
  return { index: builder.build(), held };
}

/** Every token of `docs` and a few that are in none, each asked of each document. */
function tokenAnswers(index: TermIndex<Doc>, docs: readonly { doc: Doc; name: string; body: string }[]) {
  const asked = [...new Set(docs.flatMap((d) => `${d.name} ${d.body}`.split(' ').filter(Boolean))), 'absent', 'spl'];
  return docs.map((d) => ({ id: d.doc.id, holds: asked.filter((t) => index.tokensOf(d.doc).has(t)), expected: asked.filter((t) => distinctTokens(d.name, d.body).split(' ').includes(t)) }));
}

const search = (index: TermIndex<Doc>, tokens: string[], limit = 10, boosts = { name: 2, body: 1 }) => index.search(tokens, limit, boosts).map(({ doc, score }) => ({ id: doc.id, score }));

/** Lance's per-column BM25 of one term. */
function bm25(count: number, length: number, average: number, matching: number, docs: number): number {
  const idf = Math.log((docs - matching + 0.5) / (matching + 0.5) + 1);
  return (idf * 2.2 * count) / (count + 1.2 * (0.25 + (0.75 * length) / average));
}

describe('TermIndex', () => {
  const docs = [
    { id: 'a', name: 'split on char', body: 'split string char split' },
    { id: 'b', name: 'concat', body: 'concat string list sep' },
    { id: 'c', name: 'trim', body: '' },
    { id: 'd', name: 'split', body: 'cut string' },
  ];

  it("scores each column as Lance does, a document by its better column, and counts only documents with a body in the body's statistics", () => {
    const { index } = indexOf(docs);
    // Names: 4 documents, 6 tokens; bodies: 3 documents (c has none), 10 tokens.
    const [nameAverage, bodyAverage] = [6 / 4, 10 / 3];
    const a = Math.max(2 * bm25(1, 3, nameAverage, 2, 4), bm25(2, 4, bodyAverage, 1, 3));
    const d = Math.max(2 * bm25(1, 1, nameAverage, 2, 4), 0);
    const hits = search(index, ['split']);
    expect(hits.map((h) => h.id)).toEqual(['d', 'a']);
    expect(hits[0]!.score).toBeCloseTo(d, 10);
    expect(hits[1]!.score).toBeCloseTo(a, 10);
    // Two terms add up within a column.
    const string = search(index, ['string', 'char']).find((h) => h.id === 'a')!;
    expect(string.score).toBeCloseTo(Math.max(2 * bm25(1, 3, nameAverage, 1, 4), bm25(1, 4, bodyAverage, 3, 3) + bm25(1, 4, bodyAverage, 1, 3)), 10);
  });

  it('keeps the best `limit`, ties in the order documents were added, and ignores unknown and overlong tokens', () => {
    const same = Array.from({ length: 30 }, (_, i) => ({ id: `d${i}`, name: `n${i}`, body: 'shared word' }));
    const { index } = indexOf(same);
    expect(search(index, ['shared'], 5).map((h) => h.id)).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
    // A limit far past the documents held costs no more than they do.
    expect(search(index, ['shared'], Number.MAX_SAFE_INTEGER)).toHaveLength(30);
    expect(search(index, ['missing'])).toEqual([]);
    const long = 'x'.repeat(41);
    const { index: withLong } = indexOf([{ id: 'l', name: 'long', body: `${long} word` }, ...same.slice(0, 2)]);
    expect(search(withLong, [long])).toEqual([]);
  });

  it("answers whether a document holds a token as its stored distinct tokens do, overlong ones too, before and after a patch", () => {
    const long = 'y'.repeat(45);
    const withLong = [...docs, { id: 'l', name: 'long', body: `${long} word` }];
    const { index, held } = indexOf(withLong);
    const asDocs = withLong.map((d, i) => ({ doc: held[i]!, name: d.name, body: d.body }));
    for (const answer of tokenAnswers(index, asDocs)) expect(answer.holds, answer.id).toEqual(answer.expected);
    const fresh = { doc: { id: 'f', termDoc: 7 }, name: 'fresh', body: 'split word' };
    const patched = index.patched((d) => d.id === 'a', [fresh]);
    expect(fresh.doc.termDoc).toBe(-1);
    for (const answer of tokenAnswers(patched, [...asDocs.slice(1), fresh])) expect(answer.holds, answer.id).toEqual(answer.expected);
  });

  it('lists the documents that hold every token, in order, without the gone and with the added after a patch', () => {
    const { index } = indexOf(docs);
    const holding = (ix: TermIndex<Doc>, tokens: string[]) => ix.holdingAll(tokens).map((d) => d.id);
    const expected = (all: readonly { id: string; name: string; body: string }[], tokens: string[]) =>
      all.filter((d) => tokens.every((t) => distinctTokens(d.name, d.body).split(' ').includes(t))).map((d) => d.id);
    const asked = [['string'], ['string', 'list'], ['split', 'string'], ['list', 'absent']];
    expect(holding(index, [])).toEqual([]);
    for (const tokens of asked) expect(holding(index, tokens), tokens.join(' ')).toEqual(expected(docs, tokens));
    const fresh = { id: 'f', name: 'fresh', body: 'string list' };
    const patched = index.patched((d) => d.id === 'a', [{ doc: { id: 'f', termDoc: -1 }, name: fresh.name, body: fresh.body }]);
    for (const tokens of asked) expect(holding(patched, tokens), tokens.join(' ')).toEqual(expected([...docs.slice(1), fresh], tokens));
  });

  it('patched for removed, changed and added documents, scores exactly as an index built over the result', () => {
    const { index, held } = indexOf(docs);
    const dropped = new Set(['b', 'd']);
    const fresh: TermDocument<Doc>[] = [
      { doc: { id: 'd2', termDoc: -1 }, name: 'split', body: 'cut string string list' },
      { doc: { id: 'e', termDoc: -1 }, name: 'join', body: 'string list sep' },
    ];
    const patched = index.patched((d) => dropped.has(d.id), fresh);
    const rebuilt = indexOf([...docs.filter((d) => !dropped.has(d.id)), { id: 'd2', name: 'split', body: 'cut string string list' }, { id: 'e', name: 'join', body: 'string list sep' }]).index;
    for (const query of [['split'], ['string', 'list'], ['sep', 'join', 'char'], ['concat']]) {
      expect(search(patched, query), query.join(' ')).toEqual(search(rebuilt, query));
    }
    // Patched again: the earlier additions are indexed anew, the original index is unchanged.
    const twice = patched.patched((d) => d.id === 'e' || d.id === 'a', []);
    const rebuiltTwice = indexOf([docs[2]!, { id: 'd2', name: 'split', body: 'cut string string list' }]).index;
    expect(search(twice, ['string', 'split', 'trim'])).toEqual(search(rebuiltTwice, ['string', 'split', 'trim']));
    expect(search(index, ['concat']).map((h) => h.id)).toEqual(['b']);
    expect(held).toHaveLength(4);
  });
});
