// `codesearch search QUERY` / `codesearch "QUERY"` and `--batch FILE`.
import { readFile } from 'node:fs/promises';
import picocolors from 'picocolors';
import { Searcher, MAX_K, SearchModeError, warningCollector, type Pairing, type SearchMode, type SearchOptions, type SearchResult, type SearcherOptions } from '../../server/search.js';
import { EmbedderError } from '../../indexer/embed/embedder.js';
import { IndexMissingError } from '../../indexer/store.js';
import { describeStoreError } from '../../indexer/location.js';
import { CliError, EXIT_NO_INDEX } from '../errors.js';
import { dbForQuerying, parsePositiveInt } from '../config.js';

export interface SearchCommandOptions {
  db?: string;
  k: string;
  json?: boolean;
  batch?: string;
  mode?: SearchMode;
  explain?: boolean;
  pairs?: Pairing;
}

export async function runSearch(words: string[], opts: SearchCommandOptions): Promise<void> {
  const k = parsePositiveInt(opts.k, '-k', MAX_K);
  const query = words.join(' ').trim();
  if (!opts.batch && !query) throw new CliError("empty query: try codesearch \"how do I split a string\" or codesearch search List.concat_map");
  if (opts.batch && query) throw new CliError('give either a QUERY or --batch FILE, not both');
  const db = dbForQuerying(opts.db, process.env, process.cwd());
  const searcher = await openSearcher(db);
  try {
    const options: SearchOptions = { k, mode: opts.mode, explain: opts.explain, pairs: opts.pairs, onWarning: warnOnce() };
    if (opts.batch) await runBatch(searcher, opts.batch, options);
    else {
      const results = await searcher.search(query, options);
      process.stdout.write(opts.json ? JSON.stringify({ results }) + '\n' : formatHuman(results));
    }
  } catch (err) {
    if (err instanceof SearchModeError || err instanceof EmbedderError) throw new CliError(err.message);
    throw err;
  } finally {
    searcher.close();
  }
}

/** Prints each distinct warning once on stderr (a batch of searches without vectors says so once). */
export function warnOnce(): (message: string) => void {
  return warningCollector((message) => process.stderr.write(`codesearch: warning: ${message}\n`)).onWarning;
}

/** Opens the index for queries; a missing or unreadable index is exit status 2 with one line. */
export async function openSearcher(db: string, options: SearcherOptions = {}): Promise<Searcher> {
  try {
    return await Searcher.open(db, options);
  } catch (err) {
    if (err instanceof IndexMissingError) throw new CliError(`${err.message}; run 'codesearch index ROOT' first`, EXIT_NO_INDEX);
    const store = describeStoreError(err, db);
    if (store) throw new CliError(store, EXIT_NO_INDEX);
    throw new CliError(`cannot read the index at ${db}: ${(err as Error).message.split('\n')[0]}`, EXIT_NO_INDEX);
  }
}

/** One output line per input line, in order; a bad line gets an `error` instead of failing the batch. */
async function runBatch(searcher: Searcher, file: string, options: SearchOptions): Promise<void> {
  const text = await readInput(file, '--batch');
  for (const [n, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let id: unknown = null;
    try {
      const input = JSON.parse(line) as { id?: unknown; query?: unknown };
      id = input.id ?? null;
      if (typeof input.query !== 'string' || !input.query.trim()) throw new Error('"query" must be a non-empty string');
      const results = await searcher.search(input.query, options);
      process.stdout.write(JSON.stringify({ id, results }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ id, results: [], error: `line ${n + 1}: ${(err as Error).message}` }) + '\n');
      process.exitCode = 1;
    }
  }
}

/** A file's text, or standard input for `-`; an unreadable file is a usage error naming the flag. */
export async function readInput(file: string, flag: string): Promise<string> {
  if (file === '-') return readStdin();
  return readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${flag} file ${file}: ${e.code ?? e.message}`);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// Colour only on a terminal and never with NO_COLOR (picocolors alone also colours pipes under CI).
const pc = picocolors.createColors(Boolean(process.stdout.isTTY) && !('NO_COLOR' in process.env));

export function formatHuman(results: SearchResult[]): string {
  if (results.length === 0) return 'no results\n';
  return results
    .map((r) => {
      const head = `${pc.cyan(`${r.path}:${r.startLine}-${r.endLine}`)}  ${pc.bold(r.symbol)}  ${pc.dim(r.kind)}`;
      const snippet = r.snippet
        .split('\n')
        .map((l) => `    ${pc.dim(l.length > 120 ? l.slice(0, 117) + '...' : l)}`)
        .join('\n');
      const explain = r.explain ? `\n    ${pc.dim(`score ${r.score} = ${r.explain.map((p) => `${p.signal} ${p.points}`).join(' + ')}`)}` : '';
      return `${head}\n${snippet}${explain}\n`;
    })
    .join('\n');
}
