// Measuring a running codesearch from outside, shared by the benchmark and the trials.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAIN } from './trials/cli.js';
import { Searcher, type SearchMode } from '../server/search.js';

export interface RunningServer {
  url: string;
  pid: number;
  /** Resolves once the server (and a `--watch` child, which it stops first) has exited. */
  stop: () => Promise<void>;
}

/** `codesearch serve ARGS` on a free port; resolves with its URL and pid once it listens. */
export async function startServer(args: string[], options: { cwd?: string } = {}): Promise<RunningServer> {
  // The executable, as users run it: its #! line sets the environment (malloc arenas).
  const child = spawn(CLI_MAIN, ['serve', '--port', '0', '-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const url = await new Promise<string>((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /on (http:\/\/\S+)/.exec(out);
      if (m) resolvePromise(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`codesearch serve exited with ${code}: ${stderr.trim()}`)));
  });
  const exited = new Promise<void>((resolvePromise) => child.once('exit', () => resolvePromise()));
  return {
    url,
    pid: child.pid!,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Bytes below `path`: allocated on disk, and the files' (and directories') own sizes. Symlinks are not followed. */
export function diskUsage(path: string): { allocated: number; apparent: number } {
  let allocated = 0;
  let apparent = 0;
  const visit = (p: string) => {
    const st = lstatSync(p);
    allocated += st.blocks * 512;
    apparent += st.size;
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(path);
  return { allocated, apparent };
}

export interface Timed {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  /** Lines written to stdout (counted even when stdout is not kept). */
  stdoutLines: number;
  /** Peak resident set of the child in bytes, when measured. */
  peakRss?: number;
}

export const haveGnuTime = existsSync('/usr/bin/time');

/**
 * Runs a command, timing its wall clock. With `rss`, also its peak RSS: through
 * `/usr/bin/time -f %M` when present, else by polling /proc/PID/status (VmHWM) every 50 ms.
 */
export function runTimed(cmd: string, args: string[], opts: { rss?: boolean; keepStdout?: boolean; onSpawn?: (pid: number) => void } = {}): Promise<Timed> {
  const viaTime = opts.rss && haveGnuTime;
  const [file, argv] = viaTime ? ['/usr/bin/time', ['-f', '%M', cmd, ...args]] : [cmd, args];
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let stdoutLines = 0;
    child.stdout.on('data', (b: Buffer) => {
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) stdoutLines++;
      if (opts.keepStdout !== false) out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let polledKb = 0;
    const poll = opts.rss && !viaTime && child.pid !== undefined
      ? setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) polledKb = Math.max(polledKb, Number(m[1]));
          } catch {
            // Exited between two samples.
          }
        }, 50)
      : undefined;
    child.on('error', (e) => {
      if (poll) clearInterval(poll);
      reject(e);
    });
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (poll) clearInterval(poll);
      let stderr = Buffer.concat(err).toString('utf8');
      let peakRss: number | undefined;
      if (viaTime) {
        // time's own line is the last one; anything before it is the child's stderr.
        const lines = stderr.trimEnd().split('\n');
        const kb = Number(lines.pop());
        if (Number.isFinite(kb) && kb > 0) peakRss = kb * 1024;
        stderr = lines.filter((l) => !/^Command (exited with non-zero status|terminated by signal)/.test(l)).join('\n');
      } else if (opts.rss && polledKb > 0) {
        peakRss = polledKb * 1024;
      }
      resolvePromise({ ms, code, stdout: Buffer.concat(out).toString('utf8'), stderr, stdoutLines, peakRss });
    });
  });
}

/** Passes over the questions after the warm-up pass, for in-process latency. */
export const SEARCH_PASSES = 3;

/** In-process search latencies (ms): a warm-up pass over `queries`, then SEARCH_PASSES timed passes. */
export async function searchInProcess(db: string, queries: string[], mode: SearchMode, options: { resident?: boolean } = {}): Promise<number[]> {
  const searcher = await Searcher.open(db, options);
  try {
    for (const q of queries) await searcher.search(q, { mode }); // warm-up pass
    const samples: number[] = [];
    for (let pass = 0; pass < SEARCH_PASSES; pass++) {
      for (const q of queries) {
        const t0 = performance.now();
        await searcher.search(q, { mode });
        samples.push(performance.now() - t0);
      }
    }
    return samples;
  } finally {
    searcher.close();
  }
}

/** A saved definition not found through the server after this long fails the measurement. */
const SEARCHABLE_LIMIT_MS = 30_000;

/**
 * Save → searchable: polls `serve` at `url` every 25 ms until its symbol lookup finds `name`
 * (just appended to `path`); the milliseconds since `savedAt`.
 */
export async function untilSearchable(url: string, name: string, path: string, savedAt: number): Promise<number> {
  for (;;) {
    const r = (await (await fetch(`${url}/v1/symbols?q=${name}`)).json()) as { results?: { name: string }[] };
    if (r.results?.[0]?.name === name) return performance.now() - savedAt;
    if (performance.now() - savedAt > SEARCHABLE_LIMIT_MS) throw new Error(`${name} (appended to ${path}) was not searchable after ${SEARCHABLE_LIMIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
