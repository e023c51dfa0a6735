// The compiled CLI as the trials run it, in child processes, whether a trial runs compiled
// (dist/bench/trials) or from source under vitest (bench/trials); and the working copies of a
// tree they index.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(dir: string): string {
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('codesearch: package.json not found above the trials');
    dir = parent;
  }
  return dir;
}

export const CLI_MAIN = join(repoRoot(dirname(fileURLToPath(import.meta.url))), 'dist', 'cli', 'main.js');

/** `codesearch ARGS` run to its end: exit status, output, and how long it took. */
export function runCliSync(args: string[]): { code: number | null; stdout: string; stderr: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
}

/** Copies a source tree to `dest`, leaving out an index inside it (`.codesearch`). */
export function copyTree(source: string, dest: string): void {
  cpSync(source, dest, { recursive: true, filter: (src) => !src.endsWith('/.codesearch') });
}

/** Questions a developer asks: the shared dev cases when present, else a few of our own. */
export function devQueries(): string[] {
  const dev = resolve('../shared/eval/dev.jsonl');
  if (existsSync(dev)) return readFileSync(dev, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { query: string }).query);
  return ['how do I split a string on a character', 'Hashtbl.find_opt', 'read a file line by line', 'List.concat_map', 'where are exceptions printed'];
}
