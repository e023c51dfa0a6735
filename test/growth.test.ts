// The fast form of `npm run trials -- growth`: repeated incremental updates must not make the
// index grow past 1.2× a fresh index of the same tree (old table versions are cleaned up).
import { describe, it, expect, afterAll } from 'vitest';
import path from 'node:path';
import { runGrowthTrial } from '../bench/trials/growth-trial.js';
import { GROWTH_LIMIT } from '../bench/trials/growth.js';
import { cleanupTempDirs, makeTempDir, writeFiles, documentedValues } from './helpers.js';

afterAll(cleanupTempDirs);

describe('index growth under incremental updates', () => {
  it(`stays within ${GROWTH_LIMIT}× a fresh index after 12 updates`, async () => {
    const source = makeTempDir('cs-growth-src-');
    for (let i = 0; i < 40; i++) writeFiles(source, { [`lib/m_${i}.ml`]: documentedValues(`v_${i}`, 25) });
    const r = await runGrowthTrial({ source, workDir: path.join(makeTempDir('cs-growth-work-'), 'work'), updates: 12 });
    expect(r.freshBytes).toBeGreaterThan(0);
    expect(r.ratio).toBeLessThanOrEqual(GROWTH_LIMIT);
  }, 120_000);
});
