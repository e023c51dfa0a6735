// BM25 over identifier-aware tokens; a match in the name/qualifiers outweighs one in the body.
import { chunkHit, type ChunkHit, type ChunkReader, type RankedId, type VectorHit } from '../../indexer/store.js';
import { EmbedderUnavailableError } from '../../indexer/embed/embedder.js';
import type { ParsedQuery } from '../query.js';
import { NEIGHBOURHOOD } from './vector.js';
import type { Candidate, Retriever } from './types.js';

export const NAME_BOOST = 2;
export const BODY_BOOST = 1;
const BOOSTS = { name: NAME_BOOST, body: BODY_BOOST };

/**
 * With vectors, how deep BM25's ranking is read for definitions the vector places near the
 * question. BM25's best 200 cut answers that fusion ranks high once found ("js_of_ocaml: the type
 * for a JavaScript value that may be null": `Js.opt` is 2nd fused from a list 1,000 long, absent
 * from one 200 long); those the static model also places near are worth reading, where the two
 * weak signals agree. Mean of static-model seeds 1–3, hybrid Recall@10 / MRR@10, with BM25's
 * first 200 read as well: mixed set 0.567 / 0.491 → 0.656 / 0.569, paraphrased 0.500 / 0.278 →
 * 0.500 / 0.283, dev unchanged; every ranked definition the vector holds, however deep: the
 * same; only the 20 / 40 / 60 of them best by BM25: mixed 0.589 / 0.600 / 0.622. Every lexical
 * list 600 long instead: mixed 0.656 / 0.553, and a one-shot lexical search 17.5 → 29 ms p50.
 */
export const VOUCHED_DEPTH = 600;
/**
 * With vectors, BM25's ranks read whether the vector vouches for them or not. Reading the first
 * 60 and the vouched after them: mixed 0.656 / 0.569, paraphrased 0.478 / 0.286, dev 0.818 /
 * 0.650 (the first 100: paraphrased 0.478 / 0.280). The one question lost (all seeds), "the
 * interface a key type must provide ... before you can build the standard library's
 * balanced-tree dictionary", asks for a kind of definition: `Map.OrderedType` is BM25's 184th,
 * and 6th fused for its kind. Such a question reads BM25's first 200 as before: paraphrased
 * 0.500 / 0.283, the others the same. Reading 60 rows and the vouched (147 rows p50) instead of
 * 200 and the vouched (28–30 / 53–57 ms p50 / p95), by row id (`readRanked`), is what makes
 * the deeper list affordable to the one-shot reader: its hybrid search 19.7 / 39.2 ms before,
 * 19.4 / 39.9 ms after in the bench; resident 4.2 ms both.
 */
export const ALWAYS_READ = 60;
/**
 * A question of this many distinct words or more (a change request, a described behaviour) also
 * reads BM25's ranks down to `limit` that score at least `LONG_QUESTION_FLOOR` of its best: each
 * definition matches a few of its many words, so BM25's ranks are flat and the 60th says little
 * against the 150th; fusion's coverage of the words ranks them. "Register a new OCaml compiler
 * warning 71 ..." found `Warnings.descriptions` (BM25 past 60, 0.7 of its best) only where the
 * static model vouched for it. Static-model seeds 1 / 2 / 3: edit coverage edits-6 0.849 / 0.742
 * / 0.754 → 0.849 / 0.765 / 0.789, edits-5 on seed 2 0.881 → 0.905, search-5 Recall@10 0.438 →
 * 0.469 each; no other set moved.
 */
const LONG_QUESTION = 12;
/**
 * Reading all of BM25's first 200 for such a question gave the same figures but cost the one-shot
 * reader 5–10 ms on some (140 more rows; LanceDB's take costs per row and column) and lost search-4
 * a rank on seed 3; a floor of 0.6 lost edits-5 on seed 2 and search-5 again. One-shot hybrid p95
 * over the dev questions, three alternating runs: 51.0 / 61.4 / 60.1 ms reading 200, 47.5 / 53.6 /
 * 56.2 ms with this floor.
 */
const LONG_QUESTION_FLOOR = 0.5;

export const fullTextRetriever: Retriever = {
  name: 'fulltext',
  async retrieve(query, { store, neighbours, shown }, limit) {
    const hits = neighbours ? await vouchedHits(query, store, neighbours, Math.max(ALWAYS_READ, shown), limit) : await store.fullText(query.terms, limit, BOOSTS);
    const top = hits[0]?.rawScore ?? 1;
    return hits.map((chunk): Candidate => ({ id: chunk.id, chunk, score: chunk.rawScore / top }));
  },
};

/**
 * BM25's first `always`, then those of its ranks down to `VOUCHED_DEPTH` that the vector places
 * near the question, best first; its first `limit` instead of `always` when the vector places
 * nothing or the question asks for a kind of definition, and for a long question those of the
 * first `limit` that BM25 scores near its best.
 */
async function vouchedHits(query: ParsedQuery, store: ChunkReader, neighbours: () => Promise<VectorHit[]>, always: number, limit: number): Promise<ChunkHit[]> {
  const [ranked, near] = await Promise.all([store.fullTextRanks(query.terms, Math.max(VOUCHED_DEPTH, limit), BOOSTS), neighbours().catch(withoutNeighbours)]);
  const nearby = new Set(near.slice(0, NEIGHBOURHOOD).map((h) => h.id));
  // The kind bonus lifts a definition from deep in BM25's list where the vector does not place it.
  const readAnyway = nearby.size > 0 && query.askedKinds.length === 0 ? always : limit;
  const floor = new Set(query.tokens).size >= LONG_QUESTION ? (ranked[0]?.score ?? 0) * LONG_QUESTION_FLOOR : Infinity;
  const read = ranked.filter((r, rank) => rank < readAnyway || nearby.has(r.id) || (rank < limit && r.score >= floor));
  const chunks = new Map((await store.readRanked(read)).map((c) => [c.id, c]));
  return read.flatMap(({ id, score }: RankedId) => {
    const chunk = chunks.get(id);
    return chunk ? [chunkHit(chunk, score, chunk.tokens)] : [];
  });
}

/** Without vectors BM25's first ranks stand alone; the vector retriever reports why. */
function withoutNeighbours(err: unknown): VectorHit[] {
  if (err instanceof EmbedderUnavailableError) return [];
  throw err;
}
