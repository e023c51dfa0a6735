// BM25 over a resident reader's definitions, in memory: what LanceDB's full-text index answers
// for the name and body token columns, scored as Lance scores them (measured against it on the
// full corpus: same scores to 1e-5, the float32 rounding of Lance's). LanceDB took 12 ms of its
// threads per search there (2 cores), the largest part of an HTTP search under load.
//
// Lance's BM25, per column: k1 1.2, b 0.75, idf ln(1 + (N − n + 0.5) / (n + 0.5)), where N and
// the average length count only the documents with at least one token in that column; a query
// over several columns scores a document by its best column, boost applied.

import { FTS_MAX_TOKEN_LENGTH, FUZZY_EXPANSIONS, type TokenSet } from '../indexer/store.js';
import { editDistance } from '../indexer/text.js';

const K1 = 1.2;
const B = 0.75;
/**
 * Lance's tokenizer drops longer tokens: they count neither as terms nor in a column's length.
 * They are indexed here all the same, for `TokenSet.has`, but never searched.
 */
const MAX_TOKEN_LENGTH = FTS_MAX_TOKEN_LENGTH;
/** A term's count in one column saturates long before this: BM25 flattens it past a few. */
const MAX_COUNT = 0xffff;

/** A document as indexed: its name and body tokens, space-separated, as the store holds them. */
export interface TermDocument<T> {
  doc: T;
  name: string;
  body: string;
}

/** What the index needs of a document it holds: its number in the postings built by `builder` (−1 for one added later). */
export interface Numbered {
  termDoc: number;
}

/**
 * Numbers appended in fixed blocks: a typed array that doubled as it filled held up to twice
 * its entries, plus a copy at each doubling, which a full load's peak memory paid for.
 */
class Appended {
  private static readonly BLOCK = 1 << 16;
  private readonly blocks: Uint32Array[] = [];
  length = 0;

  push(x: number): void {
    const at = this.length % Appended.BLOCK;
    if (at === 0) this.blocks.push(new Uint32Array(Appended.BLOCK));
    this.blocks[this.blocks.length - 1]![at] = x;
    this.length++;
  }

  /** Calls `each` with every number in order, and its place. */
  forEach(each: (x: number, i: number) => void): void {
    this.blocks.forEach((block, b) => {
      const n = Math.min(Appended.BLOCK, this.length - b * Appended.BLOCK);
      for (let i = 0; i < n; i++) each(block[i]!, b * Appended.BLOCK + i);
    });
  }

  toArray(): Uint32Array {
    const out = new Uint32Array(this.length);
    this.blocks.forEach((block, b) => out.set(block.subarray(0, Math.min(Appended.BLOCK, this.length - b * Appended.BLOCK)), b * Appended.BLOCK));
    return out;
  }
}

/** Postings of one set of documents, by term; documents are numbered in the order they were added. */
class Postings {
  /** Per-query score accumulators, reused: a search runs to its end without yielding. */
  private scratch?: { scores: Float64Array; touched: Uint32Array };
  private byInitial?: Map<number, string[]>;

  private constructor(
    private readonly terms: Map<string, number>,
    /** Term t's entries are offsets[t] .. offsets[t + 1], by ascending document. */
    private readonly offsets: Uint32Array,
    private readonly docs: Uint32Array,
    private readonly nameCounts: Uint16Array,
    private readonly bodyCounts: Uint16Array,
    /** Per document, the lengths of its name and of its body, side by side. */
    private readonly lengths: Uint32Array,
    /** Per term, the documents holding it in their name, and in their body. */
    private readonly inNames: Uint32Array,
    private readonly inBodies: Uint32Array,
  ) {}

  static builder(): { add(name: string, body: string): void; build(): Postings } {
    const terms = new Map<string, number>();
    // A document's entries follow its predecessor's: term ids and counts (name's in the low 16
    // bits, body's above), and where each document's entries end.
    const [entryTerm, entryCounts, docEnds, lengths] = [new Appended(), new Appended(), new Appended(), new Appended()];
    // One document's counts by term id, name's in the low 16 bits and body's above, and the terms
    // it holds: reused for every document (a map and a pair per term and document made a full
    // load take seconds longer).
    let counts = new Uint32Array(1024);
    const seen: number[] = [];
    return {
      add(name, body) {
        seen.length = 0;
        for (const [text, unit] of [[name, 1], [body, 0x10000]] as const) {
          let length = 0;
          for (const token of text.split(' ')) {
            if (!token) continue;
            let t = terms.get(token);
            if (t === undefined) {
              // A copy: a token split from a long column is a slice that would keep it all alive.
              terms.set(Buffer.from(token, 'latin1').toString('latin1'), (t = terms.size));
              if (t === counts.length) {
                const bigger = new Uint32Array(2 * counts.length);
                bigger.set(counts);
                counts = bigger;
              }
            }
            const c = counts[t]!;
            if (c === 0) seen.push(t);
            if (token.length <= MAX_TOKEN_LENGTH) length++;
            // Saturated at MAX_COUNT, which BM25 flattens long before.
            if (((c / unit) & MAX_COUNT) < MAX_COUNT) counts[t] = c + unit;
          }
          lengths.push(length);
        }
        for (const t of seen) {
          entryTerm.push(t);
          entryCounts.push(counts[t]!);
          counts[t] = 0;
        }
        docEnds.push(entryTerm.length);
      },
      build() {
        // Entries regrouped by term; a counting sort keeps each term's documents ascending.
        const n = entryTerm.length;
        const offsets = new Uint32Array(terms.size + 1);
        entryTerm.forEach((t) => offsets[t + 1]!++);
        for (let t = 0; t < terms.size; t++) offsets[t + 1]! += offsets[t]!;
        const fill = offsets.slice(0, terms.size);
        const [docs, nameCounts, bodyCounts] = [new Uint32Array(n), new Uint16Array(n), new Uint16Array(n)];
        const [inNames, inBodies] = [new Uint32Array(terms.size), new Uint32Array(terms.size)];
        const term = entryTerm.toArray();
        let doc = 0;
        let docEnd = 0;
        const ends = docEnds.toArray();
        entryCounts.forEach((c, i) => {
          while (i >= docEnd) docEnd = ends[doc++]!;
          const t = term[i]!;
          const at = fill[t]!++;
          docs[at] = doc - 1;
          nameCounts[at] = c & MAX_COUNT;
          bodyCounts[at] = c >>> 16;
          if (nameCounts[at]) inNames[t]!++;
          if (bodyCounts[at]) inBodies[t]!++;
        });
        return new Postings(terms, offsets, docs, nameCounts, bodyCounts, lengths.toArray(), inNames, inBodies);
      },
    };
  }

  static of(documents: readonly { name: string; body: string }[]): Postings {
    const builder = Postings.builder();
    for (const d of documents) builder.add(d.name, d.body);
    return builder.build();
  }

  get size(): number {
    return this.lengths.length / 2;
  }

  /** Document `doc`'s name and body lengths. */
  lengthsOf(doc: number): [name: number, body: number] {
    return [this.lengths[2 * doc]!, this.lengths[2 * doc + 1]!];
  }

  /** How many documents hold `term` in their name, and in their body, less those counted in `gone` (`frequencyAmong`). */
  frequency(term: string, gone?: { inNames: Uint32Array; inBodies: Uint32Array }): [name: number, body: number] {
    const t = this.terms.get(term);
    if (t === undefined) return [0, 0];
    return [this.inNames[t]! - (gone?.inNames[t] ?? 0), this.inBodies[t]! - (gone?.inBodies[t] ?? 0)];
  }

  /** Per term id, how many of the documents `gone` marks hold it in their name, and in their body: a pass over every entry. */
  frequencyAmong(gone: Uint8Array): { inNames: Uint32Array; inBodies: Uint32Array } {
    const [inNames, inBodies] = [new Uint32Array(this.terms.size), new Uint32Array(this.terms.size)];
    for (let t = 0; t < this.terms.size; t++) {
      for (let i = this.offsets[t]!, end = this.offsets[t + 1]!; i < end; i++) {
        if (gone[this.docs[i]!] !== 1) continue;
        if (this.nameCounts[i]) inNames[t]!++;
        if (this.bodyCounts[i]) inBodies[t]!++;
      }
    }
    return { inNames, inBodies };
  }

  /** The terms that start with the character `code`, grouped on first use (a fuzzy lookup's candidates). */
  termsStartingWith(code: number): readonly string[] {
    if (!this.byInitial) {
      const groups = new Map<number, string[]>();
      for (const term of this.terms.keys()) {
        const initial = term.charCodeAt(0);
        const group = groups.get(initial);
        if (group) group.push(term);
        else groups.set(initial, [term]);
      }
      this.byInitial = groups;
    }
    return this.byInitial.get(code) ?? [];
  }

  /** Whether document `doc` holds `term` (a binary search of the term's postings). */
  holds(term: string, doc: number): boolean {
    const t = this.terms.get(term);
    return t !== undefined && this.holdsTerm(t, doc);
  }

  /** Calls `each` with every document that holds all of `terms`, ascending: the rarest term's postings, checked against the others'. */
  holdingAll(terms: readonly string[], each: (doc: number) => void): void {
    const ids: number[] = [];
    for (const term of terms) {
      const t = this.terms.get(term);
      if (t === undefined) return;
      ids.push(t);
    }
    if (ids.length === 0) return;
    ids.sort((a, b) => this.offsets[a + 1]! - this.offsets[a]! - (this.offsets[b + 1]! - this.offsets[b]!));
    // Plain loops: a closure per posting of the rarest term was a twentieth of a search's garbage.
    const rarest = ids[0]!;
    postings: for (let i = this.offsets[rarest]!, end = this.offsets[rarest + 1]!; i < end; i++) {
      const doc = this.docs[i]!;
      for (let k = 1; k < ids.length; k++) if (!this.holdsTerm(ids[k]!, doc)) continue postings;
      each(doc);
    }
  }

  private holdsTerm(t: number, doc: number): boolean {
    let lo = this.offsets[t]!;
    let hi = this.offsets[t + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.docs[mid]! < doc) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.offsets[t + 1]! && this.docs[lo] === doc;
  }

  /**
   * Adds each document's BM25 score for `terms` (weights: each term's idf times its column's
   * boost) to `best`, skipping documents `gone` marks; `first` numbers this set's documents
   * after the sets before it.
   */
  score(terms: readonly string[], weights: readonly { name: number; body: number }[], average: { name: number; body: number }, gone: Uint8Array | undefined, best: BestHits, first: number): void {
    const size = this.size;
    // A document's two column scores side by side, and its two lengths: one cache line each,
    // where separate arrays cost two (postings hit documents all over the corpus).
    // The documents scored, in a typed array: pushing onto a growing JS array cost 96 ns each.
    const { scores, touched } = (this.scratch ??= { scores: new Float64Array(2 * size), touched: new Uint32Array(size) });
    let hits = 0;
    const lengths = this.lengths;
    const { docs, nameCounts, bodyCounts } = this;
    // BM25's length normalisation, k1·(1 − b + b·len/avg) = normA + normB·len, per column.
    const [nameA, nameB] = [K1 * (1 - B), (K1 * B) / average.name];
    const [bodyA, bodyB] = [K1 * (1 - B), (K1 * B) / average.body];
    for (let k = 0; k < terms.length; k++) {
      const t = this.terms.get(terms[k]!);
      if (t === undefined) continue;
      const wName = weights[k]!.name * (K1 + 1);
      const wBody = weights[k]!.body * (K1 + 1);
      for (let i = this.offsets[t]!, end = this.offsets[t + 1]!; i < end; i++) {
        const doc = docs[i]!;
        if (gone !== undefined && gone[doc] === 1) continue;
        const at = 2 * doc;
        if (scores[at] === 0 && scores[at + 1] === 0) touched[hits++] = doc;
        const n = nameCounts[i]!;
        const b = bodyCounts[i]!;
        if (n !== 0) scores[at]! += (wName * n) / (n + nameA + nameB * lengths[at]!);
        if (b !== 0) scores[at + 1]! += (wBody * b) / (b + bodyA + bodyB * lengths[at + 1]!);
      }
    }
    for (let h = 0; h < hits; h++) {
      const doc = touched[h]!;
      best.offer(first + doc, Math.max(scores[2 * doc]!, scores[2 * doc + 1]!));
      scores[2 * doc] = 0;
      scores[2 * doc + 1] = 0;
    }
  }
}

export interface TermHit<T> {
  doc: T;
  score: number;
}

/** Per column, as Lance counts them: the documents with at least one token in it, and their tokens. */
interface Totals {
  withName: number;
  withBody: number;
  nameLength: number;
  bodyLength: number;
}

/**
 * The documents of one index version. After a full load, one set of postings; a version patched
 * for a few changed files keeps the earlier postings with the changed documents marked gone, and
 * indexes the newer documents beside them (again at each patch: they are few).
 */
export class TermIndex<T extends Numbered> {
  private constructor(
    private readonly base: Postings,
    private readonly baseDocs: readonly T[],
    /** 1 for a base document no longer in this version; undefined while none is gone. */
    private readonly gone: Uint8Array | undefined,
    /** Per base term id, the gone documents holding it in their name, and in their body. */
    private readonly goneFrequency: { inNames: Uint32Array; inBodies: Uint32Array } | undefined,
    private readonly added: Postings,
    /** The added documents with their tokens: the next patch indexes them again. */
    private readonly addedDocs: readonly TermDocument<T>[],
    /** Each added document's number in `added`. */
    private readonly addedNumbers: ReadonlyMap<T, number>,
    private readonly totals: Totals,
  ) {}

  /** An index of the documents added, in order; each is given its number (`termDoc`). */
  static builder<T extends Numbered>(): { add(d: TermDocument<T>): void; build(): TermIndex<T> } {
    const docs: T[] = [];
    const postings = Postings.builder();
    return {
      add({ doc, name, body }) {
        doc.termDoc = docs.length;
        docs.push(doc);
        postings.add(name, body);
      },
      build() {
        const base = postings.build();
        return new TermIndex(base, docs, undefined, undefined, Postings.of([]), [], new Map(), totalsOf([base], [undefined]));
      },
    };
  }

  /**
   * This index without the documents `drop` picks, with `fresh` added (numbered −1: they are not
   * in the base postings). The receiver is unchanged.
   */
  patched(drop: (doc: T) => boolean, fresh: readonly TermDocument<T>[]): TermIndex<T> {
    const gone = this.gone?.slice() ?? new Uint8Array(this.base.size);
    this.baseDocs.forEach((d, i) => {
      if (drop(d)) gone[i] = 1;
    });
    for (const { doc } of fresh) doc.termDoc = -1;
    const addedDocs = [...this.addedDocs.filter((d) => !drop(d.doc)), ...fresh];
    const added = Postings.of(addedDocs);
    const addedNumbers = new Map(addedDocs.map((d, i) => [d.doc, i]));
    return new TermIndex(this.base, this.baseDocs, gone, this.base.frequencyAmong(gone), added, addedDocs, addedNumbers, totalsOf([this.base, added], [gone, undefined]));
  }

  /** The best `limit` documents for `tokens`, best first; equal scores in the order the documents were added. */
  search(tokens: readonly string[], limit: number, boosts: { name: number; body: number }): TermHit<T>[] {
    const { totals } = this;
    if (limit <= 0) return [];
    const terms = [...new Set(tokens)].filter((t) => t && t.length <= MAX_TOKEN_LENGTH);
    const weights = terms.map((term) => {
      const [inNames, inBodies] = this.frequency(term);
      return { name: boosts.name * idf(inNames, totals.withName), body: boosts.body * idf(inBodies, totals.withBody) };
    });
    return this.scored(terms, weights, limit);
  }

  /** How many of this version's documents hold `term` in their name, and in their body. */
  private frequency(term: string): [name: number, body: number] {
    const [inNames, inBodies] = this.base.frequency(term, this.goneFrequency);
    const [addedNames, addedBodies] = this.added.frequency(term);
    return [inNames + addedNames, inBodies + addedBodies];
  }

  /** The best `limit` documents by BM25 over `terms`, each weighted per column. */
  private scored(terms: readonly string[], weights: readonly { name: number; body: number }[], limit: number): TermHit<T>[] {
    const { totals } = this;
    const average = { name: totals.nameLength / totals.withName || 1, body: totals.bodyLength / totals.withBody || 1 };
    // No more places than documents: the heap's arrays are allocated whole.
    const best = new BestHits(Math.min(limit, this.base.size + this.added.size));
    this.base.score(terms, weights, average, this.gone, best, 0);
    this.added.score(terms, weights, average, undefined, best, this.base.size);
    return best.best((doc, score) => ({ doc: doc < this.base.size ? this.baseDocs[doc]! : this.addedDocs[doc - this.base.size]!.doc, score }));
  }

  /**
   * The best `limit` documents for the name terms within `fuzziness` edits of `token`, as LanceDB's
   * fuzzy match on the name column finds and scores them: the first `FUZZY_EXPANSIONS` such terms
   * in lexicographic order that share the token's first letter, each by its BM25 over names.
   * Measured on the full corpus: the same documents and scores (to 1e-5); LanceDB orders equal
   * scores its own way. Asked of LanceDB, such a lookup cost 6–12 ms and 11 MB of cached index.
   */
  fuzzyNames(token: string, limit: number, fuzziness: number): TermHit<T>[] {
    if (!token || limit <= 0) return [];
    const inName = (term: string) => this.frequency(term)[0];
    const near = new Set<string>();
    for (const postings of [this.base, this.added]) {
      for (const term of postings.termsStartingWith(token.charCodeAt(0))) {
        if (term.length > MAX_TOKEN_LENGTH || Math.abs(term.length - token.length) > fuzziness) continue;
        if (editDistance(term, token, fuzziness) <= fuzziness && inName(term) > 0) near.add(term);
      }
    }
    const terms = [...near].sort().slice(0, FUZZY_EXPANSIONS);
    const weights = terms.map((term) => ({ name: idf(inName(term), this.totals.withName), body: 0 }));
    return this.scored(terms, weights, limit).filter((h) => h.score > 0);
  }

  /** The documents that hold every one of `tokens` (none for no tokens), in the order they were added. */
  holdingAll(tokens: readonly string[]): T[] {
    const out: T[] = [];
    this.base.holdingAll(tokens, (d) => {
      if (this.gone?.[d] !== 1) out.push(this.baseDocs[d]!);
    });
    this.added.holdingAll(tokens, (d) => out.push(this.addedDocs[d]!.doc));
    return out;
  }

  /** The tokens of `doc`, a document of this index, as ranking asks of them. */
  tokensOf(doc: T): TokenSet {
    if (doc.termDoc >= 0 && this.baseDocs[doc.termDoc] === doc) return { has: (token) => this.base.holds(token, doc.termDoc) };
    const n = this.addedNumbers.get(doc);
    return { has: (token) => n !== undefined && this.added.holds(token, n) };
  }
}

function idf(matching: number, docs: number): number {
  return Math.log((docs - matching + 0.5) / (matching + 0.5) + 1);
}

function totalsOf(parts: readonly Postings[], gone: readonly (Uint8Array | undefined)[]): Totals {
  const out = { withName: 0, withBody: 0, nameLength: 0, bodyLength: 0 };
  parts.forEach((p, k) => {
    for (let d = 0; d < p.size; d++) {
      if (gone[k]?.[d]) continue;
      const [name, body] = p.lengthsOf(d);
      if (name) out.withName++;
      if (body) out.withBody++;
      out.nameLength += name;
      out.bodyLength += body;
    }
  });
  return out;
}

/**
 * The `limit` best of the documents offered (numbers, smaller first on equal scores), in a
 * min-heap: sorting every hit of a common term (tens of thousands) cost more than scoring them.
 * The heap is two typed arrays: an object per kept hit was the largest part of a search's garbage.
 */
class BestHits {
  private readonly docs: Uint32Array;
  private readonly scores: Float64Array;
  private size = 0;

  constructor(private readonly limit: number) {
    this.docs = new Uint32Array(limit);
    this.scores = new Float64Array(limit);
  }

  /** Whether the hit at `i` ranks before the one at `j`. */
  private before(i: number, j: number): boolean {
    const a = this.scores[i]!;
    const b = this.scores[j]!;
    return a > b || (a === b && this.docs[i]! < this.docs[j]!);
  }

  // Plain temporaries: a destructuring swap allocated an array each time.
  private swap(i: number, j: number): void {
    const { docs, scores } = this;
    const doc = docs[i]!;
    docs[i] = docs[j]!;
    docs[j] = doc;
    const score = scores[i]!;
    scores[i] = scores[j]!;
    scores[j] = score;
  }

  offer(doc: number, score: number): void {
    if (this.size === this.limit) {
      // The root is the worst hit kept.
      const worst = this.scores[0]!;
      if (score < worst || (score === worst && doc > this.docs[0]!)) return;
      this.docs[0] = doc;
      this.scores[0] = score;
      this.sink(0);
      return;
    }
    this.docs[this.size] = doc;
    this.scores[this.size] = score;
    for (let i = this.size++; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.before(parent, i)) break;
      this.swap(parent, i);
      i = parent;
    }
  }

  private sink(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < this.size && this.before(worst, l)) worst = l;
      if (r < this.size && this.before(worst, r)) worst = r;
      if (worst === i) return;
      this.swap(worst, i);
      i = worst;
    }
  }

  /** The hits kept, best first, each as `hit` makes it. */
  best<R>(hit: (doc: number, score: number) => R): R[] {
    const order = Uint32Array.from({ length: this.size }, (_, i) => i).sort((i, j) => (this.before(i, j) ? -1 : 1));
    return Array.from(order, (i) => hit(this.docs[i]!, this.scores[i]!));
  }
}
