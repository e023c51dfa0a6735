// The few dense/sparse linear-algebra kernels the static embedder trains with: sparse products
// over a column-compressed matrix, Cholesky QR, and Jacobi eigenvalues for small symmetric
// matrices. Row-major Float64Array throughout; sizes are in the tens of thousands by ~150.
// The heavy kernels work on a range of rows or columns, so that kernels.ts can run two ranges
// at once.

/** A sparse matrix stored by column (CSC): column c holds rows `rows[ptr[c]..ptr[c+1])`. */
export interface SparseColumns {
  rowsCount: number;
  columnsCount: number;
  ptr: Int32Array;
  rows: Int32Array;
  values: Float32Array;
}

/**
 * Adds A·Aᵀ·X over the columns [from, to) of A into `y` (rows×width), in one pass: each column's
 * Aᵀ-row is computed into a small buffer and scattered straight back, so the D×width
 * intermediate is never materialised.
 */
export function multiplyGramInto(a: SparseColumns, x: Float64Array, width: number, y: Float64Array, from: number, to: number): void {
  const z = new Float64Array(width);
  for (let c = from; c < to; c++) {
    const start = a.ptr[c]!;
    const end = a.ptr[c + 1]!;
    if (start === end) continue;
    z.fill(0);
    for (let p = start; p < end; p++) {
      const w = a.values[p]!;
      const xo = a.rows[p]! * width;
      for (let j = 0; j < width; j++) z[j] = z[j]! + w * x[xo + j]!;
    }
    for (let p = start; p < end; p++) {
      const w = a.values[p]!;
      const yo = a.rows[p]! * width;
      for (let j = 0; j < width; j++) y[yo + j] = y[yo + j]! + w * z[j]!;
    }
  }
}

/**
 * Adds the upper triangle of XᵀY over the rows [from, to) of two row-major n×width matrices
 * into `g` (width×width); for products known to be symmetric (YᵀY, QᵀMQ).
 */
export function symmetricGramInto(x: Float64Array, y: Float64Array, width: number, g: Float64Array, from: number, to: number): void {
  for (let r = from; r < to; r++) {
    const o = r * width;
    for (let i = 0; i < width; i++) {
      const xi = x[o + i]!;
      if (xi === 0) continue;
      const go = i * width;
      for (let j = i; j < width; j++) g[go + j] = g[go + j]! + xi * y[o + j]!;
    }
  }
}

/** Copies the upper triangle of a width×width matrix onto its lower one. */
export function mirrorUpper(g: Float64Array, width: number): Float64Array {
  for (let i = 0; i < width; i++) for (let j = 0; j < i; j++) g[i * width + j] = g[j * width + i]!;
  return g;
}

/**
 * Solves row · R = y_k in place for the rows [from, to) of `y` (R upper triangular, from
 * `cholesky`): the second half of Cholesky QR. A zero pivot gives a zero column.
 */
export function solveRowsInto(y: Float64Array, r: Float64Array, width: number, from: number, to: number): void {
  const row = new Float64Array(width);
  for (let k = from; k < to; k++) {
    const o = k * width;
    for (let j = 0; j < width; j++) {
      let s = y[o + j]!;
      for (let i = 0; i < j; i++) s -= row[i]! * r[i * width + j]!;
      const d = r[j * width + j]!;
      row[j] = d > 0 ? s / d : 0;
    }
    y.set(row, o);
  }
}

/** out[r] = x[r]·M for the rows [from, to) of x (n×width), M width×outWidth, out n×outWidth as float32. */
export function multiplyRowsInto(x: Float64Array, m: Float64Array, width: number, outWidth: number, out: Float32Array, from: number, to: number): void {
  const row = new Float64Array(outWidth);
  for (let r = from; r < to; r++) {
    row.fill(0);
    for (let k = 0; k < width; k++) {
      const b = x[r * width + k]!;
      const o = k * outWidth;
      for (let j = 0; j < outWidth; j++) row[j] = row[j]! + b * m[o + j]!;
    }
    out.set(row, r * outWidth);
  }
}

/** Upper-triangular R with RᵀR = G; a non-positive pivot (rank deficiency) gives a zero row. */
export function cholesky(g: Float64Array, width: number): Float64Array {
  const r = new Float64Array(width * width);
  const scale = Math.max(...Array.from({ length: width }, (_, i) => g[i * width + i]!), 1e-300);
  for (let j = 0; j < width; j++) {
    let d = g[j * width + j]!;
    for (let k = 0; k < j; k++) d -= r[k * width + j]! ** 2;
    if (d <= scale * 1e-12) continue;
    const rjj = Math.sqrt(d);
    r[j * width + j] = rjj;
    for (let i = j + 1; i < width; i++) {
      let s = g[j * width + i]!;
      for (let k = 0; k < j; k++) s -= r[k * width + j]! * r[k * width + i]!;
      r[j * width + i] = s / rjj;
    }
  }
  return r;
}

/**
 * Eigen-decomposition of a small symmetric matrix (cyclic Jacobi). Returns eigenvalues in
 * descending order and the matching eigenvectors as columns of a width×width row-major matrix.
 */
export function symmetricEigen(matrix: Float64Array, width: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(width * width);
  for (let i = 0; i < width; i++) v[i * width + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < width; p++) for (let q = p + 1; q < width; q++) off += a[p * width + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < width; p++) {
      for (let q = p + 1; q < width; q++) {
        const apq = a[p * width + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * width + q]! - a[p * width + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < width; k++) {
          const akp = a[k * width + p]!;
          const akq = a[k * width + q]!;
          a[k * width + p] = c * akp - s * akq;
          a[k * width + q] = s * akp + c * akq;
        }
        for (let k = 0; k < width; k++) {
          const apk = a[p * width + k]!;
          const aqk = a[q * width + k]!;
          a[p * width + k] = c * apk - s * aqk;
          a[q * width + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < width; k++) {
          const vkp = v[k * width + p]!;
          const vkq = v[k * width + q]!;
          v[k * width + p] = c * vkp - s * vkq;
          v[k * width + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: width }, (_, i) => i).sort((x, y) => a[y * width + y]! - a[x * width + x]!);
  const values = Float64Array.from(order, (i) => a[i * width + i]!);
  const vectors = new Float64Array(width * width);
  for (let r = 0; r < width; r++) for (let c = 0; c < width; c++) vectors[r * width + c] = v[r * width + order[c]!]!;
  return { values, vectors };
}

/** Deterministic uniform numbers in (0, 1), never 0 (a logarithm may take them): mulberry32. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Deterministic standard normal numbers (mulberry32 + Box–Muller). */
export function gaussian(count: number, seed: number, out: Float64Array = new Float64Array(count)): Float64Array {
  const uniform = seededUniform(seed);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const phi = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(phi);
    if (i + 1 < count) out[i + 1] = r * Math.sin(phi);
  }
  return out;
}
