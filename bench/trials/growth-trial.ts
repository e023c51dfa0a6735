// Index growth under incremental updates: LanceDB keeps every table version until it is cleaned
// up, so an index updated many times could grow without bound. This applies N small edits, one
// `codesearch index` run each, and compares the index's size on disk with a fresh index of the
// same final tree. bench/trials/growth.ts runs it on the full corpus, test/growth.test.ts on a
// small generated repo.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { walkRepo } from '../../indexer/walk.js';
import { CLI_MAIN } from './cli-path.js';

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

/** Bytes of every file below `dir`. */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(abs) : statSync(abs).size;
  }
  return total;
}

function index(root: string, db: string): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI_MAIN, 'index', root, '--db', db, '--quiet'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`index failed: ${r.stderr}`);
  return (performance.now() - started) / 1000;
}

export async function runGrowthTrial(options: GrowthOptions): Promise<GrowthReport> {
  const log = options.log ?? (() => {});
  const perUpdate = options.filesPerUpdate ?? 3;
  const root = join(options.workDir, 'tree');
  const db = join(options.workDir, 'db');
  const freshDb = join(options.workDir, 'fresh-db');
  rmSync(options.workDir, { recursive: true, force: true });
  mkdirSync(options.workDir, { recursive: true });
  cpSync(options.source, root, { recursive: true, filter: (src) => !src.endsWith('/.codesearch') });
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
    if (u % 10 === 0 || u === options.updates) log(`update ${u}: index ${(directoryBytes(db) / 1e6).toFixed(1)} MB`);
  }
  index(root, freshDb);
  const updatedBytes = directoryBytes(db);
  const freshBytes = directoryBytes(freshDb);
  rmSync(options.workDir, { recursive: true, force: true });
  return { updates: options.updates, updatedBytes, freshBytes, ratio: updatedBytes / freshBytes, meanUpdateSeconds: seconds / options.updates };
}
