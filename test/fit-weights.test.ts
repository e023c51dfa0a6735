// The fusion-weight fitter replays what the server ranks: with every multiplier at 1 its re-scored
// lists are the server's answers, and its figures are the grader's.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { crossValidate, fit, fuseCases, grade, rescore, type FitCase, type FusedCase } from '../bench/fit-weights.js';
import { presentHits, Searcher } from '../server/search.js';
import { cleanupTempDirs, indexedFixture } from './helpers.js';

const QUESTIONS = ['split a string at every occurrence of a character', 'remove leading and trailing whitespace', 'euclidean distance between two points', 'where are shapes drawn', 'split_on_chr'];

let db: string;
let searcher: Searcher;

beforeAll(async () => {
  ({ db } = await indexedFixture('mini'));
  searcher = await Searcher.open(db, { resident: true });
});

afterAll(() => {
  searcher?.close();
  cleanupTempDirs();
});

const where = (h: { chunk: { path: string; startLine: number } }) => `${h.chunk.path}:${h.chunk.startLine}`;

describe('fit-weights', () => {
  it('re-scores to the very list the server shows when every multiplier is 1', async () => {
    for (const query of QUESTIONS) {
      const fused = await searcher.searchFused(query, { explain: true });
      const shown = (await searcher.searchRanked(query)).map(where);
      expect(shown.length).toBeGreaterThan(0);
      expect(presentHits(rescore(fused, {})).map(where)).toEqual(shown);
      // Every point fusion gives is in the trace: the re-scored sums are the fused scores.
      const rescored = new Map(rescore(fused, {}).ranked.map((h) => [h.chunk.id, h.score]));
      for (const hit of fused.ranked) expect(rescored.get(hit.chunk.id)).toBeCloseTo(hit.score, 9);
    }
  });

  it('scales each signal of the trace by its multiplier', async () => {
    const fused = await searcher.searchFused(QUESTIONS[0]!, { explain: true });
    expect(fused.ranked.some((h) => h.trace.some(([s]) => s === 'fulltext'))).toBe(true);
    const rescored = rescore(fused, { fulltext: 0, coverage: 2 });
    for (const hit of rescored.ranked) {
      const expected = hit.trace.reduce((sum, [signal, points]) => sum + (signal === 'fulltext' ? 0 : signal === 'coverage' ? 2 : 1) * points, 0);
      expect(hit.score).toBeCloseTo(expected, 9);
    }
    for (let i = 1; i < rescored.ranked.length; i++) expect(rescored.ranked[i - 1]!.score).toBeGreaterThanOrEqual(rescored.ranked[i]!.score);
  });

  it('grades as the shared grader and fits only what strictly gains', async () => {
    // Each question's expected answer is what the server shows first, so nothing can do better.
    const cases: FitCase[] = [];
    for (const [n, query] of QUESTIONS.entries()) {
      const [top] = await searcher.search(query);
      cases.push({ id: `q${n}`, kind: 'howto', query, expected: [{ path: top!.path, line: top!.startLine }] });
    }
    const items: FusedCase[] = await fuseCases([db], new Map([['mine', cases]]), 'hybrid');
    expect(grade(items, {})).toEqual({ recall: 1, mrr: 1 });
    expect(fit(items)).toEqual({});
    // A case the current weights rank second: an answer at rank 2 counts 1/2.
    const second = await searcher.search(QUESTIONS[0]!);
    const ranked2: FitCase = { id: 'r2', kind: 'howto', query: QUESTIONS[0]!, expected: [{ path: second[1]!.path, line: second[1]!.startLine }] };
    const [item2] = await fuseCases([db], new Map([['mine', [ranked2]]]), 'hybrid');
    expect(grade([item2!], {})).toEqual({ recall: 1, mrr: 0.5 });
    const cv = crossValidate([...items, item2!], 2);
    expect(cv.perFold).toHaveLength(2);
    expect([...cv.heldOut.keys()]).toEqual(['mine']);
  });
});
