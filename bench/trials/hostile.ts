// `npm run trials -- hostile [--scale N]`: the hostile tree of hostile-tree.ts at full size (by
// default 5 of each hostile kind among 320 ordinary modules), indexed by the CLI as an
// unprivileged user while files change under it. Reports time, peak memory and warnings, checks
// one warning per bad file and every good definition, then re-indexes and compares the result
// with a fresh index of the same tree.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildHostileTree, checkIndex, checkWarnings, indexingUser, runIndexer, shareWith, snapshot, startChurn, unlock, type IndexRun } from './hostile-tree.js';
import type { Trial } from './trial.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

function describeRun(name: string, run: IndexRun): string {
  return `${name}: exit ${run.code ?? run.signal}, ${run.seconds.toFixed(1)} s, peak RSS ${run.peakRssMb} MB, ${run.warnings.length} warnings — ${run.stdout.trim()}`;
}

/** Problems common to every run: a failed exit, anything on stderr but warnings. */
function runProblems(name: string, run: IndexRun): string[] {
  const problems: string[] = [];
  if (run.code !== 0) problems.push(`${name}: exit ${run.code ?? run.signal}`);
  if (run.otherStderr.trim()) problems.push(`${name}: stderr ${JSON.stringify(run.otherStderr.slice(0, 500))}`);
  return problems;
}

const hostile: Trial = {
  description: 'index a tree of hostile files (binary, huge, nested, megabyte lines, symlinks out, unreadable, changing) as an unprivileged user',
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { scale: { type: 'string', default: '5' } } });
    const scale = Number(values.scale);
    if (!Number.isInteger(scale) || scale < 1) throw new Error(`--scale must be a positive integer, not ${values.scale}`);
    const who = indexingUser();
    if ('reason' in who) log(`hostile: no unreadable files in this tree: ${who.reason}`);
    const user = 'user' in who ? who.user : 'self';
    const dir = mkdtempSync(join(tmpdir(), 'codesearch-hostile-'));
    const tree = buildHostileTree(dir, { scale, unreadable: 'user' in who });
    try {
      const walkBad = [...tree.bad.values()].filter((b) => b.stage === 'walk').length;
      log(`hostile: ${tree.good.size} good files, ${tree.bad.size} bad (${walkBad} left out by the walk, ${tree.bad.size - walkBad} by the parse stage), ${tree.volatile.length} changing during the first run; indexed as ${user === 'self' ? 'this user' : `uid ${user.uid}`}`);
      const db = join(dir, 'db');
      const freshDb = join(dir, 'fresh-db');
      shareWith(user, dir, db);
      shareWith(user, dir, freshDb);

      const churn = startChurn(tree);
      const first = await runIndexer(tree.root, db, user);
      const operations = await churn.stop();
      log(describeRun('first run', first));
      log(`  ${operations} changes to the volatile files during it`);
      const problems = [...runProblems('first run', first), ...checkWarnings(tree, first.warnings, false), ...(first.code === 0 ? await checkIndex(tree, db) : [])];

      const second = await runIndexer(tree.root, db, user);
      log(describeRun('re-index', second));
      problems.push(...runProblems('re-index', second), ...checkWarnings(tree, second.warnings, true));
      const fresh = await runIndexer(tree.root, freshDb, user);
      log(describeRun('fresh index of the same tree', fresh));
      problems.push(...runProblems('fresh index', fresh));
      if (second.code === 0 && fresh.code === 0) {
        const [updated, rebuilt] = [await snapshot(db), await snapshot(freshDb)];
        if (JSON.stringify(updated) !== JSON.stringify(rebuilt)) {
          problems.push(`the re-indexed and the fresh index differ: ${updated.files.length}/${rebuilt.files.length} files, ${updated.chunks.length}/${rebuilt.chunks.length} chunks`);
        }
      }
      for (const p of problems) log(`  PROBLEM ${p}`);
      log(`hostile: ${problems.length === 0 ? 'passed' : `FAILED (${problems.length} problems)`}`);
      return problems.length === 0;
    } finally {
      unlock(tree);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default hostile;
