// Where a run's time goes, for `NODE_DEBUG=codesearch`: one line per phase, milliseconds since
// the previous mark. Off (a no-op) otherwise.
import { debuglog } from 'node:util';

const debug = debuglog('codesearch');

export interface PhaseClock {
  /** Logs the time since the last mark (or the start) under `phase`. */
  mark(phase: string): void;
}

export function phaseClock(what: string): PhaseClock {
  if (!debug.enabled) return { mark() {} };
  let last = performance.now();
  return {
    mark(phase) {
      const now = performance.now();
      debug('%s %s %d ms', what, phase, Math.round(now - last));
      last = now;
    },
  };
}
