// Where the index lives: --db, else CODESEARCH_DB, else ROOT/.codesearch — for queries found by
// searching upwards from the current directory, as git finds .git.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT_NO_INDEX } from './errors.js';

export const INDEX_DIR_NAME = '.codesearch';

/**
 * `--db` as a local path: a `file://` URL is one; an object-store URI (`s3://…`, `gs://…`) is
 * refused in one line (taken as a path, it made a local directory named `s3:` and left the
 * bucket empty).
 */
function localDb(db: string): string {
  if (db.startsWith('file://')) return fileURLToPath(db);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db)) {
    throw new CliError(`the index must be a local directory for now: ${db} is an object-store URI, which codesearch does not read or write yet`);
  }
  return db;
}

export function dbForIndexing(root: string, db: string | undefined, env: NodeJS.ProcessEnv): string {
  const explicit = db ?? env.CODESEARCH_DB;
  return resolve(explicit ? localDb(explicit) : join(root, INDEX_DIR_NAME));
}

export function dbForQuerying(db: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const explicit = db ?? env.CODESEARCH_DB;
  if (explicit) {
    const path = resolve(cwd, localDb(explicit));
    if (!existsSync(path)) throw new CliError(`no codesearch index at ${path}; run 'codesearch index' first`, EXIT_NO_INDEX);
    return path;
  }
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, INDEX_DIR_NAME);
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new CliError(`no codesearch index found in ${cwd} or its parents; run 'codesearch index ROOT' first`, EXIT_NO_INDEX);
}

export function parsePositiveInt(value: string, what: string, max: number): number {
  if (!/^\d+$/.test(value.trim())) throw new CliError(`${what} must be a positive integer, got '${value}'`);
  const n = Number.parseInt(value, 10);
  if (n < 1 || n > max) throw new CliError(`${what} must be between 1 and ${max}, got ${n}`);
  return n;
}
