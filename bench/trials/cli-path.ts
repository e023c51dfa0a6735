// The compiled CLI the trials run as child processes, whether a trial runs compiled
// (dist/bench/trials) or from source under vitest (bench/trials).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
