// `npm run trials -- crash [--corpus DIR] [--trials N] [--seed S]`: kill -9 `codesearch index` at
// random moments on the full corpus and check what it leaves (see crash-trial.ts).
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runCrashTrials, summarize } from './crash-trial.js';
import type { Trial } from './trial.js';

const crash: Trial = {
  description: 'kill -9 index runs (cold and incremental) at seeded random moments; check the index after each',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { corpus: { type: 'string' }, trials: { type: 'string', default: '20' }, seed: { type: 'string', default: '1' }, query: { type: 'string', default: 'split a string' } },
    });
    const source = resolve(values.corpus ?? process.env.CODESEARCH_CORPUS ?? '../corpus');
    const started = performance.now();
    const report = await runCrashTrials({
      source,
      workDir: join(tmpdir(), `codesearch-crash-${process.pid}`),
      trials: Number(values.trials),
      seed: Number(values.seed),
      query: values.query!,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`crash: ${summarize(report)} (${source}, seed ${values.seed}, ${((performance.now() - started) / 60_000).toFixed(1)} min)\n`);
    return report.outcomes.every((o) => o.failures.length === 0);
  },
};
export default crash;
