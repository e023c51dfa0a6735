// The fast form of `npm run trials -- load`: concurrent clients against `serve --watch` on a
// small repo while files are edited: no errors, and every edit becomes searchable.
import { describe, it, expect, afterAll } from 'vitest';
import { runLoadTrial } from '../bench/trials/load-trial.js';
import { cleanupTempDirs, copyFixture, runCli, writeFiles } from './helpers.js';
import path from 'node:path';

afterAll(cleanupTempDirs);

describe('load with a live index (fast form)', () => {
  it("8 clients for 4 s while files are edited: 0 errors, every edit searchable", async () => {
    const root = copyFixture('mini');
    for (let i = 0; i < 6; i++) writeFiles(root, { [`src/extra_${i}.ml`]: `(** Joins strings ${i}. *)\nlet join_${i} sep xs = String.concat sep xs\n` });
    const db = path.join(root, '.codesearch');
    expect((await runCli(['index', root, '--quiet'], { cwd: root })).code).toBe(0);
    const [phase] = await runLoadTrial({
      root,
      db,
      clients: [8],
      seconds: 4,
      warmSeconds: 1,
      editEveryMs: 1000,
      editFiles: ['src/extra_0.ml', 'src/extra_1.ml', 'src/extra_2.ml'],
      queries: ['how do I trim a string', 'split', 'join strings with a separator', 'Strkit_string.trim'],
    });
    expect(phase!.routes.search.requests).toBeGreaterThan(8);
    expect(phase!.routes.context.requests).toBeGreaterThan(8);
    expect([phase!.routes.search.errors, phase!.routes.context.errors, phase!.errorSamples]).toEqual([0, 0, []]);
    expect(phase!.edits).toBeGreaterThanOrEqual(1);
    // The bound (2 s) is for the benchmark; here only that every edit arrived.
    expect(phase!.editVisibleMs.max).toBeLessThan(30_000);
  }, 60_000);
});
