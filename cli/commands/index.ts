// `codesearch index [ROOT]`: progress bar on a terminal, one summary line always.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { finalizeIndex, IndexFormatError, indexRepo, parseShard, type IndexProgress, type IndexSummary, type Shard } from '../../indexer/pipeline.js';
import { isRemoteIndex } from '../../indexer/location.js';
import { probeConditionalPut } from '../../indexer/conditional-put.js';
import { IndexLockedError } from '../../indexer/lock.js';
import { CliError, storageError } from '../errors.js';
import { dbForIndexing, parsePositiveInt } from '../config.js';
import { EmbedderError, embedderNames, type EmbedderSpec } from '../../indexer/embed/embedder.js';
import '../../indexer/embed/builtin.js';

export interface IndexCommandOptions {
  db?: string;
  threads?: string;
  quiet?: boolean;
  embedder?: string;
  embedderModel?: string;
  embedderUrl?: string[];
  embedderRemoteModel?: string;
  device?: string;
  dtype?: string;
  queryPrefix?: string;
  documentPrefix?: string;
  batchSize?: string;
  retrain?: boolean;
  shard?: string;
  finalize?: boolean;
  progress?: string;
}

/** Flags that tune a neural embedder, and the embedders each applies to. */
const TUNING_FLAGS: [option: keyof IndexCommandOptions, flag: string, embedders: string[]][] = [
  ['device', '--device', ['transformers']],
  ['dtype', '--dtype', ['transformers']],
  ['queryPrefix', '--query-prefix', ['transformers', 'http']],
  ['documentPrefix', '--document-prefix', ['transformers', 'http']],
  ['batchSize', '--batch-size', ['transformers', 'http']],
];

/** The embedder the flags ask for: undefined keeps the index's own, null means none. */
export function embedderSpec(opts: IndexCommandOptions): EmbedderSpec | null | undefined {
  const name = opts.embedder ?? (opts.embedderModel ? 'transformers' : opts.embedderUrl ? 'http' : undefined);
  // A tuning flag alone would be silently dropped: the index keeps its whole stored spec.
  for (const [option, flag, embedders] of TUNING_FLAGS) {
    if (opts[option] === undefined || (name !== undefined && embedders.includes(name))) continue;
    throw new CliError(`${flag} applies to the ${embedders.join(' and ')} embedder${embedders.length > 1 ? 's' : ''}: name it with ${embedders.map((e) => (e === 'http' ? '--embedder-url URL' : '--embedder-model DIR')).join(' or ')}`);
  }
  if (name === undefined) return undefined;
  if (name === 'none') return null;
  if (!embedderNames().includes(name)) throw new CliError(`unknown embedder '${name}' (known: ${embedderNames().join(', ')}, none)`);
  if (name === 'transformers' && !opts.embedderModel) throw new CliError('--embedder transformers needs --embedder-model DIR (a local ONNX model directory)');
  if (name === 'http' && !opts.embedderUrl?.length) throw new CliError('--embedder http needs --embedder-url URL (an OpenAI-compatible /v1 endpoint)');
  const spec: EmbedderSpec = { name };
  if (opts.embedderModel) spec.model = resolve(opts.embedderModel);
  if (opts.embedderUrl) spec.urls = opts.embedderUrl;
  if (opts.embedderRemoteModel) spec.remoteModel = opts.embedderRemoteModel;
  if (opts.device) spec.device = opts.device;
  if (opts.dtype) spec.dtype = opts.dtype;
  if (opts.queryPrefix) spec.queryPrefix = opts.queryPrefix;
  if (opts.documentPrefix) spec.documentPrefix = opts.documentPrefix;
  if (opts.batchSize !== undefined) spec.batchSize = parsePositiveInt(opts.batchSize, '--batch-size', 4096);
  return spec;
}

/** `--shard I/N`, refused where concurrent writers would lose commits. */
async function shardOf(opts: IndexCommandOptions, db: string): Promise<Shard | undefined> {
  if (opts.shard === undefined) return undefined;
  if (opts.finalize) throw new CliError('--shard and --finalize are separate runs: the shards first, then one --finalize');
  let shard: Shard;
  try {
    shard = parseShard(opts.shard);
  } catch (err) {
    throw new CliError(`--shard: ${(err as Error).message}`);
  }
  if (shard.count > 1 && isRemoteIndex(db) && (await probeConditionalPut(db)) === 'ignored') {
    throw new CliError(`the object store behind ${db} ignores If-None-Match on PUT, so shards writing at once would overwrite each other's commits; index with one process (no --shard) on this store`);
  }
  return shard;
}

export async function runIndex(rootArg: string, opts: IndexCommandOptions): Promise<void> {
  const root = resolve(rootArg);
  if (!opts.finalize && (!existsSync(root) || !statSync(root).isDirectory())) throw new CliError(`${rootArg} is not a directory`);
  const db = dbForIndexing(root, opts.db, process.env);
  const shard = await shardOf(opts, db);
  const threads = opts.threads === undefined ? undefined : parsePositiveInt(opts.threads, '--threads', 64);
  const embedder = embedderSpec(opts);
  if (opts.progress !== undefined && opts.progress !== 'bar' && opts.progress !== 'json') throw new CliError(`--progress must be bar or json, not '${opts.progress}'`);
  const json = opts.progress === 'json';
  const bar = !opts.quiet && !json && process.stderr.isTTY ? progressBar() : undefined;
  const onWarning = opts.quiet ? undefined : (m: string) => (bar ? bar.log(m) : process.stderr.write(json ? `${JSON.stringify({ warning: m })}\n` : `codesearch: warning: ${m}\n`));
  // One line per step: phase changes and at most ten lines a second within a phase.
  let lastPhase = '';
  let lastAt = 0;
  const onProgress = json
    ? (p: IndexProgress) => {
        const now = Date.now();
        if (p.phase === lastPhase && now - lastAt < 100 && p.done < p.total) return;
        lastPhase = p.phase;
        lastAt = now;
        process.stderr.write(`${JSON.stringify(p)}\n`);
      }
    : bar?.update;
  try {
    const s = opts.finalize
      ? await finalizeIndex({ db, embedder, retrain: opts.retrain, onWarning, onProgress })
      : await indexRepo({ root, db, threads, embedder, retrain: opts.retrain, shard, onWarning, onProgress });
    bar?.stop();
    process.stdout.write(`${summaryLine(s)}\n`);
  } catch (err) {
    bar?.stop();
    if (err instanceof IndexLockedError || err instanceof EmbedderError || err instanceof IndexFormatError) throw new CliError(err.message);
    throw storageError(err, db) ?? err;
  }
}

/** The one line an index run ends with. */
export function summaryLine(s: IndexSummary): string {
  return (
    `indexed ${s.files} files (${s.parsed} parsed, ${s.added} new, ${s.changed} changed, ${s.removed} removed), ` +
    `${s.chunks} chunks, ${s.lines} lines, ${s.skipped} skipped, ${s.filesWithErrors} with syntax errors, ` +
    `${s.embedder ? `${s.embedded} embedded (${s.embedder})` : 'no vectors'}, ${s.seconds.toFixed(1)}s`
  );
}

function progressBar() {
  // A MultiBar can print warnings above the bar without breaking it.
  const bars = new cliProgress.MultiBar(
    { format: 'indexing [{bar}] {value}/{total} files | {rate} files/s | ETA {eta}s', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let bar: cliProgress.SingleBar | undefined;
  let embedBar: cliProgress.SingleBar | undefined;
  const t0 = Date.now();
  return {
    update(p: IndexProgress) {
      if (p.phase === 'parse') {
        bar ??= bars.create(p.total, 0, { rate: 0 });
        bar.update(p.done, { rate: Math.round(p.done / Math.max(0.001, (Date.now() - t0) / 1000)) });
      } else if (p.phase === 'train' && p.done === 0) {
        bars.log('codesearch: learning the static embedding model from the corpus\n');
      } else if (p.phase === 'embed' && p.total > 0) {
        embedBar ??= bars.create(p.total, 0, {}, { format: 'embedding [{bar}] {value}/{total} chunks | ETA {eta}s' });
        embedBar.update(p.done);
      }
    },
    log(message: string) {
      bars.log(`codesearch: warning: ${message}\n`);
    },
    stop() {
      bars.stop();
    },
  };
}
