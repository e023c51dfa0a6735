// Crash trials: `codesearch index` is killed with SIGKILL at a seeded random moment, then fresh
// processes check what it left. Half the trials kill a cold build (from an empty db), half an
// incremental update (a copy of a clean index, with files modified, removed and added since).
// After each kill:
//  - `codesearch search` answers (or, for a cold build, says cleanly that there is no index);
//  - every file's chunks are exactly its state before the run or after it, never a mix;
//  - the next `codesearch index` completes to exactly what a clean index of the tree holds
//    (same chunk ids and contents), with a vector for every chunk and the lock released.
// bench/trials/crash.ts runs it on the full corpus; test/crash.test.ts on a small generated repo.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IndexStore } from '../../indexer/store.js';
import { seededUniform } from '../../indexer/embed/linalg.js';
import { walkRepo } from '../../indexer/walk.js';
import { CLI_MAIN as CLI, copyTree, runCliSync } from './cli.js';

export interface CrashTrialOptions {
  /** The tree to index; it is copied, never changed. */
  source: string;
  /** Scratch space for the working tree and the dbs. */
  workDir: string;
  trials: number;
  seed: number;
  /** A query `search` must answer with at least one result once an index exists. */
  query: string;
  /** Files modified, removed and added per incremental trial. */
  mutations?: { modify: number; remove: number; add: number };
  log?: (line: string) => void;
}

export interface TrialOutcome {
  trial: number;
  kind: 'cold' | 'incremental';
  killAtMs: number;
  /** The last progress phase the run reported before it was killed ('' before any; 'done' if it finished first). */
  phase: string;
  failures: string[];
}

export interface CrashTrialReport {
  outcomes: TrialOutcome[];
  /** Duration of a complete run of each kind, which kill moments are drawn from. */
  coldMs: number;
  incrementalMs: number;
}

/** id → content hash of every chunk (by file path), and the ids that have a vector. */
interface Snapshot {
  byPath: Map<string, Map<string, string>>;
  vectorIds: Set<string>;
}

async function snapshot(db: string): Promise<Snapshot> {
  const store = await IndexStore.openForSearch(db);
  try {
    const byPath = new Map<string, Map<string, string>>();
    for (const [id, hash] of await store.chunkContentHashes()) {
      const path = id.slice(0, id.lastIndexOf('#'));
      let chunks = byPath.get(path);
      if (!chunks) byPath.set(path, (chunks = new Map()));
      chunks.set(id, hash);
    }
    return { byPath, vectorIds: new Set((await store.vectorHashes()).keys()) };
  } finally {
    store.close();
  }
}

function sameChunks(a: Map<string, string> | undefined, b: Map<string, string> | undefined): boolean {
  if (!a || !b) return (a?.size ?? 0) === 0 && (b?.size ?? 0) === 0;
  if (a.size !== b.size) return false;
  for (const [id, hash] of a) if (b.get(id) !== hash) return false;
  return true;
}

/** Differences between two snapshots' chunks, a few named. */
function chunkDifferences(got: Snapshot, want: Snapshot): string[] {
  const paths = new Set([...got.byPath.keys(), ...want.byPath.keys()]);
  const differing = [...paths].filter((p) => !sameChunks(got.byPath.get(p), want.byPath.get(p)));
  if (differing.length === 0) return [];
  const first = differing[0]!;
  const a = got.byPath.get(first) ?? new Map<string, string>();
  const b = want.byPath.get(first) ?? new Map<string, string>();
  const detail = `${first}: ${a.size} chunks, a clean index ${b.size}, ${[...a].filter(([id, h]) => b.has(id) && b.get(id) !== h).length} with other contents`;
  return [`${differing.length} files differ from a clean index (${differing.slice(0, 3).join(', ')}; ${detail})`];
}

/** Runs `index` and SIGKILLs it `killAtMs` after spawning; reports the last phase it announced. */
function indexAndKill(root: string, db: string, killAtMs: number): Promise<{ phase: string; finished: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'index', root, '--db', db, '--progress', 'json'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAtMs);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      const phases = stderr.split('\n').flatMap((l) => (l.startsWith('{"phase"') ? [(JSON.parse(l) as { phase: string }).phase] : []));
      const finished = signal !== 'SIGKILL';
      resolve({ phase: finished ? 'done' : (phases[phases.length - 1] ?? ''), finished, stderr });
    });
  });
}

/** Modifies, removes and adds files of the working tree; returns how to undo it. */
function mutate(root: string, source: string, files: string[], next: () => number, counts: { modify: number; remove: number; add: number }, trial: number): () => void {
  const pick = (n: number) => {
    const chosen = new Set<string>();
    while (chosen.size < Math.min(n, files.length)) chosen.add(files[Math.floor(next() * files.length)]!);
    return [...chosen];
  };
  const touched = pick(counts.modify + counts.remove);
  const modified = touched.slice(0, counts.modify);
  const removed = touched.slice(counts.modify);
  for (const [k, rel] of modified.entries()) {
    const abs = join(root, rel);
    const text = readFileSync(abs, 'utf8');
    // A line at the top moves every definition; one at the end adds a definition.
    writeFileSync(abs, `(* crash trial ${trial} *)\n${text}\nlet crash_trial_${trial}_${k} x = x + ${k}\n`);
  }
  for (const rel of removed) rmSync(join(root, rel));
  const added = join(root, `crash_trial_${trial}`);
  mkdirSync(added, { recursive: true });
  for (let k = 0; k < counts.add; k++) {
    writeFileSync(join(added, `added_${k}.ml`), `(** Added by crash trial ${trial}. *)\nlet added_${trial}_${k} s = String.length s + ${k}\n\ntype t_${k} = { name : string; count : int }\n`);
  }
  return () => {
    for (const rel of touched) cpSync(join(source, rel), join(root, rel));
    rmSync(added, { recursive: true, force: true });
  };
}

export async function runCrashTrials(options: CrashTrialOptions): Promise<CrashTrialReport> {
  const log = options.log ?? (() => {});
  const counts = options.mutations ?? { modify: 40, remove: 10, add: 10 };
  const next = seededUniform(options.seed);
  const root = join(options.workDir, 'tree');
  const baseDb = join(options.workDir, 'base-db');
  rmSync(options.workDir, { recursive: true, force: true });
  mkdirSync(options.workDir, { recursive: true });
  // The source's own index (a `.codesearch` inside it) is not part of the tree.
  copyTree(options.source, root);
  const files = (await walkRepo({ root })).files.filter((f) => f.kind !== 'dune').map((f) => f.path);

  // A clean index of the pristine tree: the state incremental trials start from, and what a
  // cold trial must end at.
  const clean = runCliSync(['index', root, '--db', baseDb, '--quiet']);
  if (clean.code !== 0) throw new Error(`clean index failed: ${clean.stderr}`);
  const pristine = await snapshot(baseDb);
  let coldMs = clean.ms;
  // One complete incremental run over the same kind of change, to draw kill moments from.
  let incrementalMs = 0;
  {
    const db = join(options.workDir, 'calibrate-db');
    cpSync(baseDb, db, { recursive: true });
    const undo = mutate(root, options.source, files, seededUniform(options.seed ^ 0x5eed), counts, 0);
    incrementalMs = runCliSync(['index', root, '--db', db, '--quiet']).ms;
    undo();
    rmSync(db, { recursive: true, force: true });
  }
  log(`clean index ${(coldMs / 1000).toFixed(1)} s; incremental update ${(incrementalMs / 1000).toFixed(1)} s`);

  const outcomes: TrialOutcome[] = [];
  for (let trial = 1; trial <= options.trials; trial++) {
    const kind = trial % 2 === 1 ? 'cold' : 'incremental';
    const db = join(options.workDir, `trial-${trial}-db`);
    const failures: string[] = [];
    let before: Snapshot = { byPath: new Map(), vectorIds: new Set() };
    let after = pristine;
    let undo = () => {};
    if (kind === 'incremental') {
      cpSync(baseDb, db, { recursive: true });
      before = pristine;
      undo = mutate(root, options.source, files, next, counts, trial);
      const refDb = join(options.workDir, `trial-${trial}-reference-db`);
      const ref = runCliSync(['index', root, '--db', refDb, '--quiet']);
      if (ref.code !== 0) throw new Error(`reference index failed: ${ref.stderr}`);
      after = await snapshot(refDb);
      rmSync(refDb, { recursive: true, force: true });
    }
    const span = kind === 'cold' ? coldMs : incrementalMs;
    const killAtMs = Math.round(span * (0.02 + 0.98 * next()));
    const run = await indexAndKill(root, db, killAtMs);

    // What a reader finds right after the crash.
    const search = runCliSync(['search', options.query, '--db', db, '--json', '-k', '3']);
    const hasIndex = kind === 'incremental' || run.finished;
    if (search.code === 0) {
      const results = (JSON.parse(search.stdout) as { results: unknown[] }).results;
      if (hasIndex && results.length === 0) failures.push('search after the kill found nothing');
    } else if (hasIndex || search.code !== 2 || search.stderr.trim().split('\n').length !== 1) {
      failures.push(`search after the kill: exit ${search.code}: ${search.stderr.trim().slice(0, 300)}`);
    }
    if (existsSync(join(db, 'chunks.lance'))) {
      try {
        const left = await snapshot(db);
        const mixed = [...left.byPath.keys()].filter((p) => !sameChunks(left.byPath.get(p), before.byPath.get(p)) && !sameChunks(left.byPath.get(p), after.byPath.get(p)));
        if (mixed.length > 0) failures.push(`${mixed.length} files hold neither their old nor their new chunks (${mixed.slice(0, 3).join(', ')})`);
      } catch (err) {
        // A cold build killed before its first commit leaves nothing a reader can open.
        if (hasIndex) failures.push(`the index does not open after the kill: ${(err as Error).message.split('\n')[0]}`);
      }
    }

    // The next run repairs everything.
    const resumed = runCliSync(['index', root, '--db', db, '--progress', 'json']);
    // After a cold kill the next run builds from scratch: its time keeps the kill moments of
    // later cold trials within a run as long as this machine's current one.
    if (kind === 'cold' && resumed.code === 0) coldMs = resumed.ms;
    const unexpected = resumed.stderr.split('\n').filter((l) => l && !l.startsWith('{'));
    if (resumed.code !== 0 || unexpected.length > 0) failures.push(`the next index run: exit ${resumed.code}: ${unexpected.join(' ').slice(0, 300)}`);
    else {
      const final = await snapshot(db);
      failures.push(...chunkDifferences(final, after));
      const chunkIds = [...final.byPath.values()].flatMap((m) => [...m.keys()]);
      const missing = chunkIds.filter((id) => !final.vectorIds.has(id)).length;
      if (missing > 0 || final.vectorIds.size !== chunkIds.length) failures.push(`${missing} chunks without a vector, ${final.vectorIds.size - chunkIds.length + missing} vectors without a chunk`);
      if (existsSync(join(db, 'index.lock'))) failures.push('the index lock was left behind');
      const again = runCliSync(['search', options.query, '--db', db, '--json', '-k', '3']);
      if (again.code !== 0 || (JSON.parse(again.stdout) as { results: unknown[] }).results.length === 0) failures.push('search after the repair found nothing');
    }
    undo();
    rmSync(db, { recursive: true, force: true });
    const outcome: TrialOutcome = { trial, kind, killAtMs, phase: run.phase, failures };
    outcomes.push(outcome);
    log(`trial ${String(trial).padStart(2)} ${kind.padEnd(11)} killed at ${(killAtMs / 1000).toFixed(2)} s in ${(run.phase || 'start-up').padEnd(8)} ${failures.length === 0 ? 'ok' : `FAILED: ${failures.join('; ')}`}`);
  }
  rmSync(options.workDir, { recursive: true, force: true });
  return { outcomes, coldMs, incrementalMs };
}

/** The trial's figures as one summary: trials, failures, and kills by phase. */
export function summarize(report: CrashTrialReport): string {
  const failed = report.outcomes.filter((o) => o.failures.length > 0).length;
  const phases = new Map<string, number>();
  for (const o of report.outcomes) phases.set(o.phase || 'start-up', (phases.get(o.phase || 'start-up') ?? 0) + 1);
  return `${report.outcomes.length} trials, ${failed} failed; kills by phase: ${[...phases].map(([p, n]) => `${p} ${n}`).join(', ')}`;
}
