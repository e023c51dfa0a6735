// Measuring a running codesearch from outside, shared by the benchmark and the trials.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI_MAIN } from './trials/cli-path.js';

export interface RunningServer {
  url: string;
  pid: number;
  stop: () => void;
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
  return { url, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
