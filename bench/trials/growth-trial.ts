// Index growth under incremental updates: LanceDB keeps every table version until it is cleaned
// up, so an index updated many times could grow without bound. This applies N small edits, one
// `codesearch index` run each, and compares the index's size on disk with a fresh index of the
// same final tree. bench/trials/growth.ts runs it on the full corpus, test/growth.test.ts on a
// small generated repo.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { walkRepo } from '../../indexer/walk.js';
import { diskUsage } from '../measure.js';
import { copyTree, runCliSync } from './cli.js';

export interface GrowthOptions {
  source: string;
  workDir: string;
  updates: number;
  /** Files edited per update. */
  filesPerUpdate?: number;
  log?: (line: string) => void;
}

export interface GrowthReport {
  updates: number;
  updatedBytes: number;
  freshBytes: number;
  ratio: number;
  /** Mean seconds per incremental run. */
  meanUpdateSeconds: number;
}

function index(root: string, db: string): number {
  const r = runCliSync(['index', root, '--db', db, '--quiet']);
  if (r.code !== 0) throw new Error(`index failed: ${r.stderr}`);
  return r.ms / 1000;
}

export async function runGrowthTrial(options: GrowthOptions): Promise<GrowthReport> {
  const log = options.log ?? (() => {});
  const perUpdate = options.filesPerUpdate ?? 3;
  const root = join(options.workDir, 'tree');
  const db = join(options.workDir, 'db');
  const freshDb = join(options.workDir, 'fresh-db');
  rmSync(options.workDir, { recursive: true, force: true });
  mkdirSync(options.workDir, { recursive: true });
  copyTree(options.source, root);
  const files = (await walkRepo({ root })).files.filter((f) => f.kind === 'ml').map((f) => f.path);
  index(root, db);
  let seconds = 0;
  for (let u = 1; u <= options.updates; u++) {
    // A developer's day: a definition added to a few files, spread over the tree.
    for (let k = 0; k < perUpdate; k++) {
      const abs = join(root, files[(u * 7919 + k * 104_729) % files.length]!);
      writeFileSync(abs, `${readFileSync(abs, 'utf8')}\nlet growth_${u}_${k} x = x + ${u}\n`);
    }
    seconds += index(root, db);
    if (u % 10 === 0 || u === options.updates) log(`update ${u}: index ${(diskUsage(db).apparent / 1e6).toFixed(1)} MB`);
  }
  index(root, freshDb);
  const updatedBytes = diskUsage(db).apparent;
  const freshBytes = diskUsage(freshDb).apparent;
  rmSync(options.workDir, { recursive: true, force: true });
  return { updates: options.updates, updatedBytes, freshBytes, ratio: updatedBytes / freshBytes, meanUpdateSeconds: seconds / options.updates };
}
