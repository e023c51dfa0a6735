// `npm run trials -- scale [--corpus DIR] [--copies N] [--edits N] [--work DIR]`: a monorepo N
// times the corpus (default 10: 11M lines from the full corpus) as hard-linked copies, indexed,
// searched and updated live (see scale-trial.ts). Passes when every step succeeds and every edit
// becomes searchable; the figures are the point.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { devQueries } from './cli.js';
import { runScaleTrial } from './scale-trial.js';
import type { Trial } from './trial.js';

const scale: Trial = {
  description: 'a monorepo N times the corpus (hard-linked copies): index, search and live-update figures',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { corpus: { type: 'string' }, copies: { type: 'string', default: '10' }, edits: { type: 'string', default: '10' }, work: { type: 'string' } } });
    const source = resolve(values.corpus ?? process.env.CODESEARCH_CORPUS ?? '../corpus');
    const workDir = resolve(values.work ?? join(tmpdir(), `codesearch-scale-${process.pid}`));
    const log = (line: string) => process.stdout.write(`scale: ${line}\n`);
    try {
      await runScaleTrial({ source, workDir, copies: Number(values.copies), edits: Number(values.edits), queries: devQueries(), log });
      return true;
    } catch (err) {
      log(`failed: ${(err as Error).message}`);
      return false;
    } finally {
      // A --work directory is kept, to look at or to search.
      if (!values.work) rmSync(workDir, { recursive: true, force: true });
    }
  },
};
export default scale;
