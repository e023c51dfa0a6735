// Shared test helpers: fixture copies in temp dirs, and the real CLI run as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexRepo } from '../indexer/pipeline.js';
import { IndexStore } from '../indexer/store.js';
import { Searcher } from '../server/search.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root (the directory holding package.json). */
export const REPO_ROOT = path.resolve(here, '..');
export const FIXTURES = path.join(here, 'fixtures');
/** The compiled CLI; `npm test` runs tsc before vitest, so it exists. */
export const CLI_MAIN = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

const tempDirs: string[] = [];

/** A fresh empty temp dir, removed by `cleanupTempDirs`. */
export function makeTempDir(prefix = 'cs-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every temp dir made so far (call from afterAll). */
export function cleanupTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** Copies test/fixtures/NAME into a fresh temp dir and returns the copy's root. */
export function copyFixture(name: string): string {
  const src = path.join(FIXTURES, name);
  if (!fs.statSync(src).isDirectory()) throw new Error(`no fixture ${name}`);
  const root = path.join(makeTempDir(`cs-${name}-`), name);
  fs.cpSync(src, root, { recursive: true });
  return root;
}

/**
 * Copies test/fixtures/NAME, writes `files` over the copy, and indexes it (default embedder)
 * into a fresh temp db.
 */
export async function indexedFixture(name: string, files: Record<string, string | Uint8Array> = {}): Promise<{ root: string; db: string }> {
  const root = copyFixture(name);
  writeFiles(root, files);
  return { root, db: await indexIntoTempDb(root) };
}

/** Writes `files` below a fresh temp root and indexes it (default embedder) into a fresh temp db. */
export async function indexedFiles(files: Record<string, string | Uint8Array>, prefix = 'cs-files-'): Promise<{ root: string; db: string }> {
  const root = makeTempDir(prefix);
  writeFiles(root, files);
  return { root, db: await indexIntoTempDb(root) };
}

async function indexIntoTempDb(root: string): Promise<string> {
  const db = path.join(makeTempDir('cs-db-'), 'index');
  await indexRepo({ root, db });
  return db;
}

/** Every chunk's content hash by id, the ids with a vector and the model: what two equal builds share. */
export async function indexContents(db: string) {
  const store = await IndexStore.openForSearch(db);
  try {
    return {
      // Rows as well as ids: a chunk written twice shows only here.
      rows: await store.countChunks(),
      chunks: Object.fromEntries([...(await store.chunkContentHashes())].sort()),
      vectors: [...(await store.vectorHashes()).keys()].sort(),
      model: await store.getMeta('embedder_id'),
    };
  } finally {
    store.close();
  }
}

/** Writes { 'rel/path': contents } below root, creating directories. */
export function writeFiles(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, contents] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, contents);
  }
}

/** `let f_0 x = x + 0` … one definition per line; `count` = 2000 makes ~46 KB. */
export function generatedDefinitions(count: number, prefix = 'f'): string {
  let out = '';
  for (let i = 0; i < count; i++) out += `let ${prefix}_${i} x = x + ${i}\n`;
  return out;
}

/** `count` documented values `PREFIX_0` … one per paragraph: a module that indexes to `count` chunks. */
export function documentedValues(prefix: string, count: number): string {
  let out = '';
  for (let j = 0; j < count; j++) out += `(** Value ${j} of ${prefix}. *)\nlet ${prefix}_${j} x = x + ${j}\n\n`;
  return out;
}

/** Bytes with NULs: a binary file that happens to be called `.ml`. */
export const BINARY_BYTES = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0x00, 0x6c, 0x65, 0x74, 0x00, 0xff]);

/** `(* café *)` in Latin-1 (0xE9): not valid UTF-8. */
export const LATIN1_BYTES = Buffer.concat([
  Buffer.from('(* caf', 'ascii'),
  Buffer.from([0xe9]),
  Buffer.from(' au lait *)\nlet latin_value = 1\n', 'ascii'),
]);

/**
 * The pieces of the `mini` fixture that are made at test time, never committed: a >32 KB file,
 * a binary `junk.ml`, a Latin-1 `latin1.ml`, a symlink loop, and `scratch/tmp.ml` (which the
 * fixture's .gitignore ignores, so git would not commit it either).
 */
export function addGeneratedFiles(root: string): void {
  writeFiles(root, {
    'src/big_table.ml': generatedDefinitions(2000),
    'src/junk.ml': BINARY_BYTES,
    'src/latin1.ml': LATIN1_BYTES,
    'scratch/tmp.ml': 'let scratch_only_value = 1\n',
  });
  fs.symlinkSync('..', path.join(root, 'src', 'loop'));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  /** Added to a clean environment (no CODESEARCH_DB, NO_COLOR unset unless given). */
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** The environment children get: the parent's, minus anything that would steer codesearch. */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.CODESEARCH_DB;
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs `node dist/cli/main.js ARGS` as a real child process and collects its output. */
export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Waits until `pid` no longer runs (or the timeout passes). */
export async function waitForExit(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process ${pid} still runs`);
}

/**
 * Starts the CLI as a long-running child (`serve`, `watch`); resolves once `ready` matches its
 * stdout, rejects if it exits first.
 */
export function startCli(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const match = ready.exec(out);
      if (match) resolve({ child, match });
    });
    child.on('exit', (code) => reject(new Error(`codesearch ${args[0]} exited with ${code} before it was ready: ${out}`)));
  });
}

/** What `codesearch serve` prints once it listens: the URL is the first group. */
export const SERVING = /on (http:\/\/\S+)/;

/** Runs `check` with a one-shot and then a resident searcher of `db`, closing each after. */
export async function withEachSearcher(db: string, check: (s: Searcher, resident: boolean) => Promise<void>): Promise<void> {
  for (const resident of [false, true]) {
    const s = await Searcher.open(db, { resident });
    try {
      await check(s, resident);
    } finally {
      s.close();
    }
  }
}
