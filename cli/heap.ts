import v8 from 'node:v8';

/**
 * How far V8 lets the heap grow past what the last full collection kept, in percent. Its own
 * factor (up to 4× on a machine with memory to spare) let a server whose live heap is ~330 MB
 * (the resident chunks) sit on 1–1.6 GB of garbage under 8 clients, and that garbage holds
 * LanceDB's native buffers too, so each index version under `serve --watch` added ~40 MB.
 * Measured in-process, 8 clients for 30 s: default 2,555 answers at 0.9–1.6 GB RSS; 50%: 2,606
 * at ~830 MB, yet still ~40 MB more per version; 20%: 2,317 at ~760 MB; 10%: 2,028. With 20%,
 * `npm run trials -- load` held 930–995 MB over 60 s and 19 versions (it had reached 2.6 GB).
 */
const HEAP_GROWING_PERCENT = 20;

/** For the processes that run for days (serve, mcp, watch): collect sooner, hold less. */
export function keepHeapTight(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
