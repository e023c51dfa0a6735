// `npm run trials -- growth [--corpus DIR] [--updates N]`: index size after N incremental
// updates against a fresh index of the same tree (target ≤ 1.2×).
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runGrowthTrial } from './growth-trial.js';
import type { Trial } from './trial.js';

export const GROWTH_LIMIT = 1.2;

const growth: Trial = {
  description: `index size after N incremental updates vs a fresh index (target ≤ ${GROWTH_LIMIT}×)`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { corpus: { type: 'string' }, updates: { type: 'string', default: '100' } } });
    const source = resolve(values.corpus ?? process.env.CODESEARCH_CORPUS ?? '../corpus');
    const r = await runGrowthTrial({ source, workDir: join(tmpdir(), `codesearch-growth-${process.pid}`), updates: Number(values.updates), log: (l) => process.stdout.write(`${l}\n`) });
    process.stdout.write(
      `growth: after ${r.updates} updates the index is ${(r.updatedBytes / 1e6).toFixed(1)} MB, a fresh one ${(r.freshBytes / 1e6).toFixed(1)} MB: ${r.ratio.toFixed(2)}× (target ≤ ${GROWTH_LIMIT}×); ${r.meanUpdateSeconds.toFixed(2)} s per update\n`,
    );
    return r.ratio <= GROWTH_LIMIT;
  },
};
export default growth;
