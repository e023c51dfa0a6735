// Measuring a running codesearch from outside, shared by the benchmark and the trials.
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_MAIN } from './trials/cli.js';

export interface RunningServer {
  url: string;
  pid: number;
  /** Resolves once the server (and a `--watch` child, which it stops first) has exited. */
  stop: () => Promise<void>;
}

/** `codesearch serve ARGS` on a free port; resolves with its URL and pid once it listens. */
export async function startServer(args: string[], options: { cwd?: string } = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI_MAIN, 'serve', '--port', '0', '-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: options.cwd });
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
