// `codesearch watch [ROOT]`: keeps the index current as files change, one summary line per run.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { watchIndex } from '../../indexer/watch.js';
import { CliError } from '../errors.js';
import { dbForIndexing, parsePositiveInt } from '../config.js';
import { embedderSpec, summaryLine, type IndexCommandOptions } from './index.js';
import { keepHeapTight } from '../heap.js';
import { RUN_ENDED, RUN_STARTED } from './watch-lines.js';

export async function runWatch(rootArg: string, opts: IndexCommandOptions & { exitWithParent?: boolean; announceRuns?: boolean }): Promise<void> {
  keepHeapTight();
  const root = resolve(rootArg);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new CliError(`${rootArg} is not a directory`);
  const db = dbForIndexing(root, opts.db, process.env);
  const threads = opts.threads === undefined ? undefined : parsePositiveInt(opts.threads, '--threads', 64);
  const live = await watchIndex({
    root,
    db,
    threads,
    embedder: embedderSpec(opts),
    onWarning: opts.quiet ? undefined : (m) => process.stderr.write(`codesearch: warning: ${m}\n`),
    onRun: (s) => process.stdout.write(`${summaryLine(s)}\n`),
    ...(opts.announceRuns ? { onRunStart: () => process.stdout.write(`${RUN_STARTED}\n`), onRunEnd: () => process.stdout.write(`${RUN_ENDED}\n`) } : {}),
    onError: (err) => process.stderr.write(`codesearch: index update failed: ${err.message}\n`),
  });
  const stop = async () => {
    await live.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (opts.exitWithParent) {
    // An orphan is adopted by another process: the parent that started this one is gone.
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && void stop(), 500).unref();
  }
  await live.settled();
  process.stdout.write(`codesearch: watching ${root} (index ${db}); Ctrl-C stops\n`);
}
