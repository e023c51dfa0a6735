// The hostile repository of issue 7: good OCaml files mixed with files made to break an indexer
// (binary, not UTF-8, huge, 50,000 lines, nested thousands deep, megabyte lines, symlinks out of
// the root and in loops, unreadable files and directories, odd names, files changing while the
// index runs). test/hostile.test.ts indexes it at scale 1 and bench/trials/hostile.ts at full
// size; both run the real CLI through `runIndexer` and judge the result with `checkIndex`.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { printable } from '../../indexer/pipeline.js';
import { IndexStore } from '../../indexer/store.js';
import { formatSize } from '../../indexer/walk.js';
import { Searcher } from '../../server/search.js';
import { CLI_MAIN } from './cli.js';

export interface GoodFile {
  /** Every definition name the file must have in the index. */
  names: string[];
  /** One of them, looked up by name: the file must be among the hits. */
  probe: string;
}

export interface BadFile {
  /** What the one warning naming it says. */
  reason: string;
  /** The walk warns on every run; a file the parse stage left out is warned about once. */
  stage: 'walk' | 'parse';
}

export interface HostileTree {
  root: string;
  good: Map<string, GoodFile>;
  bad: Map<string, BadFile>;
  /** Files that `startChurn` rewrites, deletes and swaps while the index runs: at most one warning each. */
  volatile: string[];
  /** Text of every file outside the root that symlinks lead to: no chunk may contain it. */
  outsideMarker: string;
  /** Made unreadable (relative paths); `unlock` gives them back before the tree is removed. */
  locked: string[];
}

export interface HostileOptions {
  /** 1 for the test; the trial's default is 5: that many of each hostile kind, 64× it good files. */
  scale: number;
  /** Make files and directories the indexing user cannot read (see `indexingUser`). */
  unreadable: boolean;
}

const MB = 1_000_000;

/** A small module with four definitions, all named after `tag`. */
function goodModule(tag: string): { text: string; file: GoodFile } {
  const names = [`${tag}_value`, `${tag}_apply`, `${tag}_shape`, `${tag}_inner`, 'Inner'];
  const text =
    `(** Module ${tag}: an ordinary file among hostile ones. *)\n` +
    `let ${tag}_value = 1\n\n` +
    `let ${tag}_apply f x = f (x + ${tag}_value)\n\n` +
    `type ${tag}_shape = Circle of float | Square of float\n\n` +
    `module Inner = struct\n  let ${tag}_inner = "${tag}"\nend\n`;
  return { text, file: { names, probe: `${tag}_value` } };
}

/** `module L0 = struct [let level_0_value = 0] module L1 = struct ...`, `depth` levels, one per line. */
export function nestedModules(depth: number, withValues: boolean): string {
  let open = '';
  for (let i = 0; i < depth; i++) open += `module L${i} = struct${withValues ? ` let level_${i}_value = ${i}` : ''}\n`;
  return open + 'end\n'.repeat(depth);
}

/** `count` definitions on one line (generated code): `let one_line_0 = 0 let one_line_1 = 1 ...`. */
export function definitionsOnOneLine(count: number): string {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`let one_line_${i} = ${i}`);
  return `${parts.join(' ')}\n`;
}

/** A definition of exactly `lines` lines, each padded to `lineBytes` bytes. */
function longDefinition(name: string, lines: number, lineBytes: number): string {
  const line = `  x +${' '.repeat(Math.max(0, lineBytes - 6))}\n`;
  return `let ${name} x =\n${line.repeat(lines - 2)}  0\n`;
}

/** `text`, then a comment padding it to exactly `bytes` bytes. */
function padTo(text: string, bytes: number): string {
  const room = bytes - Buffer.byteLength(text) - '(*  *)\n'.length;
  return `${text}(* ${'x'.repeat(room)} *)\n`;
}

const BINARY = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x00, 0x6c, 0x65, 0x74, 0x00, 0xff, 0x00]);
const LATIN1 = Buffer.concat([Buffer.from('(* caf'), Buffer.from([0xe9]), Buffer.from(' *)\nlet latin_value = 1\n')]);

/** Names that are legal on Linux and awkward everywhere else: spaces, quotes, escapes, newlines. */
const ODD_NAMES = ['with space.ml', 'ünïcödé ñame.ml', '日本語.ml', 'emoji_😀.ml', "quote'name.ml", 'back\\slash.ml', 'per%cent_under_.ml', 'new\nline.ml', '-dash.ml', '#hash;semi.ml'];

/**
 * Builds the tree in `dir/repo` (its outside neighbour in `dir/outside`). `mkfifo` makes a named
 * pipe called `.ml`, where the platform has it.
 */
export function buildHostileTree(dir: string, options: HostileOptions): HostileTree {
  const root = path.join(dir, 'repo');
  const outside = path.join(dir, 'outside');
  const outsideMarker = `outside_secret_${createHash('sha1').update(dir).digest('hex').slice(0, 8)}`;
  const good = new Map<string, GoodFile>();
  const bad = new Map<string, BadFile>();
  const write = (rel: string, contents: string | Uint8Array) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), contents);
  };
  const addGood = (rel: string, text: string, file: GoodFile) => {
    write(rel, text);
    good.set(rel, file);
  };
  const addBad = (rel: string, contents: string | Uint8Array, reason: string, stage: BadFile['stage']) => {
    write(rel, contents);
    bad.set(rel, { reason, stage });
  };
  const symlink = (rel: string, target: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.symlinkSync(target, path.join(root, rel));
  };
  const tooLarge = (rel: string, contents: string) => addBad(rel, contents, `larger than 1 MB (${formatSize(Buffer.byteLength(contents))})`, 'walk');
  const copies = (n: number) => Array.from({ length: Math.max(1, Math.ceil(n)) }, (_, i) => i);
  const { scale } = options;

  fs.mkdirSync(outside, { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret.ml'), `let ${outsideMarker} = "must never be indexed"\n`);

  // Ordinary libraries, with a dune file each and an .mli for every fourth module.
  for (let lib = 0; lib < 8 * scale; lib++) {
    write(`src/lib_${lib}/dune`, `(library (name lib_${lib}))\n`);
    for (let m = 0; m < 8; m++) {
      const { text, file } = goodModule(`good_${lib}_${m}`);
      addGood(`src/lib_${lib}/mod_${m}.ml`, text, file);
      if (m % 4 === 0) addGood(`src/lib_${lib}/mod_${m}.mli`, `val good_${lib}_${m}_value : int\n`, { names: [`good_${lib}_${m}_value`], probe: `good_${lib}_${m}_value` });
    }
  }
  ODD_NAMES.forEach((name, i) => {
    const { text, file } = goodModule(`odd_name_${i}`);
    addGood(`names/${name}`, text, file);
  });

  // Big but under the limit: a 50,000-line definition, a file of exactly 1 MB, a megabyte line.
  addGood('big/fifty_thousand_lines.ml', longDefinition('fifty_thousand_lines', 50_000, 7), { names: ['fifty_thousand_lines'], probe: 'fifty_thousand_lines' });
  addGood('big/exactly_one_megabyte.ml', padTo('let at_the_size_limit = 1\n', MB), { names: ['at_the_size_limit'], probe: 'at_the_size_limit' });
  const blob = 'a'.repeat(MB - 200);
  addGood('long/megabyte_line.ml', `let long_line_head = 1 let long_line_blob = "${blob}" let long_line_tail = 2\n`, {
    names: ['long_line_head', 'long_line_blob', 'long_line_tail'],
    probe: 'long_line_tail',
  });
  const onOneLine = Math.min(35_000, 10_000 * scale);
  addGood('long/definitions_on_one_line.ml', definitionsOnOneLine(onOneLine), { names: ['one_line_0', `one_line_${onOneLine - 1}`], probe: `one_line_${onOneLine - 1}` });
  // A `val` of 100,000 arrows and an expression 100,000 parentheses deep.
  addGood('deep/long_type.mli', `val long_arrow_function : ${'int -> '.repeat(100_000)}int\n`, { names: ['long_arrow_function'], probe: 'long_arrow_function' });
  addGood('deep/deep_parens.ml', `let deep_parens_value = ${'('.repeat(100_000)}1${')'.repeat(100_000)}\n`, { names: ['deep_parens_value'], probe: 'deep_parens_value' });
  addGood('deep/nested_500.ml', nestedModules(500, true), { names: Array.from({ length: 500 }, (_, i) => `level_${i}_value`), probe: 'level_499_value' });

  // Aliases inside the root: a symlinked file is indexed under its own path, a directory symlink
  // loop and a second route to a directory are walked once, quietly.
  symlink('alias_to_good.ml', 'src/lib_0/mod_1.ml');
  good.set('alias_to_good.ml', { ...good.get('src/lib_0/mod_1.ml')!, probe: 'good_0_1_value' });
  symlink('src/loop', '..');
  symlink('second_route_to_lib_0', 'src/lib_0');
  write('_build/default/generated.ml', 'let build_output = 1\n');
  if (spawnSync('mkfifo', [path.join(root, 'src/named_pipe.ml')]).status !== 0) process.stderr.write('hostile tree: no mkfifo, no named pipe\n');

  for (const i of copies(scale)) {
    addBad(`bad/binary_${i}.ml`, BINARY, 'binary file', 'parse');
    addBad(`bad/latin1_${i}.ml`, LATIN1, 'not valid UTF-8', 'parse');
    addBad(`bad/nested_20000_${i}.ml`, nestedModules(20_000, false), 'nested too deeply', 'parse');
    tooLarge(`bad/over_limit_${i}.ml`, padTo('let over_the_limit = 1\n', MB + 1));
    tooLarge(`bad/fifty_thousand_long_lines_${i}.ml`, longDefinition('fifty_thousand_long_lines', 50_000, 25));
    tooLarge(`bad/megabyte_line_${i}.ml`, `let over_long_line = "${'b'.repeat(MB)}"\n`);
  }
  for (const i of copies(scale / 4)) tooLarge(`bad/ten_megabytes_${i}.ml`, generatedLines(10 * MB));
  tooLarge('bad/huge_dune/dune', `(library (name huge_dune))\n${'; generated\n'.repeat(200_000)}`);
  tooLarge('bad/huge_ignore/.gitignore', '*.generated.ml\n'.repeat(150_000));
  symlink('bad/endless_ignore/.gitignore', '/dev/zero');
  bad.set('bad/endless_ignore/.gitignore', { reason: 'not a regular file', stage: 'walk' });
  addBad('bad/binary with\nnewline.ml', BINARY, 'binary file', 'parse');
  // Linux names are bytes: this one is not UTF-8, so Node lists it with U+FFFD and cannot open it.
  fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/bad/caf`), Buffer.from([0xe9]), Buffer.from('.ml')]), 'let cafe = 1\n');
  bad.set('bad/caf\ufffd.ml', { reason: 'cannot stat (ENOENT)', stage: 'walk' });

  // Symlinks out of the root (relative, absolute, to a file and to directories), in a loop, dangling.
  symlink('escape/secret.ml', '../../outside/secret.ml');
  symlink('escape/outside_dir', path.relative(path.join(root, 'escape'), outside));
  symlink('escape/etc', '/etc');
  for (const rel of ['escape/secret.ml', 'escape/outside_dir', 'escape/etc']) bad.set(rel, { reason: 'symlink target is outside the repository', stage: 'walk' });
  symlink('loops/ping.ml', 'pong.ml');
  symlink('loops/pong.ml', 'ping.ml');
  symlink('loops/dangling.ml', 'missing.ml');
  bad.set('loops/ping.ml', { reason: 'broken symlink (ELOOP)', stage: 'walk' });
  bad.set('loops/pong.ml', { reason: 'broken symlink (ELOOP)', stage: 'walk' });
  bad.set('loops/dangling.ml', { reason: 'broken symlink (ENOENT)', stage: 'walk' });

  const volatile = copies(4 * scale).map((i) => `volatile/churn_${i}.ml`);
  volatile.forEach((rel, i) => write(rel, goodModule(`volatile_${i}`).text));

  const locks: [string, number][] = [];
  if (options.unreadable) {
    addBad('locked/unreadable.ml', 'let unreadable_value = 1\n', 'unreadable (EACCES)', 'parse');
    addBad('locked/.gitignore', '*.tmp\n', 'EACCES', 'walk');
    write('locked_dir/inside.ml', 'let locked_away = 1\n');
    bad.set('locked_dir', { reason: 'EACCES', stage: 'walk' });
    // Listable but not searchable: the names show, their files cannot be opened or stat'ed.
    addBad('unsearchable_dir/inside.ml', 'let unsearchable = 1\n', 'cannot stat (EACCES)', 'walk');
    locks.push(['locked/unreadable.ml', 0o000], ['locked/.gitignore', 0o000], ['locked_dir', 0o000], ['unsearchable_dir', 0o644]);
  }
  // Whatever the umask, the indexing user may read everything but what is locked.
  readableToAll(dir);
  for (const [rel, mode] of locks) fs.chmodSync(path.join(root, rel), mode);
  return { root, good, bad, volatile, outsideMarker, locked: locks.map(([rel]) => rel) };
}

/** Makes the locked files and directories removable again (by a user who is not root). */
export function unlock(tree: HostileTree): void {
  for (const rel of tree.locked) fs.chmodSync(path.join(tree.root, rel), 0o755);
}

/** Files 0644 and directories 0755 below `dir` (symlinks left alone); names as bytes, UTF-8 or not. */
function readableToAll(dir: Buffer | string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' })) {
    const abs = Buffer.concat([Buffer.from(dir), Buffer.from('/'), entry.name]);
    if (entry.isDirectory()) readableToAll(abs);
    else if (entry.isFile()) fs.chmodSync(abs, 0o644);
  }
}

/** Plain one-line definitions up to `bytes`: a generated table too large to index. */
function generatedLines(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `let generated_${i} = ${i}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('');
}

/** Root reads every file whatever its mode, so the indexer must run as someone else to meet them. */
export type IndexingUser = { uid: number; gid: number } | 'self';

/** Who runs the indexer so that unreadable files are unreadable to it, or why no one can. */
export function indexingUser(): { user: IndexingUser } | { reason: string } {
  if (process.getuid?.() !== 0) return { user: 'self' };
  const nobody = { uid: 65534, gid: 65534 };
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(CLI_MAIN)}, require('fs').constants.R_OK)`], { ...nobody, stdio: 'pipe' });
  if (probe.status === 0) return { user: nobody };
  return { reason: `running as root, and node cannot run ${CLI_MAIN} as nobody (65534): ${probe.error?.message ?? probe.stderr.toString().trim()}` };
}

/** Lets `user` write `db` and a home directory in `dir`. */
export function shareWith(user: IndexingUser, dir: string, db: string): void {
  for (const writable of [db, path.join(dir, 'home')]) {
    fs.mkdirSync(writable, { recursive: true });
    if (user !== 'self') fs.chownSync(writable, user.uid, user.gid);
  }
}

export interface IndexRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** `codesearch: warning:` messages, whole even when a file name holds a newline. */
  warnings: string[];
  /** Stderr before the first warning (errors, crashes). */
  otherStderr: string;
  seconds: number;
  /** Peak resident set of the indexer process (VmHWM, polled), in MB. */
  peakRssMb: number;
}

const WARNING_PREFIX = 'codesearch: warning: ';

/** Runs `codesearch index ROOT --db DB [extra]` as `user` and watches its memory. */
export function runIndexer(root: string, db: string, user: IndexingUser, extra: string[] = [], timeoutMs = 600_000): Promise<IndexRun> {
  const started = performance.now();
  const home = path.join(path.dirname(root), 'home');
  // LanceDB's own log (k-means on a small index: "more than 10% of clusters are empty") is not
  // about the files; its errors still show.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, NO_COLOR: '1', LANCEDB_LOG: 'error' };
  delete env.CODESEARCH_DB;
  const child = spawn(process.execPath, [CLI_MAIN, 'index', root, '--db', db, ...extra], {
    cwd: path.dirname(root),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user === 'self' ? {} : user),
  });
  let stdout = '';
  let stderr = '';
  let peakKb = 0;
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const poll = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
    } catch {
      // Exited between two polls (or no /proc): the peak so far stands.
    }
  }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(killer);
      // A record runs to the next prefix, its last newline the CLI's own: anything else after a
      // warning stays in it, and `checkWarnings` finds it there.
      const [before, ...records] = stderr.split(WARNING_PREFIX);
      const warnings = records.map((r) => r.replace(/\n$/, ''));
      resolve({ code, signal, stdout, warnings, otherStderr: before ?? '', seconds: (performance.now() - started) / 1000, peakRssMb: Math.round(peakKb / 1024) });
    });
  });
}

/** What `warning` says about `rel` (in the forms walk.ts and pipeline.ts write), if it is about it. */
function reasonFor(warning: string, rel: string): string | undefined {
  // Names are written printable: control characters as \xNN.
  const name = printable(rel);
  const prefix = [`skipped ${name}: `, `cannot read directory ${name}: `, `cannot read ${name}: `].find((p) => warning.startsWith(p));
  return prefix === undefined ? undefined : warning.slice(prefix.length);
}

/**
 * What is wrong with a run's warnings: not exactly one per bad file (none, on a second run, for
 * one the parse stage left out as binary, too big or not UTF-8 and that has not changed), more than one for a volatile file, or
 * one about anything else.
 */
export function checkWarnings(tree: HostileTree, warnings: readonly string[], rerun: boolean): string[] {
  const problems: string[] = [];
  const claimed = new Set<string>();
  for (const [rel, { reason, stage }] of tree.bad) {
    const about = warnings.filter((w) => reasonFor(w, rel) !== undefined);
    about.forEach((w) => claimed.add(w));
    // An unreadable file is tried (and warned about) again on every run: permissions change without touching mtime.
    const expected = rerun && stage === 'parse' && !reason.startsWith('unreadable') ? 0 : 1;
    const said = about.length === 1 ? reasonFor(about[0]!, rel)! : undefined;
    if (about.length !== expected) problems.push(`${JSON.stringify(rel)}: ${about.length} warnings, expected ${expected}: ${JSON.stringify(about)}`);
    // One line: more after it is output that is no warning.
    else if (said !== undefined && (!said.includes(reason) || said.includes('\n'))) problems.push(`${JSON.stringify(rel)}: warning ${JSON.stringify(about[0])}, expected one line saying ${JSON.stringify(reason)}`);
  }
  for (const rel of tree.volatile) {
    const about = warnings.filter((w) => reasonFor(w, rel) !== undefined);
    about.forEach((w) => claimed.add(w));
    if (about.length > 1) problems.push(`volatile ${rel}: ${about.length} warnings: ${JSON.stringify(about)}`);
  }
  for (const w of warnings) if (!claimed.has(w)) problems.push(`unexpected warning: ${JSON.stringify(w)}`);
  return problems;
}

/** What the index holds, in a form two indexes of the same tree must agree on. */
export async function snapshot(db: string): Promise<{ files: string[]; chunks: string[] }> {
  const store = await IndexStore.openForSearch(db);
  try {
    const files = [...(await store.fileStates()).values()].map((f) => `${JSON.stringify(f.path)} ${f.hash} ${f.chunks} ${f.skipped}`).sort();
    const chunks: string[] = [];
    for await (const batch of store.chunkRecords()) {
      for (const { chunk: c } of batch) {
        const text = createHash('sha1').update(c.text).digest('hex');
        chunks.push(`${JSON.stringify(c.id)} ${c.symbol} ${c.kind} ${c.startLine}-${c.endLine} ${c.part}/${c.parts} ${JSON.stringify(c.counterpart)} ${text}`);
      }
    }
    return { files, chunks: chunks.sort() };
  } finally {
    store.close();
  }
}

/**
 * What is wrong with the index: a good file missing a definition or not found by looking up its
 * probe name, a chunk of any other file (outside the root, bad, skipped), or the outside text.
 */
export async function checkIndex(tree: HostileTree, db: string): Promise<string[]> {
  const problems: string[] = [];
  const namesByPath = new Map<string, Set<string>>();
  const store = await IndexStore.openForSearch(db);
  try {
    for await (const batch of store.chunkRecords()) {
      for (const { chunk } of batch) {
        let names = namesByPath.get(chunk.path);
        if (!names) namesByPath.set(chunk.path, (names = new Set()));
        names.add(chunk.name);
        if (chunk.text.includes(tree.outsideMarker)) problems.push(`${JSON.stringify(chunk.path)}: holds the text of a file outside the root`);
      }
    }
  } finally {
    store.close();
  }
  for (const [rel, file] of tree.good) {
    const missing = file.names.filter((n) => !namesByPath.get(rel)?.has(n));
    if (missing.length > 0) problems.push(`${JSON.stringify(rel)}: not indexed: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
  }
  const volatile = new Set(tree.volatile);
  for (const rel of namesByPath.keys()) if (!tree.good.has(rel) && !volatile.has(rel)) problems.push(`${JSON.stringify(rel)}: indexed, but it is no good file of the tree`);
  const searcher = await Searcher.open(db);
  try {
    for (const [rel, file] of tree.good) {
      const hits = await searcher.lookupSymbol(file.probe, 10);
      if (!hits.some((h) => h.name === file.probe && (h.path === rel || h.counterpart?.path === rel))) problems.push(`${JSON.stringify(rel)}: looking up ${file.probe} does not find it`);
    }
  } finally {
    searcher.close();
  }
  return problems;
}

/**
 * Rewrites, deletes, recreates and swaps the volatile files (for binary content, for a symlink out
 * of the root, for a directory) until stopped: what a checkout or an editor does to a tree while
 * it is being indexed. Seeded, so a run can be repeated.
 */
export function startChurn(tree: HostileTree, seed = 1): { stop(): Promise<number> } {
  let state = seed;
  const random = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const outsideSecret = path.join(path.dirname(tree.root), 'outside', 'secret.ml');
  const ops: ((abs: string, i: number) => void)[] = [
    (abs, i) => fs.writeFileSync(abs, goodModule(`volatile_${i}_${random(1000)}`).text),
    (abs) => fs.rmSync(abs, { recursive: true, force: true }),
    (abs) => fs.writeFileSync(abs, BINARY),
    (abs) => fs.symlinkSync(outsideSecret, abs),
    (abs) => fs.mkdirSync(abs),
    (abs, i) => fs.appendFileSync(abs, `let appended_${i}_${random(1000)} = 0\n`),
  ];
  let operations = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const i = random(tree.volatile.length);
      const abs = path.join(tree.root, tree.volatile[i]!);
      try {
        const op = ops[random(ops.length)]!;
        // Whatever was there goes first, except for an append, which needs a file.
        if (op !== ops[5]) fs.rmSync(abs, { recursive: true, force: true });
        op(abs, i);
        operations++;
      } catch {
        // An append to a path that is now a directory or gone: the next operation differs.
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return operations;
    },
  };
}
