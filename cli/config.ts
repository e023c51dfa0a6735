// Where the index lives: --db, else CODESEARCH_DB, else ROOT/.codesearch — for queries found by
// searching upwards from the current directory, as git finds .git.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { IndexLocationError, isRemoteIndex, missingStoreSettings, normalizeIndexLocation } from '../indexer/location.js';
import { CliError, EXIT_NO_INDEX } from './errors.js';

export const INDEX_DIR_NAME = '.codesearch';

/** `--db` as LanceDB takes it, or a one-line CLI error for a location it cannot be. */
function indexLocation(db: string, cwd: string): string {
  try {
    const location = normalizeIndexLocation(db, cwd);
    const missing = missingStoreSettings(location);
    if (missing) throw new CliError(missing);
    return location;
  } catch (err) {
    if (err instanceof IndexLocationError) throw new CliError(err.message);
    throw err;
  }
}

export function dbForIndexing(root: string, db: string | undefined, env: NodeJS.ProcessEnv): string {
  const explicit = db ?? env.CODESEARCH_DB;
  return explicit ? indexLocation(explicit, process.cwd()) : join(resolve(root), INDEX_DIR_NAME);
}

export function dbForQuerying(db: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  const explicit = db ?? env.CODESEARCH_DB;
  if (explicit) {
    const location = indexLocation(explicit, cwd);
    // An object store is asked when the index is opened, which says clearly if it is not there.
    if (!isRemoteIndex(location) && !existsSync(location)) throw new CliError(`no codesearch index at ${location}; run 'codesearch index' first`, EXIT_NO_INDEX);
    return location;
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
