// The fast form of `npm run trials -- crash`: three kill -9 trials on a small generated repo.
import { describe, it, expect, afterAll } from 'vitest';
import path from 'node:path';
import { runCrashTrials } from '../bench/trials/crash-trial.js';
import { cleanupTempDirs, makeTempDir, writeFiles, documentedValues } from './helpers.js';

afterAll(cleanupTempDirs);

/** Four libraries of 25 modules, 30 documented values each: 3,000 chunks, a run of about two seconds. */
function makeRepo(): string {
  const root = makeTempDir('cs-crash-src-');
  for (let d = 0; d < 4; d++) {
    writeFiles(root, { [`lib${d}/dune`]: `(library (name lib${d}))` });
    for (let i = 0; i < 25; i++) writeFiles(root, { [`lib${d}/mod_${i}.ml`]: documentedValues(`split_${d}_${i}`, 30) });
  }
  return root;
}

describe('crash trials (fast form)', () => {
  it('three kills, cold and incremental: the index stays readable, per-file consistent, and the next run repairs it', async () => {
    const report = await runCrashTrials({
      source: makeRepo(),
      workDir: path.join(makeTempDir('cs-crash-work-'), 'work'),
      trials: 3,
      seed: Date.now() % 1000,
      query: 'split',
      mutations: { modify: 6, remove: 2, add: 2 },
    });
    expect(report.outcomes).toHaveLength(3);
    expect(report.outcomes.map((o) => o.kind)).toEqual(['cold', 'incremental', 'cold']);
    expect(report.outcomes.flatMap((o) => o.failures.map((f) => `trial ${o.trial} (${o.kind}, ${o.phase}): ${f}`))).toEqual([]);
  }, 120_000);
});
