// Worker thread of kernels.ts: runs the half of a kernel it is sent, on shared memory.
import { parentPort } from 'node:worker_threads';
import { KERNELS, type KernelCall } from './kernels.js';

parentPort!.on('message', (call: KernelCall) => {
  (KERNELS[call.kernel] as (...args: unknown[]) => void)(...call.args);
  parentPort!.postMessage('done');
});
