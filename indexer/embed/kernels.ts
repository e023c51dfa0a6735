// The static model's heavy linear algebra on two cores: every kernel is cut into the same two
// halves whether a second thread runs one of them or not, and partial sums are added in the
// same order, so a model learnt on one core or on two is bit-identical (its id stays stable).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { cholesky, mirrorUpper, multiplyGramInto, multiplyRowsInto, solveRowsInto, symmetricGramInto, type SparseColumns } from './linalg.js';

// Under vitest the sources run as .ts; the worker always runs from the compiled output.
const workerUrl = new URL(import.meta.url.endsWith('.ts') ? '../../dist/indexer/embed/kernel-worker.js' : './kernel-worker.js', import.meta.url);

const MIN_CELLS_FOR_A_THREAD = 1_000_000;

export const KERNELS = { multiplyGramInto, symmetricGramInto, solveRowsInto, multiplyRowsInto };
export type KernelName = keyof typeof KERNELS;
/** A kernel call as it crosses to the worker: typed arrays on shared memory, and numbers. */
export interface KernelCall {
  kernel: KernelName;
  args: unknown[];
}

/** Float64 storage both threads can write. */
export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

export function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}

export class KernelPool {
  private constructor(private readonly worker: Worker | undefined) {}

  /** `cells`: the size of the dense matrices; a small model is not worth starting a thread. */
  static start(cells: number): KernelPool {
    return new KernelPool(availableParallelism() > 1 && cells >= MIN_CELLS_FOR_A_THREAD ? new Worker(workerUrl) : undefined);
  }

  /** Runs the two halves of a kernel, the second on the worker when there is one. */
  private async halves(first: KernelCall, second: KernelCall): Promise<void> {
    const run = (call: KernelCall) => (KERNELS[call.kernel] as (...args: unknown[]) => void)(...call.args);
    if (!this.worker) {
      run(first);
      run(second);
      return;
    }
    const worker = this.worker;
    const done = new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      worker.once('error', onError);
      worker.once('message', () => {
        worker.off('error', onError);
        resolve();
      });
    });
    worker.postMessage(second);
    run(first);
    await done;
  }

  /** A·Aᵀ·X (A sparse, rows×columns; X rows×width), halved by stored entries. */
  async multiplyGram(a: SparseColumns, x: Float64Array, width: number): Promise<Float64Array> {
    const total = a.ptr[a.columnsCount]!;
    let mid = 0;
    while (mid < a.columnsCount && a.ptr[mid]! < total / 2) mid++;
    const y = sharedFloat64(a.rowsCount * width);
    const other = sharedFloat64(a.rowsCount * width);
    await this.halves({ kernel: 'multiplyGramInto', args: [a, x, width, y, 0, mid] }, { kernel: 'multiplyGramInto', args: [a, x, width, other, mid, a.columnsCount] });
    for (let i = 0; i < y.length; i++) y[i] = y[i]! + other[i]!;
    return y;
  }

  /** XᵀY of two n×width matrices whose product is symmetric. */
  async symmetricGram(x: Float64Array, y: Float64Array, n: number, width: number): Promise<Float64Array> {
    const mid = n >> 1;
    const g = sharedFloat64(width * width);
    const other = sharedFloat64(width * width);
    await this.halves({ kernel: 'symmetricGramInto', args: [x, y, width, g, 0, mid] }, { kernel: 'symmetricGramInto', args: [x, y, width, other, mid, n] });
    for (let i = 0; i < g.length; i++) g[i] = g[i]! + other[i]!;
    return mirrorUpper(g, width);
  }

  /**
   * Orthonormalizes the columns of Y (n×width, shared) in place by one pass of Cholesky QR:
   * enough for a range finder whose basis is rotated by Rayleigh–Ritz afterwards. Columns that
   * are (numerically) dependent are zeroed rather than blown up.
   */
  async orthonormalize(y: Float64Array, n: number, width: number): Promise<void> {
    const r = cholesky(await this.symmetricGram(y, y, n, width), width);
    const shared = sharedFloat64(r.length);
    shared.set(r);
    const mid = n >> 1;
    await this.halves({ kernel: 'solveRowsInto', args: [y, shared, width, 0, mid] }, { kernel: 'solveRowsInto', args: [y, shared, width, mid, n] });
  }

  /** X·M as float32 (X n×width, M width×outWidth). */
  async multiplyRows(x: Float64Array, m: Float64Array, n: number, width: number, outWidth: number): Promise<Float32Array> {
    const shared = sharedFloat64(m.length);
    shared.set(m);
    const out = sharedFloat32(n * outWidth);
    const mid = n >> 1;
    await this.halves({ kernel: 'multiplyRowsInto', args: [x, shared, width, outWidth, out, 0, mid] }, { kernel: 'multiplyRowsInto', args: [x, shared, width, outWidth, out, mid, n] });
    return out;
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}
