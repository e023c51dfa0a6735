// `npm run trials -- load [--corpus DIR] [--clients 8,32] [--seconds 60] [--warm 15] [--edit-every MS]`:
// concurrent clients against `serve --watch` on a copy of the corpus while files are edited
// (see load-trial.ts). Passes with 0 errors, every edit searchable within 2 s and the server's
// RSS at the end of each phase within 1.1× its start.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { walkRepo } from '../../indexer/walk.js';
import { copyTree, devQueries, runCliSync } from './cli.js';
import { runLoadTrial } from './load-trial.js';
import type { Trial } from './trial.js';

const RSS_GROWTH_LIMIT = 1.1;

const load: Trial = {
  description: 'concurrent /v1/search and /v1/context clients against serve --watch while files are edited',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { corpus: { type: 'string' }, clients: { type: 'string', default: '8,32' }, seconds: { type: 'string', default: '60' }, warm: { type: 'string', default: '15' }, 'edit-every': { type: 'string', default: '3000' } },
    });
    const source = resolve(values.corpus ?? process.env.CODESEARCH_CORPUS ?? '../corpus');
    const work = join(tmpdir(), `codesearch-load-${process.pid}`);
    const root = join(work, 'tree');
    const db = join(work, 'db');
    try {
      copyTree(source, root);
      const indexed = runCliSync(['index', root, '--db', db, '--quiet']);
      if (indexed.code !== 0) throw new Error(`index failed: ${indexed.stderr}`);
      // Mid-sized implementation files, spread over the tree.
      const ml = (await walkRepo({ root })).files.filter((f) => f.kind === 'ml').sort((a, b) => a.size - b.size);
      const editFiles = Array.from({ length: 40 }, (_, i) => ml[Math.floor(ml.length * (0.3 + (0.4 * i) / 40))]!.path);
      const phases = await runLoadTrial({
        root,
        db,
        clients: values.clients!.split(',').map(Number),
        seconds: Number(values.seconds),
        warmSeconds: Number(values.warm),
        editEveryMs: Number(values['edit-every']),
        editFiles,
        queries: devQueries(),
        log: (l) => process.stdout.write(`${l}\n`),
      });
      const failed = phases.filter((p) => p.routes.search.errors + p.routes.context.errors > 0 || p.editsLate > 0 || p.rssEnd > RSS_GROWTH_LIMIT * p.rssStart);
      process.stdout.write(`load: ${phases.length} phases on ${source}, ${failed.length} failed${failed.length ? ` (${failed.map((p) => `${p.clients} clients`).join(', ')})` : ''}\n`);
      return failed.length === 0;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
export default load;
