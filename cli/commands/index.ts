// `codesearch index [ROOT]`: progress bar on a terminal, one summary line always.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { indexRepo, type IndexProgress } from '../../indexer/pipeline.js';
import { IndexLockedError } from '../../indexer/lock.js';
import { CliError, EXIT_NO_INDEX } from '../errors.js';
import { dbForIndexing, parsePositiveInt } from '../config.js';

export interface IndexCommandOptions {
  db?: string;
  threads?: string;
  quiet?: boolean;
}

export async function runIndex(rootArg: string, opts: IndexCommandOptions): Promise<void> {
  const root = resolve(rootArg);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new CliError(`${rootArg} is not a directory`);
  const db = dbForIndexing(root, opts.db, process.env);
  const threads = opts.threads === undefined ? undefined : parsePositiveInt(opts.threads, '--threads', 64);
  const bar = !opts.quiet && process.stderr.isTTY ? progressBar() : undefined;
  const onWarning = opts.quiet ? undefined : (m: string) => (bar ? bar.log(m) : process.stderr.write(`codesearch: warning: ${m}\n`));
  try {
    const s = await indexRepo({ root, db, threads, onWarning, onProgress: bar?.update });
    bar?.stop();
    process.stdout.write(
      `indexed ${s.files} files (${s.parsed} parsed, ${s.added} new, ${s.changed} changed, ${s.removed} removed), ` +
        `${s.chunks} chunks, ${s.lines} lines, ${s.skipped} skipped, ${s.filesWithErrors} with syntax errors, ${s.seconds.toFixed(1)}s\n`,
    );
  } catch (err) {
    bar?.stop();
    if (err instanceof IndexLockedError) throw new CliError(err.message);
    if ((err as NodeJS.ErrnoException).code === 'EACCES' || (err as NodeJS.ErrnoException).code === 'EROFS') {
      throw new CliError(`cannot write the index at ${db}: ${(err as Error).message}`, EXIT_NO_INDEX);
    }
    throw err;
  }
}

function progressBar() {
  // A MultiBar can print warnings above the bar without breaking it.
  const bars = new cliProgress.MultiBar(
    { format: 'indexing [{bar}] {value}/{total} files | {rate} files/s | ETA {eta}s', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  const t0 = Date.now();
  return {
    update(p: IndexProgress) {
      if (p.phase !== 'parse') return;
      bar ??= bars.create(p.total, 0, { rate: 0 });
      bar.update(p.done, { rate: Math.round(p.done / Math.max(0.001, (Date.now() - t0) / 1000)) });
    },
    log(message: string) {
      bars.log(`codesearch: warning: ${message}\n`);
    },
    stop() {
      bars.stop();
    },
  };
}
