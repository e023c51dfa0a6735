// The offline default embedding model, learnt from the corpus being indexed: no weights can be
// downloaded, so codesearch makes its own. Each definition is a bag of identifier-aware tokens
// (its name and qualifiers, its doc comment — or its declaration's — and its code). Tokens that
// occur in the same definitions get nearby vectors: a truncated eigen-decomposition of the
// token×token co-occurrence matrix A·Aᵀ of tf-idf weighted bags (LSA), by randomized subspace
// iteration. Doc comments sit in the same bags as the names they document, which is what lets
// "pause" find `sleep`. A text's vector is the idf-weighted mean of its tokens' vectors.
import { createHash } from 'node:crypto';
import { gaussian, symmetricEigen, type SparseColumns } from './linalg.js';
import { KernelPool, sharedFloat32, sharedFloat64, sharedInt32 } from './kernels.js';

/** A definition's space-separated `tokenize` output: name and qualifiers, doc comment, doc and code. */
export interface TokenBag {
  name: string;
  doc: string;
  body: string;
}

export interface StaticTrainingOptions {
  dims?: number;
  seed?: number;
  /** Tokens seen in fewer definitions are left out of the vocabulary. */
  minCount?: number;
  maxVocabulary?: number;
  /** Definitions learnt from at most; a larger corpus is sampled evenly. */
  maxBags?: number;
}

export const STATIC_DEFAULTS = { dims: 96, seed: 1, minCount: 3, maxVocabulary: 80_000, maxBags: 500_000 } as const;
/**
 * Which way of learning made a model, part of its id. Bumped when the same corpus would teach a
 * different model: an index whose model an older recipe learnt learns it again on its next run.
 * 2: documented definitions are learnt a second time as name and doc alone.
 */
export const STATIC_RECIPE = 2;
/** A name token weighs as much as this many body tokens: the name says what a definition is. */
const NAME_WEIGHT = 3;
const DOC_WEIGHT = 2;
/**
 * A definition's vector is its name and doc (what it is for) plus this share of its code's:
 * questions are asked in the words of docs and names; code words only break ties (measured on
 * the dev cases: vector-only Recall@10 0.27 from whole bags, 0.36 this way).
 */
const CODE_SHARE = 0.3;
const SMALL_CORPUS = 10_000;
/** Extra columns for the randomized range finder. */
const OVERSAMPLE = 16;
/** Exponent applied to the singular values (0.5 rather than LSA's 1 keeps minor topics alive). */
const SINGULAR_POWER = 0.5;

export class StaticModel {
  private readonly index: Map<string, number>;
  /** Scratch counts, emptied after each use: embedding is synchronous, so one pair serves every call. */
  private readonly summary = new TermCounts();
  private readonly code = new TermCounts();

  constructor(
    readonly vocabulary: readonly string[],
    readonly idf: Float32Array,
    /** vocabulary.length × dims, row-major. */
    readonly vectors: Float32Array,
    readonly dims: number,
  ) {
    this.index = new Map(vocabulary.map((t, i) => [t, i]));
  }

  /** Content identity: the same vocabulary and weights give the same id. */
  get id(): string {
    const hash = createHash('sha256');
    hash.update(this.vocabulary.join(' '));
    hash.update(new Uint8Array(this.idf.buffer, this.idf.byteOffset, this.idf.byteLength));
    hash.update(new Uint8Array(this.vectors.buffer, this.vectors.byteOffset, this.vectors.byteLength));
    return `static-r${STATIC_RECIPE}-${this.dims}d-${hash.digest('hex').slice(0, 12)}`;
  }

  /** A definition's unit vector (all zeros when none of its tokens is in the vocabulary). */
  embed(bag: TokenBag): Float32Array {
    const summary = this.summary;
    const code = this.code;
    countTokens(bag.name, NAME_WEIGHT, this.index, summary);
    countTokens(bag.doc, DOC_WEIGHT, this.index, summary);
    countTokens(bag.body, 1, this.index, code);
    const out = this.combine(summary);
    const codeVector = this.combine(code);
    for (let j = 0; j < this.dims; j++) out[j] = out[j]! + CODE_SHARE * codeVector[j]!;
    return normalize(out);
  }

  /** A query's vector: every distinct known token once, weighted by its idf. */
  embedTokens(tokens: readonly string[]): Float32Array {
    const counts = this.summary;
    for (const t of tokens) {
      const i = this.index.get(t);
      if (i !== undefined && counts.weightOf(i) === 0) counts.add(i, 1);
    }
    return this.combine(counts);
  }

  /** Nearest tokens by cosine, for inspection and tests. */
  neighbours(token: string, n: number): string[] {
    const i = this.index.get(token);
    if (i === undefined) return [];
    const d = this.dims;
    const norm = (k: number) => Math.hypot(...this.vectors.subarray(k * d, (k + 1) * d));
    const ni = norm(i);
    const scored: [number, number][] = [];
    for (let k = 0; k < this.vocabulary.length; k++) {
      if (k === i) continue;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += this.vectors[i * d + j]! * this.vectors[k * d + j]!;
      scored.push([k, dot / (ni * norm(k) || 1)]);
    }
    return scored
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k]) => this.vocabulary[k]!);
  }

  /** Sums the counted tokens' vectors (log tf × idf) and empties `counts` for the next text. */
  private combine(counts: TermCounts): Float32Array {
    const d = this.dims;
    const out = new Float32Array(d);
    for (const i of counts.touched) {
      const w = (1 + Math.log(counts.weightOf(i))) * this.idf[i]!;
      const o = i * d;
      for (let j = 0; j < d; j++) out[j] = out[j]! + w * this.vectors[o + j]!;
    }
    counts.clear();
    return normalize(out);
  }
}

/**
 * Token weights of one text, reused from text to text: a dense array indexed by token id and
 * the ids touched in first-seen order (a Map per text cost more than the arithmetic).
 */
class TermCounts {
  private weights = new Float64Array(1024);
  readonly touched: number[] = [];

  add(id: number, weight: number): void {
    if (id >= this.weights.length) {
      const grown = new Float64Array(Math.max(id + 1, this.weights.length * 2));
      grown.set(this.weights);
      this.weights = grown;
    }
    if (this.weights[id] === 0) this.touched.push(id);
    this.weights[id] = this.weights[id]! + weight;
  }

  weightOf(id: number): number {
    return this.weights[id] ?? 0;
  }

  clear(): void {
    for (const id of this.touched) this.weights[id] = 0;
    this.touched.length = 0;
  }
}

/** Scales to unit length in place; an all-zero vector (no known token) stays zero, never NaN. */
function normalize(v: Float32Array): Float32Array {
  let norm = 0;
  for (let j = 0; j < v.length; j++) norm += v[j]! * v[j]!;
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < v.length; j++) v[j] = v[j]! * inv;
  }
  return v;
}

function countTokens(tokens: string, weight: number, index: Map<string, number>, counts: TermCounts): void {
  if (!tokens) return;
  for (const t of tokens.split(' ')) {
    const i = index.get(t);
    if (i !== undefined) counts.add(i, weight);
  }
}

/**
 * Trains a model from every definition's token bag (name and body; the body holds the doc
 * already). Deterministic for a given input order and seed. Undefined when no definition has a
 * single token to learn from.
 */
export async function trainStaticModel(allBags: readonly TokenBag[], options: StaticTrainingOptions = {}): Promise<StaticModel | undefined> {
  const { dims, seed, minCount, maxVocabulary, maxBags } = { ...STATIC_DEFAULTS, ...options };
  // A large corpus is learnt from an even sample of its definitions: training time stays
  // bounded however big the monorepo grows.
  const stride = Math.ceil(allBags.length / maxBags);
  const bags = stride > 1 ? allBags.filter((_, i) => i % stride === 0) : allBags;

  // 1. Intern every token and count the definitions it occurs in.
  const ids = new Map<string, number>();
  const bagsAsIds = new PackedBags(bags.length + bags.filter((b) => b.doc).length);
  let df = new Int32Array(1024);
  const counts = new TermCounts();
  const learn = (name: string, body: string) => {
    internAndCount(name, NAME_WEIGHT, ids, counts);
    internAndCount(body, 1, ids, counts);
    if (ids.size > df.length) {
      const grown = new Int32Array(Math.max(ids.size, df.length * 2));
      grown.set(df);
      df = grown;
    }
    for (const t of counts.touched) df[t]!++;
    bagsAsIds.push(counts);
    counts.clear();
  };
  for (const bag of bags) {
    learn(bag.name, bag.body);
    // A documented definition is learnt a second time as its name and doc alone: the one place
    // where the corpus says in prose what a name means, without its code's words drowning that.
    if (bag.doc) learn(bag.name, `${bag.doc} ${bag.doc}`);
  }

  // 2. The vocabulary: tokens in at least `minCount` definitions, most widespread first. A
  // small repository keeps every token: it has too few definitions for rare ones to be noise.
  const tokens = [...ids.keys()];
  const floor = bagsAsIds.length < SMALL_CORPUS ? 1 : minCount;
  const kept = tokens
    .map((t, id) => [t, id] as const)
    .filter(([, id]) => df[id]! >= floor)
    .sort((a, b) => df[b[1]]! - df[a[1]]! || (a[0] < b[0] ? -1 : 1))
    .slice(0, maxVocabulary);
  const vocabIndex = new Int32Array(ids.size).fill(-1);
  kept.forEach(([, id], i) => (vocabIndex[id] = i));
  const documents = bagsAsIds.length;
  const idf = Float32Array.from(kept, ([, id]) => Math.log(documents / df[id]!));

  if (kept.length === 0) return undefined;
  // 3. The tf-idf weighted token×definition matrix, each definition's column of unit length.
  const matrix = sparseColumns(bagsAsIds, vocabIndex, idf, kept.length);

  // 4. Leading eigenvectors of A·Aᵀ by one step of randomized subspace iteration.
  const vocab = kept.length;
  const width = Math.min(dims + OVERSAMPLE, vocab);
  const pool = KernelPool.start(vocab * width);
  try {
    const cooccur = (x: Float64Array) => pool.multiplyGram(matrix, x, width);
    const start = gaussian(vocab * width, seed, sharedFloat64(vocab * width));
    // A·Aᵀ squares the spectrum already, so one product finds the leading subspace well enough;
    // Rayleigh–Ritz on it then gives the eigenvectors.
    const basis = await cooccur(start);
    await pool.orthonormalize(basis, vocab, width);
    const { values, vectors: rotation } = symmetricEigen(await pool.symmetricGram(basis, await cooccur(basis), vocab, width), width);

    // 5. Token vectors: the basis rotated onto the eigenvectors, scaled by σ^SINGULAR_POWER.
    const outDims = Math.min(dims, width);
    const rotated = new Float64Array(width * outDims);
    for (let k = 0; k < width; k++) {
      for (let j = 0; j < outDims; j++) rotated[k * outDims + j] = rotation[k * width + j]! * Math.max(values[j]!, 0) ** (SINGULAR_POWER / 2);
    }
    const out = Float32Array.from(await pool.multiplyRows(basis, rotated, vocab, width, outDims));
    fixSigns(out, vocab, outDims);
    return new StaticModel(
      kept.map(([t]) => t),
      idf,
      out,
      outDims,
    );
  } finally {
    await pool.close();
  }
}

/** Adds `weight` per occurrence of each token of `text` to `counts`, interning new tokens. */
function internAndCount(text: string, weight: number, ids: Map<string, number>, counts: TermCounts): void {
  if (!text) return;
  for (const t of text.split(' ')) {
    if (!t) continue;
    let i = ids.get(t);
    if (i === undefined) ids.set(t, (i = ids.size));
    counts.add(i, weight);
  }
}

/**
 * Every definition's term ids and weights, one after the other in two growing arrays: 150,000
 * pairs of small typed arrays cost more memory than their contents.
 */
class PackedBags {
  terms = new Int32Array(1 << 16);
  weights = new Float32Array(1 << 16);
  readonly ptr: Int32Array;
  length = 0;

  constructor(capacity: number) {
    this.ptr = new Int32Array(capacity + 1);
  }

  push(counts: TermCounts): void {
    const start = this.ptr[this.length]!;
    const end = start + counts.touched.length;
    if (end > this.terms.length) {
      const size = Math.max(end, this.terms.length * 2);
      const [terms, weights] = [new Int32Array(size), new Float32Array(size)];
      terms.set(this.terms);
      weights.set(this.weights);
      [this.terms, this.weights] = [terms, weights];
    }
    counts.touched.forEach((t, i) => {
      this.terms[start + i] = t;
      this.weights[start + i] = counts.weightOf(t);
    });
    this.ptr[++this.length] = end;
  }
}

function sparseColumns(bags: PackedBags, vocabIndex: Int32Array, idf: Float32Array, rows: number): SparseColumns {
  // On shared memory: the kernel worker reads it without a copy.
  const ptr = sharedInt32(bags.length + 1);
  let nnz = 0;
  for (let c = 0; c < bags.length; c++) {
    for (let i = bags.ptr[c]!; i < bags.ptr[c + 1]!; i++) if (vocabIndex[bags.terms[i]!]! >= 0) nnz++;
    ptr[c + 1] = nnz;
  }
  const rowsOut = sharedInt32(nnz);
  const values = sharedFloat32(nnz);
  for (let c = 0; c < bags.length; c++) {
    let p = ptr[c]!;
    let norm = 0;
    for (let i = bags.ptr[c]!; i < bags.ptr[c + 1]!; i++) {
      const v = vocabIndex[bags.terms[i]!]!;
      if (v < 0) continue;
      const w = (1 + Math.log(bags.weights[i]!)) * idf[v]!;
      rowsOut[p] = v;
      values[p++] = w;
      norm += w * w;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let q = ptr[c]!; q < p; q++) values[q] = values[q]! * inv;
  }
  return { rowsCount: rows, columnsCount: bags.length, ptr, rows: rowsOut, values };
}

/** An eigenvector's sign is arbitrary: fix each column's so that output is reproducible. */
function fixSigns(m: Float32Array, rows: number, cols: number): void {
  for (let j = 0; j < cols; j++) {
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += m[r * cols + j]!;
    if (sum < 0) for (let r = 0; r < rows; r++) m[r * cols + j] = -m[r * cols + j]!;
  }
}
